package scene

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// filesEqual compares two parses of the same bytes.
func filesEqual(a, b *File) bool {
	propsEqual := func(x, y Props) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Key != y[i].Key || x[i].Line != y[i].Line || x[i].Col != y[i].Col || !x[i].Value.Equal(y[i].Value) {
				return false
			}
		}
		return true
	}
	attrsEqual := func(x, y Attrs) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Key != y[i].Key || !x[i].Value.Equal(y[i].Value) {
				return false
			}
		}
		return true
	}
	if a.Format != b.Format || a.UID != b.UID || a.LoadSteps != b.LoadSteps || !attrsEqual(a.Header, b.Header) ||
		len(a.ExtResources) != len(b.ExtResources) || len(a.SubResources) != len(b.SubResources) ||
		len(a.Nodes) != len(b.Nodes) || len(a.Connections) != len(b.Connections) || len(a.Editables) != len(b.Editables) ||
		len(a.Warnings) != len(b.Warnings) {
		return false
	}
	for i := range a.ExtResources {
		x, y := a.ExtResources[i], b.ExtResources[i]
		if x.ID != y.ID || x.Type != y.Type || x.Path != y.Path || x.UID != y.UID || x.Line != y.Line || !attrsEqual(x.Attrs, y.Attrs) {
			return false
		}
	}
	for i := range a.SubResources {
		x, y := a.SubResources[i], b.SubResources[i]
		if x.ID != y.ID || x.Type != y.Type || x.Line != y.Line || !propsEqual(x.Props, y.Props) {
			return false
		}
	}
	for i := range a.Nodes {
		x, y := a.Nodes[i], b.Nodes[i]
		if x.Name != y.Name || x.Type != y.Type || x.Parent != y.Parent || x.HasParent != y.HasParent ||
			x.Instance != y.Instance || x.Index != y.Index || x.Line != y.Line || strings.Join(x.Groups, "\x00") != strings.Join(y.Groups, "\x00") ||
			!attrsEqual(x.Attrs, y.Attrs) || !propsEqual(x.Props, y.Props) {
			return false
		}
	}
	for i := range a.Connections {
		x, y := a.Connections[i], b.Connections[i]
		if x.Signal != y.Signal || x.From != y.From || x.To != y.To || x.Method != y.Method || x.Flags != y.Flags ||
			x.Line != y.Line || !attrsEqual(x.Attrs, y.Attrs) {
			return false
		}
	}
	for i := range a.Editables {
		if *a.Editables[i] != *b.Editables[i] {
			return false
		}
	}
	return true
}

// fuzzMaxParticles keeps each fuzz execution fast.
const fuzzMaxParticles = 500

// maxSeedSize bounds the real scenes used as fuzz seeds.
const maxSeedSize = 4 << 10

func addSceneSeeds(f *testing.F) {
	for _, dir := range []string{godotScenes, contentDir} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tscn") {
				// Only the small ones: the fuzzing engine slows to a crawl
				// on inputs of tens of kilobytes.
				if data, err := os.ReadFile(p); err == nil && len(data) <= maxSeedSize {
					f.Add(data)
				}
			}
			return nil
		})
	}
}

// FuzzParse checks that Parse never panics, that errors carry a position,
// that parsing is deterministic, that every value prints back to text that
// parses to an equal value, and that loading and building never panic.
// Seeds: testdata/fuzz/FuzzParse plus every real and sample scene.
func FuzzParse(f *testing.F) {
	addSceneSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		f1, err1 := Parse("fuzz.tscn", data)
		f2, err2 := Parse("fuzz.tscn", data)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("two parses disagree: %v / %v", err1, err2)
		}
		if err1 != nil {
			var se *SyntaxError
			if !errors.As(err1, &se) {
				t.Fatalf("error is not a *SyntaxError: %T %v", err1, err1)
			}
			if se.Line < 1 || se.Col < 1 || se.File != "fuzz.tscn" {
				t.Fatalf("bad position: %+v", se)
			}
			if err1.Error() != err2.Error() {
				t.Fatalf("two parses give different errors: %v / %v", err1, err2)
			}
			return
		}
		if !filesEqual(f1, f2) {
			t.Fatal("two parses of the same bytes differ")
		}
		roundTrip := func(props Props) {
			for _, p := range props {
				text := p.Value.String()
				again, err := ParseValue(text)
				if err != nil {
					t.Fatalf("%s: value %q does not reparse: %v", p.Key, text, err)
				}
				if !again.Equal(p.Value) {
					t.Fatalf("%s: %q reparses to %q", p.Key, text, again.String())
				}
			}
		}
		for _, r := range f1.SubResources {
			roundTrip(r.Props)
		}
		for _, n := range f1.Nodes {
			roundTrip(n.Props)
		}
		proj := NewProject("fuzz", fstest.MapFS{"fuzz.tscn": &fstest.MapFile{Data: data}})
		tree, err := proj.Load("res://fuzz.tscn")
		if err != nil {
			if !errors.Is(err, ErrInvalidScene) {
				t.Fatalf("Load error does not match ErrInvalidScene: %v", err)
			}
			return
		}
		for _, n := range tree.Nodes() {
			_ = n.Global()
		}
		if _, _, err := build(tree, fuzzMaxParticles); err != nil && !errors.Is(err, ErrInvalidScene) {
			t.Fatalf("Build error does not match ErrInvalidScene: %v", err)
		}
	})
}

// FuzzResolve checks that Resolve never panics, fails only with its path
// sentinels, and returns only canonical paths inside the root.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"res://vr_main.tscn", "scenes/menu.tscn", "res://../x.tscn", "res://a/../../x.tscn",
		"res://%2e%2e/x.tscn", "/etc/passwd", "user://x.tscn", `res://a\b.tscn`, "res://a\x00.tscn",
		"res:///x.tscn", "res://./x.tscn", "res://a//b.tscn", "C:/x.tscn", "res://x.txt", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Resolve(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) && !errors.Is(err, ErrForbiddenPath) {
				t.Fatalf("Resolve(%q) error %v matches no path sentinel", s, err)
			}
			if got != "" {
				t.Fatalf("Resolve(%q) returned %q with an error", s, got)
			}
			return
		}
		rel, ok := strings.CutPrefix(got, "res://")
		if !ok || !strings.HasSuffix(rel, ".tscn") || !fs.ValidPath(rel) || path.Clean(rel) != rel ||
			strings.ContainsAny(rel, "\\%:\x00") || len(got) > MaxPathLen+len("res://") {
			t.Fatalf("Resolve(%q) = %q: not a canonical in-root path", s, got)
		}
		for seg := range strings.SplitSeq(rel, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("Resolve(%q) = %q has segment %q", s, got, seg)
			}
		}
		again, err := Resolve(got)
		if err != nil || again != got {
			t.Fatalf("Resolve is not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}
