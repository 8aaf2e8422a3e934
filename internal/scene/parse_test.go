package scene

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// godotScenes is the tree of real Godot demo scenes (MIT, see its LICENSE.md).
const godotScenes = "../../testdata/godot-scenes"

// contentDir is the sample project written by the content package.
const contentDir = "../../content"

func TestParseFileGood(t *testing.T) {
	src := "\ufeff" + `[gd_scene load_steps=3 format=3 uid="uid://abc"]

; a comment line
[ext_resource type="PackedScene" uid="uid://p" path="res://part.tscn" id="1_part"]
[ext_resource type="Script" path="res://main.gd" id="2_script"]

[sub_resource type="SphereMesh" id="SphereMesh_a"]
radius = 2.5
height = 5.0

[node name="Main" type="Node3D" groups=["g1", &"g2"]]
script = ExtResource("2_script")
metadata/epoch_jd = 2451545.0
"quoted key" = 1
surface_material_override/0 = null
libraries/ = {
"times": PackedFloat32Array(0, 1),
"values": [false]
}
after = "multi
line"

[node name="Part" parent="." index="0" instance=ExtResource("1_part")]
mesh = SubResource("SphereMesh_a") ; trailing comment

[connection signal="pressed" from="Part" to="." method="_on_pressed" flags=3]

[editable path="Part"]
`
	f, err := Parse("res://main.tscn", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if f.Format != 3 || f.LoadSteps != 3 || f.UID != "uid://abc" {
		t.Errorf("header = format %d, load_steps %d, uid %q", f.Format, f.LoadSteps, f.UID)
	}
	if len(f.ExtResources) != 2 || f.ExtResources[0].Path != "res://part.tscn" || f.ExtResources[0].Type != "PackedScene" {
		t.Errorf("ext resources = %+v", f.ExtResources)
	}
	sub, ok := f.Sub("SphereMesh_a")
	if !ok || sub.Type != "SphereMesh" || len(sub.Props) != 2 {
		t.Fatalf("sub resource = %+v, %v", sub, ok)
	}
	if len(f.Nodes) != 2 {
		t.Fatalf("nodes = %d, want 2", len(f.Nodes))
	}
	main, part := f.Nodes[0], f.Nodes[1]
	if main.HasParent || main.Type != "Node3D" || !slices.Equal(main.Groups, []string{"g1", "g2"}) || main.Line != 11 {
		t.Errorf("root = %+v", main)
	}
	wantKeys := []string{"script", "metadata/epoch_jd", "quoted key", "surface_material_override/0", "libraries/", "after"}
	var gotKeys []string
	for _, p := range main.Props {
		gotKeys = append(gotKeys, p.Key)
	}
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("root keys = %q, want %q", gotKeys, wantKeys)
	}
	if lib, _ := main.Props.Get("libraries/"); lib.Kind() != KindDictionary || lib.Len() != 2 {
		t.Errorf("libraries/ = %v", lib)
	}
	if after := main.Props[5]; after.Line != 20 || after.Col != 1 {
		t.Errorf("property after a multi-line value at %d:%d, want 20:1", after.Line, after.Col)
	}
	if s, _ := main.Props.Get("after"); s.String() != `"multi\nline"` {
		t.Errorf("after = %v", s)
	}
	if part.Parent != "." || part.Instance != "1_part" || part.Index != 0 || part.Line != 23 {
		t.Errorf("part = %+v", part)
	}
	if len(f.Connections) != 1 || f.Connections[0].Method != "_on_pressed" || f.Connections[0].Flags != 3 {
		t.Errorf("connections = %+v", f.Connections)
	}
	if len(f.Editables) != 1 || f.Editables[0].Path != "Part" {
		t.Errorf("editables = %+v", f.Editables)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings = %v", f.Warnings)
	}
}

func TestParseFormat2(t *testing.T) {
	src := `[gd_scene load_steps=2 format=2]

[ext_resource path="res://icon.png" type="Texture" id=1]

[node name="Root" type="Spatial"]
transform = Transform( 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3 )
texture = ExtResource( 1 )
points = PoolVector3Array( 0, 0, 0, 1, 1, 1 )
`
	f, err := Parse("old.tscn", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if f.Format != 2 || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].Message, "format=2") {
		t.Errorf("format %d, warnings %v; want 2 and one format warning", f.Format, f.Warnings)
	}
	if _, ok := f.Ext("1"); !ok {
		t.Error(`ext_resource id=1 not found as "1"`)
	}
	tr, _ := f.Nodes[0].Props.Get("transform")
	if got, ok := tr.AsTransform3D(); !ok || got.Origin != (Vector3{1, 2, 3}) {
		t.Errorf("transform = %v", tr)
	}
}

