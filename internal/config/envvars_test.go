package config

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	configfiles "github.com/spacetime-vr/spacetime/config"
)

// TestEnvVarsAreWhatLoadReads checks EnvVars against what Load really
// asks its getenv for: the same names, no more and no fewer.
func TestEnvVarsAreWhatLoadReads(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]bool{}
	getenv := func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		asked[k] = true
		return ""
	}
	if _, err := Load(Options{Getenv: getenv, Embedded: configfiles.FS, WorkDir: t.TempDir()}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for k := range asked {
		got = append(got, k)
	}
	slices.Sort(got)
	if want := EnvVars(); !slices.Equal(got, want) {
		t.Errorf("Load reads %v\nEnvVars lists %v", got, want)
	}
	if !slices.IsSorted(EnvVars()) {
		t.Errorf("EnvVars is not sorted: %v", EnvVars())
	}
}

// TestEnvVarsTakeEffect sets each listed variable alone and checks the
// Config records it as the source of a value: a listed name that Load
// reads but ignores would pass the test above and fail here.
func TestEnvVarsTakeEffect(t *testing.T) {
	values := map[string]string{
		"GODOT_ENV":             "test",
		"GODOT_ENABLE_HTTP_API": "true",
		"GODOT_LOG_LEVEL":       "DEBUG",
		"DB_PORT":               "5433",
		"DB_SSLMODE":            "disable",
		"REDIS_PORT":            "6380",
		"REDIS_DB":              "1",
	}
	for _, name := range EnvVars() {
		t.Run(name, func(t *testing.T) {
			v, ok := values[name]
			if !ok {
				v = "value-for-" + strings.ToLower(name)
			}
			c := mustLoad(t, map[string]string{name: v}, Flags{})
			for _, s := range c.Sources {
				if s.Origin == "env "+name {
					return
				}
			}
			t.Errorf("%s=%q set no configuration value (sources: %v)", name, v, c.Sources)
		})
	}
}

// TestEnvVarsCoverSource reads this package's code and checks every
// variable name it passes as a literal to getenv, set (applyEnv's helper)
// or os.Getenv/os.LookupEnv is listed by EnvVars. Only getenv may take a
// name that is not a literal (set forwards its own).
func TestEnvVarsCoverSource(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, n := range EnvVars() {
		listed[n] = true
	}
	found := 0
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 || !readsEnv(call.Fun) {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				// applyEnv's set forwards its name to getenv; the set
				// calls carry the literals. Anything else is unchecked.
				if id, isIdent := call.Fun.(*ast.Ident); !isIdent || id.Name != "getenv" {
					t.Errorf("%s: environment read with a non-literal name", fset.Position(call.Pos()))
				}
				return true
			}
			name, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			found++
			if !listed[name] {
				t.Errorf("%s: reads %s, which EnvVars does not list", fset.Position(call.Pos()), name)
			}
			return true
		})
	}
	if found < len(EnvVars()) {
		t.Errorf("found %d environment reads in the source, want at least %d (one per listed name)", found, len(EnvVars()))
	}
}

// readsEnv reports whether fun is getenv, set, os.Getenv or os.LookupEnv.
func readsEnv(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name == "getenv" || f.Name == "set"
	case *ast.SelectorExpr:
		pkg, ok := f.X.(*ast.Ident)
		return ok && pkg.Name == "os" && (f.Sel.Name == "Getenv" || f.Sel.Name == "LookupEnv")
	}
	return false
}
