package scene

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{"res path", "res://vr_main.tscn", "res://vr_main.tscn", nil},
		{"nested res path", "res://tests/integration/belt.tscn", "res://tests/integration/belt.tscn", nil},
		{"bare relative path", "scenes/menu.tscn", "res://scenes/menu.tscn", nil},
		{"dots inside a name", "res://a..b.tscn", "res://a..b.tscn", nil},
		{"unicode name", "res://ünï/cödé.tscn", "res://ünï/cödé.tscn", nil},
		{"parent segment", "res://../x.tscn", "", ErrForbiddenPath},
		{"parent segment deeper", "res://a/../../x.tscn", "", ErrForbiddenPath},
		{"parent segment that stays inside", "res://a/../x.tscn", "", ErrForbiddenPath},
		{"bare parent segment", "../x.tscn", "", ErrForbiddenPath},
		{"percent-encoded dots", "res://%2e%2e/x.tscn", "", ErrInvalidPath},
		{"absolute path", "/etc/passwd.tscn", "", ErrForbiddenPath},
		{"absolute after scheme", "res:///etc/x.tscn", "", ErrForbiddenPath},
		{"user scheme", "user://save.tscn", "", ErrForbiddenPath},
		{"file scheme", "file:///etc/x.tscn", "", ErrForbiddenPath},
		{"http scheme", "http://example.com/x.tscn", "", ErrForbiddenPath},
		{"upper-case scheme", "RES://x.tscn", "", ErrForbiddenPath},
		{"windows drive", "C:/x.tscn", "", ErrForbiddenPath},
		{"backslash", `res://a\..\x.tscn`, "", ErrInvalidPath},
		{"NUL", "res://x.tscn\x00.txt", "", ErrInvalidPath},
		{"newline", "res://x\n.tscn", "", ErrInvalidPath},
		{"empty", "", "", ErrInvalidPath},
		{"scheme only", "res://", "", ErrInvalidPath},
		{"empty segment", "res://a//x.tscn", "", ErrInvalidPath},
		{"dot segment", "res://./x.tscn", "", ErrInvalidPath},
		{"trailing slash", "res://dir/", "", ErrInvalidPath},
		{"too long", "res://" + strings.Repeat("a", MaxPathLen) + ".tscn", "", ErrInvalidPath},
		{"not a scene", "res://tests/broken/not_a_scene.txt", "", ErrInvalidPath},
		{"tres is not a scene", "res://a.tres", "", ErrInvalidPath},
		{"extension only", "res://.tscn", "", ErrInvalidPath},
		{"invalid utf-8", "res://\xff.tscn", "", ErrInvalidPath},
		{"colon in a segment", "res://a:b.tscn", "", ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %q, %v; want %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestResolveRef(t *testing.T) {
	tests := []struct {
		name, from, ref, want string
		wantErr               error
	}{
		{"absolute res path", "res://a/b.tscn", "res://c/d.tscn", "res://c/d.tscn", nil},
		{"relative to the file", "res://a/b.tscn", "c.tscn", "res://a/c.tscn", nil},
		{"relative up inside", "res://a/b/c.tscn", "../d.tscn", "res://a/d.tscn", nil},
		{"relative out of the root", "res://a/b.tscn", "../../x.tscn", "", ErrForbiddenPath},
		{"user scheme", "res://a.tscn", "user://x.tscn", "", ErrForbiddenPath},
		{"absolute file path", "res://a.tscn", "/etc/x.tscn", "", ErrForbiddenPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveRef(tt.from, tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("resolveRef(%q, %q) = %q, %v; want %v", tt.from, tt.ref, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("resolveRef(%q, %q) = %q, %v; want %q", tt.from, tt.ref, got, err, tt.want)
			}
		})
	}
}

const minimalScene = "[gd_scene format=3]\n\n[node name=\"Root\" type=\"Node3D\"]\n"

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestProjectDirSymlinks(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	writeFiles(t, tmp, map[string]string{
		"outside.tscn":        minimalScene,
		"outdir/inner.tscn":   minimalScene,
		"root/real.tscn":      minimalScene,
		"root/sub/deep.tscn":  minimalScene,
		"root/notes.txt":      "not a scene",
		"root/.godot/x.tscn":  minimalScene,
		"root/a/b/leaf.tscn":  minimalScene,
		"root/instances.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://escape.tscn\" id=\"1\"]\n[node name=\"R\" type=\"Node3D\"]\n[node name=\"E\" parent=\".\" instance=ExtResource(\"1\")]\n",
	})
	symlink(t, filepath.Join(tmp, "outside.tscn"), filepath.Join(root, "escape.tscn"))
	symlink(t, "../outside.tscn", filepath.Join(root, "escape_rel.tscn"))
	symlink(t, "../outdir", filepath.Join(root, "linkdir"))
	symlink(t, "real.tscn", filepath.Join(root, "alias.tscn"))
	symlink(t, "../../real.tscn", filepath.Join(root, "a", "b", "up.tscn"))
	symlink(t, "sub", filepath.Join(root, "subalias"))
	symlink(t, "loop2.tscn", filepath.Join(root, "loop1.tscn"))
	symlink(t, "loop1.tscn", filepath.Join(root, "loop2.tscn"))

	proj, err := OpenProject(root)
	if err != nil {
		t.Fatal(err)
	}
	defer proj.Close()

	tests := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"plain file", "res://real.tscn", nil},
		{"nested file", "res://sub/deep.tscn", nil},
		{"symlink inside the root", "res://alias.tscn", nil},
		{"symlink up but inside", "res://a/b/up.tscn", nil},
		{"directory symlink inside", "res://subalias/deep.tscn", nil},
		{"absolute symlink out of the root", "res://escape.tscn", ErrForbiddenPath},
		{"relative symlink out of the root", "res://escape_rel.tscn", ErrForbiddenPath},
		{"directory symlink out of the root", "res://linkdir/inner.tscn", ErrForbiddenPath},
		{"symlink loop", "res://loop1.tscn", ErrForbiddenPath},
		{"missing file", "res://nope.tscn", ErrNotFound},
		{"missing directory", "res://nodir/x.tscn", ErrNotFound},
		{"traversal", "res://../outside.tscn", ErrForbiddenPath},
		{"not a scene", "res://notes.txt", ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := proj.Load(tt.path)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Load(%q) = %v; want %v", tt.path, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.path, err)
			}
			if tree.Root.Name != "Root" {
				t.Errorf("root = %q", tree.Root.Name)
			}
		})
	}

	t.Run("instance through an escaping symlink is an invalid scene", func(t *testing.T) {
		_, err := proj.Load("res://instances.tscn")
		if !errors.Is(err, ErrInvalidScene) || !strings.Contains(err.Error(), "outside the project root") {
			t.Fatalf("Load = %v; want ErrInvalidScene naming the escape", err)
		}
		if errors.Is(err, ErrForbiddenPath) {
			t.Errorf("a problem inside the scene matched ErrForbiddenPath: %v", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		got, err := proj.List()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"res://a/b/leaf.tscn", "res://a/b/up.tscn", "res://alias.tscn", "res://instances.tscn",
			"res://real.tscn", "res://sub/deep.tscn"}
		if !slices.Equal(got, want) {
			t.Errorf("List = %q\nwant %q", got, want)
		}
	})

	t.Run("exists", func(t *testing.T) {
		for path, want := range map[string]bool{"res://real.tscn": true, "res://nope.tscn": false, "res://alias.tscn": true} {
			got, err := proj.Exists(path)
			if err != nil || got != want {
				t.Errorf("Exists(%q) = %v, %v; want %v", path, got, err, want)
			}
		}
		if _, err := proj.Exists("res://escape.tscn"); !errors.Is(err, ErrForbiddenPath) {
			t.Errorf("Exists(escape) error = %v, want ErrForbiddenPath", err)
		}
	})
}