func TestParseFileBad(t *testing.T) {
	const head = "[gd_scene format=3]\n"
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"empty file", "", 1, 1, "empty file"},
		{"only comments", "; nothing\n", 2, 1, "empty file"},
		{"resource file", "[gd_resource type=\"Theme\" format=3]\n", 1, 1, "resource file"},
		{"no header", "[node name=\"A\"]\n", 1, 1, "expected a [gd_scene] header"},
		{"property before header", "a = 1\n", 1, 1, "before any section"},
		{"missing format", "[gd_scene load_steps=1]\n", 1, 1, "lacks the format"},
		{"unsupported format", "[gd_scene format=5]\n", 1, 1, "unsupported scene format 5"},
		{"format not an int", "[gd_scene format=\"3\"]\n", 1, 1, "format must be an int"},
		{"second header", head + "[gd_scene format=3]\n", 2, 1, "second [gd_scene]"},
		{"property in header", head + "x = 1\n", 2, 1, `property "x" in this section`},
		{"property without equals", head + "[node name=\"A\"]\nfoo\n", 3, 4, `expected '=' after property name "foo", found end of line`},
		{"property with space", head + "[node name=\"A\"]\nfoo bar = 1\n", 3, 1, "malformed property name"},
		{"empty property name", head + "[node name=\"A\"]\n= 1\n", 3, 1, "empty property name"},
		{"two properties on a line", head + "[node name=\"A\"]\nx = 1 y = 2\n", 3, 7, `unexpected "y" after the value of "x"`},
		{"bad value", head + "[node name=\"A\"]\nx = Vector3(1, 2\n", 4, 1, "expected ',' or ')'"},
		{"unterminated tag", head + "[node name=\"A\" type=\"Node3D\"\n", 3, 1, "unterminated [node tag"},
		{"tag without name", head + "[ = 1]\n", 2, 3, "expected a tag name"},
		{"attribute without equals", head + "[node name]\n", 2, 11, "expected '=' after attribute \"name\""},
		{"unknown section", head + "[resource]\n", 2, 1, "unknown section [resource]"},
		{"node without name", head + "[node type=\"Node3D\"]\n", 2, 1, "lacks the name attribute"},
		{"node name with slash", head + "[node name=\"a/b\"]\n", 2, 1, "invalid node name"},
		{"node name dot dot", head + "[node name=\"..\"]\n", 2, 1, "invalid node name"},
		{"root with parent", head + "[node name=\"A\" parent=\".\"]\n", 2, 1, "takes no parent"},
		{"two roots", head + "[node name=\"A\"]\n[node name=\"B\"]\n", 3, 1, "has no parent attribute"},
		{"empty parent", head + "[node name=\"A\"]\n[node name=\"B\" parent=\"\"]\n", 3, 1, "empty parent"},
		{"name not a string", head + "[node name=1]\n", 2, 1, "name must be a string"},
		{"bad index", head + "[node name=\"A\"]\n[node name=\"B\" parent=\".\" index=\"x\"]\n", 3, 1, "index must be"},
		{"bad groups", head + "[node name=\"A\" groups=[1]]\n", 2, 1, "groups must hold strings"},
		{"instance of a sub resource", head + "[sub_resource type=\"X\" id=\"s\"]\n[node name=\"A\" instance=SubResource(\"s\")]\n", 3, 1, "instance must be ExtResource"},
		{"undeclared ext resource", head + "[node name=\"A\"]\nscript = ExtResource(\"9\")\n", 3, 10, `ExtResource("9") refers to no ext_resource`},
		{"sub resource used before declared", head + "[node name=\"A\"]\nmesh = SubResource(\"m\")\n[sub_resource type=\"SphereMesh\" id=\"m\"]\n", 3, 8, `SubResource("m") refers to no sub_resource`},
		{"duplicate ext id", head + "[ext_resource type=\"Script\" path=\"res://a.gd\" id=\"1\"]\n[ext_resource type=\"Script\" path=\"res://b.gd\" id=\"1\"]\n", 3, 1, "duplicate ext_resource id"},
		{"duplicate sub id", head + "[sub_resource type=\"X\" id=\"s\"]\n[sub_resource type=\"X\" id=\"s\"]\n", 3, 1, "duplicate sub_resource id"},
		{"ext resource without path", head + "[ext_resource type=\"Script\" id=\"1\"]\n", 2, 1, "needs a path or a uid"},
		{"sub resource without type", head + "[sub_resource id=\"s\"]\n", 2, 1, "lacks the type attribute"},
		{"connection without method", head + "[node name=\"A\"]\n[connection signal=\"s\" from=\".\" to=\".\"]\n", 3, 1, "lacks the method attribute"},
		{"editable without path", head + "[node name=\"A\"]\n[editable]\n", 3, 1, "lacks the path attribute"},
		{"property after connection", head + "[node name=\"A\"]\n[connection signal=\"s\" from=\".\" to=\".\" method=\"m\"]\nx = 1\n", 4, 1, `property "x" in this section`},
		{"control character", head + "[node name=\"A\"]\nx\x01 = 1\n", 3, 2, "control character"},
		{"unterminated multi-line string", head + "[node name=\"A\"]\nx = \"abc\ndef\n", 3, 5, "unterminated string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.tscn", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%d nodes), want an error", len(f.Nodes))
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.File != "bad.tscn" {
				t.Errorf("File = %q, want bad.tscn", se.File)
			}
			if se.Line != tt.line || se.Col != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", se.Line, se.Col, tt.line, tt.col, err)
			}
			if !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", se.Msg, tt.msg)
			}
			if want := fmt.Sprintf("bad.tscn:%d:%d: ", tt.line, tt.col); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	src := make([]byte, MaxFileSize+1)
	_, err := Parse("big.tscn", src)
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "limit") {
		t.Fatalf("Parse of %d bytes: %v, want a size-limit SyntaxError", len(src), err)
	}
}

