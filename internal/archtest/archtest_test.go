package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/spacetime-vr/spacetime"

// goPackage is what `go list -json` says of one package.
type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// listPackages runs go list over the whole module once.
func listPackages(t *testing.T) map[string]goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// TestDocComments fails when a package has no package comment or an
// exported name of it has no doc comment (main packages and test files
// excepted for names).
func TestDocComments(t *testing.T) {
	for path, p := range listPackages(t) {
		fset := token.NewFileSet()
		hasDoc := false
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			hasDoc = hasDoc || f.Doc != nil
			if f.Name.Name == "main" {
				continue
			}
			for _, missing := range undocumented(f) {
				t.Errorf("%s/%s: %s has no doc comment", path, name, missing)
			}
		}
		if !hasDoc {
			t.Errorf("package %s has no package comment", path)
		}
	}
}

// undocumented lists the exported names of f without a doc comment.
func undocumented(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil || !exportedRecv(d) {
				continue
			}
			out = append(out, "func "+d.Name.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && s.Doc == nil && d.Doc == nil {
						out = append(out, "type "+s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && d.Doc == nil && s.Comment == nil {
							out = append(out, n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// exportedRecv reports whether a method's receiver type is exported (a
// plain function counts as exported).
func exportedRecv(d *ast.FuncDecl) bool {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return true
	}
	typ := d.Recv.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return !ok || id.IsExported()
}

// TestDependencies keeps each layer to what it may use. imports lists the
// only packages of this module a package may import directly; forbidden
// lists what it must not depend on even indirectly.
func TestDependencies(t *testing.T) {
	rules := []struct {
		pkg       string
		imports   []string // module packages allowed as direct imports
		forbidden []string // prefixes never allowed among all dependencies
	}{
		{pkg: "internal/engine", imports: nil,
			forbidden: []string{"net/http", "database/sql", "github.com/redis/", "github.com/jackc/", "modernc.org/"}},
		{pkg: "internal/scene", imports: []string{"internal/engine"}, forbidden: []string{"net/http", "database/sql"}},
		{pkg: "internal/whitelist", imports: nil},
		{pkg: "internal/config", imports: []string{"config", "internal/whitelist"}},
		{pkg: "internal/api", imports: []string{"internal/engine", "internal/buildinfo", "internal/procstat"},
			// the API reaches security only through its own interfaces
			forbidden: []string{module + "/internal/auth", module + "/internal/ratelimit", module + "/internal/audit", "github.com/golang-jwt/"}},
		{pkg: "internal/auth", imports: []string{"internal/config"}},
		{pkg: "internal/ratelimit", imports: []string{"internal/config"}},
		{pkg: "internal/audit", imports: []string{"internal/config"}},
		{pkg: "internal/metrics", imports: []string{"internal/engine", "internal/procstat"}},
		{pkg: "internal/telemetry", imports: []string{"internal/engine", "internal/procstat"}},
		{pkg: "internal/procstat", imports: nil},
		{pkg: "internal/discovery", imports: nil},
		// the supervisor speaks to its child over HTTP only, so any runtime can be supervised
		{pkg: "internal/supervisor", imports: nil, forbidden: []string{module + "/internal/"}},
		// health judges a server as its clients see it (HTTP, the stream,
		// the beacon, the store's schema): it never imports the API or
		// security packages (the store does, for their interfaces)
		{pkg: "internal/health", imports: []string{"config", "internal/buildinfo", "internal/config", "internal/discovery",
			"internal/store", "internal/telemetry", "internal/whitelist"}},
		// the embedded web client: files only; the API gets it as an fs.FS
		{pkg: "web", imports: nil, forbidden: []string{"net/http"}},
	}
	pkgs := listPackages(t)
	for _, r := range rules {
		p, ok := pkgs[module+"/"+r.pkg]
		if !ok {
			t.Errorf("no package %s", r.pkg)
			continue
		}
		allowed := map[string]bool{}
		for _, a := range r.imports {
			allowed[module+"/"+a] = true
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") && !allowed[imp] {
				t.Errorf("%s imports %s", r.pkg, imp)
			}
		}
		for _, dep := range p.Deps {
			for _, f := range r.forbidden {
				if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("%s depends on %s", r.pkg, dep)
				}
			}
		}
	}
}