func TestProjectFSSymlinks(t *testing.T) {
	fsys := fstest.MapFS{
		"real.tscn":        {Data: []byte(minimalScene)},
		"dir/x.tscn":       {Data: []byte(minimalScene)},
		"alias.tscn":       {Data: []byte("real.tscn"), Mode: os.ModeSymlink},
		"up.tscn":          {Data: []byte("../outside.tscn"), Mode: os.ModeSymlink},
		"abs.tscn":         {Data: []byte("/etc/passwd"), Mode: os.ModeSymlink},
		"dirlink":          {Data: []byte("dir"), Mode: os.ModeSymlink},
		"dir/back.tscn":    {Data: []byte("../real.tscn"), Mode: os.ModeSymlink},
		"dir/escape.tscn":  {Data: []byte("../../x.tscn"), Mode: os.ModeSymlink},
		"big.tscn":         {Data: make([]byte, MaxFileSize+1)},
		"not_a_scene.tscn": {Data: []byte("hello")},
	}
	proj := NewProject("mapfs", fsys)
	tests := []struct {
		path    string
		wantErr error
	}{
		{"res://real.tscn", nil},
		{"res://alias.tscn", nil},
		{"res://dirlink/x.tscn", nil},
		{"res://dir/back.tscn", nil},
		{"res://up.tscn", ErrForbiddenPath},
		{"res://abs.tscn", ErrForbiddenPath},
		{"res://dir/escape.tscn", ErrForbiddenPath},
		{"res://missing.tscn", ErrNotFound},
		{"res://big.tscn", ErrInvalidScene},
		{"res://not_a_scene.tscn", ErrInvalidScene},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := proj.Load(tt.path)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Load(%q): %v", tt.path, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load(%q) = %v; want %v", tt.path, err, tt.wantErr)
			}
		})
	}
}

func TestProjectReadFile(t *testing.T) {
	proj := NewProject("mapfs", fstest.MapFS{"a/notes.txt": {Data: []byte("hi")}})
	got, err := proj.ReadFile("res://a/notes.txt")
	if err != nil || string(got) != "hi" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if _, err := proj.ReadFile("res://a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadFile(directory) = %v, want ErrNotFound", err)
	}
	if _, err := proj.ReadFile("user://a/notes.txt"); !errors.Is(err, ErrForbiddenPath) {
		t.Errorf("ReadFile(user://) = %v, want ErrForbiddenPath", err)
	}
}