// realScenes returns the paths of the Godot demo scenes, relative to godotScenes.
func realScenes(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(godotScenes, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tscn") {
			rel, _ := filepath.Rel(godotScenes, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", godotScenes, err)
	}
	if len(out) < 50 {
		t.Fatalf("found %d scenes under %s, want the 52 demo scenes", len(out), godotScenes)
	}
	sort.Strings(out)
	return out
}

func TestParseRealScenes(t *testing.T) {
	for _, rel := range realScenes(t) {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(godotScenes, rel))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(rel, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Nodes) == 0 {
				t.Error("no nodes")
			}
			// Every property value prints back to text that parses to an
			// Equal value.
			check := func(owner string, props Props) {
				for _, p := range props {
					again, err := ParseValue(p.Value.String())
					if err != nil {
						t.Fatalf("%s %s: reparse of %q: %v", owner, p.Key, p.Value.String(), err)
					}
					if !again.Equal(p.Value) {
						t.Fatalf("%s %s: reparse differs", owner, p.Key)
					}
				}
			}
			for _, r := range f.SubResources {
				check("sub_resource "+r.ID, r.Props)
			}
			for _, n := range f.Nodes {
				check("node "+n.Name, n.Props)
			}
		})
	}
}

// demoProject opens the demo project that contains rel ("3d/csg/csg.tscn":
// project 3d/csg, scene res://csg.tscn).
func demoProject(rel string) (*Project, string) {
	parts := strings.SplitN(rel, "/", 3)
	return NewProject(parts[0]+"/"+parts[1], os.DirFS(filepath.Join(godotScenes, parts[0], parts[1]))), "res://" + parts[2]
}

func countLine(b *strings.Builder, label string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(b, "  %s:", label)
	for _, k := range keys {
		name := k
		if name == "" {
			name = `""`
		}
		fmt.Fprintf(b, " %s=%d", name, m[k])
	}
	b.WriteString("\n")
}

// summarizeFile describes a parsed file for a golden file.
func summarizeFile(b *strings.Builder, f *File) {
	props := 0
	types := map[string]int{}
	kinds := map[string]int{}
	for _, r := range f.SubResources {
		props += len(r.Props)
		for _, p := range r.Props {
			kinds[p.Value.Kind().String()]++
		}
	}
	for _, n := range f.Nodes {
		props += len(n.Props)
		types[n.Type]++
		for _, p := range n.Props {
			kinds[p.Value.Kind().String()]++
		}
	}
	fmt.Fprintf(b, "  parse: format %d, %d ext_resources, %d sub_resources, %d nodes, %d properties, %d connections, %d editables\n",
		f.Format, len(f.ExtResources), len(f.SubResources), len(f.Nodes), props, len(f.Connections), len(f.Editables))
	countLine(b, "declared types", types)
	countLine(b, "value kinds", kinds)
}

// summarizeLoad describes a load (and build) result for a golden file.
func summarizeLoad(b *strings.Builder, proj *Project, res string) {
	tree, err := proj.Load(res)
	if err != nil {
		fmt.Fprintf(b, "  load error: %v\n", err)
		return
	}
	fmt.Fprintf(b, "  load: %d nodes, %d files, %d warnings\n", tree.Len(), len(tree.Files), len(tree.Warnings))
	for _, w := range tree.Warnings {
		fmt.Fprintf(b, "    warning: %s\n", w)
	}
	spec, rep, err := Build(tree)
	if err != nil {
		fmt.Fprintf(b, "  build error: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	player := "none"
	if spec.Player != nil {
		player = rep.Player.Node
	}
	fmt.Fprintf(b, "  build: %d bodies, %d particles, player %s\n", len(spec.Bodies), spec.Particles.Len(), player)
	countLine(b, "ignored", rep.IgnoredTypes)
	if len(rep.IgnoredMetadata) > 0 {
		fmt.Fprintf(b, "  ignored metadata: %s\n", strings.Join(rep.IgnoredMetadata, ", "))
	}
}

// checkGolden compares got with testdata/golden/name, or rewrites it
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", file, i+1, g, w)
			}
		}
	}
}

func TestGoldenGodotScenes(t *testing.T) {
	var b strings.Builder
	for _, rel := range realScenes(t) {
		data, err := os.ReadFile(filepath.Join(godotScenes, rel))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s\n", rel)
		f, err := Parse(rel, data)
		if err != nil {
			fmt.Fprintf(&b, "  parse error: %v\n", err)
			continue
		}
		summarizeFile(&b, f)
		proj, res := demoProject(rel)
		summarizeLoad(&b, proj, res)
	}
	checkGolden(t, "godot-scenes.golden", b.String())
}
