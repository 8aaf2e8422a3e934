package scene

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// mapProject builds a project from scene texts keyed by path (no res://).
func mapProject(files map[string]string) *Project {
	fsys := fstest.MapFS{}
	for name, src := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return NewProject("test", fsys)
}

func mustLoad(t *testing.T, proj *Project, path string) *Tree {
	t.Helper()
	tree, err := proj.Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return tree
}

func nodePaths(tree *Tree) []string {
	var out []string
	tree.Walk(func(n *Node) bool { out = append(out, n.Path); return true })
	return out
}

const partScene = `[gd_scene format=3]

[sub_resource type="SphereMesh" id="S"]
radius = 2.0

[node name="Part" type="Node3D"]
transform = Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0)
metadata/mass = 10.0
metadata/color = "red"

[node name="Mesh" type="MeshInstance3D" parent="."]
mesh = SubResource("S")

[node name="Inner" type="Node3D" parent="Mesh"]
`

func TestLoadInstancing(t *testing.T) {
	proj := mapProject(map[string]string{
		"parts/part.tscn": partScene,
		"main.tscn": `[gd_scene format=3]

[ext_resource type="PackedScene" path="res://parts/part.tscn" id="1_part"]
[ext_resource type="PackedScene" path="parts/part.tscn" id="2_rel"]

[node name="Main" type="Node3D"]

[node name="A" parent="." instance=ExtResource("1_part")]
metadata/mass = 20.0

[node name="Group" type="Node3D" parent="."]
position = Vector3(0, 100, 0)

[node name="B" parent="Group" instance=ExtResource("2_rel")]
transform = Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 5)

[node name="Extra" type="Node3D" parent="A/Mesh"]

[node name="Inner" parent="A/Mesh" groups=["tagged"]]
visible = false

[node name="First" type="Node3D" parent="." index="0"]
`,
	})
	tree := mustLoad(t, proj, "res://main.tscn")

	want := []string{"Main", "Main/First", "Main/A", "Main/A/Mesh", "Main/A/Mesh/Inner", "Main/A/Mesh/Extra",
		"Main/Group", "Main/Group/B", "Main/Group/B/Mesh", "Main/Group/B/Mesh/Inner"}
	if got := nodePaths(tree); !slices.Equal(got, want) {
		t.Errorf("paths = %q\nwant %q", got, want)
	}
	if tree.Len() != len(want) || len(tree.Nodes()) != len(want) {
		t.Errorf("Len = %d, Nodes = %d, want %d", tree.Len(), len(tree.Nodes()), len(want))
	}
	if len(tree.Files) != 2 {
		t.Errorf("files = %d, want 2 (main and the part, read once)", len(tree.Files))
	}

	a := tree.Find("Main/A")
	if a == nil || a.Type != "Node3D" || a.Instance != "res://parts/part.tscn" || !a.Inlined || a.File != "res://main.tscn" {
		t.Fatalf("A = %+v", a)
	}
	if m, _ := a.Prop("metadata/mass"); m.String() != "20.0" {
		t.Errorf("A mass = %v, want the override 20.0", m)
	}
	if c, _ := a.Prop("metadata/color"); c.String() != `"red"` {
		t.Errorf("A color = %v, want the instanced scene's value", c)
	}
	if m, _ := tree.Find("Group/B").Prop("metadata/mass"); m.String() != "10.0" {
		t.Errorf("B mass = %v, want the instanced value 10.0", m)
	}
	// The instanced scene's sub_resource is resolved in its own file.
	r, ok := tree.Find("A/Mesh").Resource("mesh")
	if !ok || r.Type != "SphereMesh" {
		t.Fatalf("A/Mesh mesh = %+v, %v", r, ok)
	}
	inner := tree.Find("A/Mesh/Inner")
	if v, _ := inner.Prop("visible"); v.String() != "false" || !slices.Equal(inner.Groups, []string{"tagged"}) {
		t.Errorf("override of an inherited node: visible %v, groups %v", v, inner.Groups)
	}
	if other := tree.Find("Group/B/Mesh/Inner"); len(other.Props) != 0 {
		t.Errorf("the override leaked into the other instance: %v", other.Props)
	}

	// Global transforms compose through the parents.
	tests := []struct {
		path string
		want Vector3
	}{
		{"Main/A", Vector3{1, 0, 0}},
		{"Main/A/Mesh", Vector3{1, 0, 0}},
		{"Main/Group/B", Vector3{0, 100, 5}},
		{"Main/Group/B/Mesh/Inner", Vector3{0, 100, 5}},
	}
	for _, tt := range tests {
		if got := tree.Find(tt.path).Global().Origin; got != tt.want {
			t.Errorf("%s global origin = %v, want %v", tt.path, got, tt.want)
		}
	}
	if n := tree.Find("A").Get("../Group/B"); n == nil || n.Path != "Main/Group/B" {
		t.Errorf(`Get("../Group/B") = %v`, n)
	}
	if tree.Find("Nope") != nil || tree.Find("A").Get("/root/Main") != nil {
		t.Error("Find of a missing node is not nil")
	}
	types := tree.Types()
	if types["MeshInstance3D"] != 2 || types["Node3D"] != 8 {
		t.Errorf("Types = %v", types)
	}
}

func TestLoadInheritedScene(t *testing.T) {
	proj := mapProject(map[string]string{
		"base.tscn": partScene,
		"derived.tscn": `[gd_scene format=3]
[ext_resource type="PackedScene" path="res://base.tscn" id="1"]
[node name="Derived" instance=ExtResource("1")]
metadata/mass = 99.0
[node name="Mesh" parent="."]
visible = false
`,
	})
	tree := mustLoad(t, proj, "res://derived.tscn")
	if tree.Root.Name != "Derived" || tree.Root.Type != "Node3D" || tree.Len() != 3 {
		t.Fatalf("root %q %q, %d nodes", tree.Root.Name, tree.Root.Type, tree.Len())
	}
	if m, _ := tree.Root.Prop("metadata/mass"); m.String() != "99.0" {
		t.Errorf("mass = %v", m)
	}
	if v, _ := tree.Find("Mesh").Prop("visible"); v.String() != "false" {
		t.Errorf("Mesh visible = %v", v)
	}
}

func TestLoadLeafInstancesAndPlaceholders(t *testing.T) {
	proj := mapProject(map[string]string{
		"main.tscn": `[gd_scene format=3]
[ext_resource type="PackedScene" path="res://model.glb" id="1"]
[ext_resource type="PackedScene" path="res://part.tscn" id="2"]
[node name="Main" type="Node3D"]
[node name="Model" parent="." instance=ExtResource("1")]
[node name="Bone" type="Marker3D" parent="Model/Skeleton/Skeleton3D"]
[node name="Part" parent="." instance=ExtResource("2")]
[node name="Late" type="Node3D" parent="Part/Missing"]
`,
		"part.tscn": partScene,
	})
	tree := mustLoad(t, proj, "res://main.tscn")
	model := tree.Find("Model")
	if model == nil || model.Inlined || model.Instance != "res://model.glb" || model.Type != "" {
		t.Fatalf("Model = %+v", model)
	}
	sk := tree.Find("Model/Skeleton/Skeleton3D")
	if sk == nil || !sk.Placeholder {
		t.Fatalf("placeholder = %+v", sk)
	}
	if b := tree.Find("Model/Skeleton/Skeleton3D/Bone"); b == nil || b.Type != "Marker3D" {
		t.Errorf("Bone = %+v", b)
	}
	var msgs []string
	for _, w := range tree.Warnings {
		msgs = append(msgs, w.Message)
	}
	joined := strings.Join(msgs, "\n")
	if !strings.Contains(joined, "res://model.glb kept as a leaf") {
		t.Errorf("no warning about the leaf instance: %q", msgs)
	}
	if !strings.Contains(joined, `parent "Part/Missing" is not in the instanced scene`) {
		t.Errorf("no warning about the missing node of an inlined instance: %q", msgs)
	}
	if strings.Contains(joined, "Skeleton") {
		t.Errorf("placeholders under a leaf instance warned: %q", msgs)
	}
}

func TestLoadErrors(t *testing.T) {
	chain := func(n int) map[string]string {
		files := map[string]string{}
		for i := range n {
			files[fmt.Sprintf("s%d.tscn", i)] = fmt.Sprintf(`[gd_scene format=3]
[ext_resource type="PackedScene" path="res://s%d.tscn" id="1"]
[node name="N%d" type="Node3D"]
[node name="Next" parent="." instance=ExtResource("1")]
`, i+1, i)
		}
		files[fmt.Sprintf("s%d.tscn", n)] = minimalScene
		return files
	}
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  []string // substrings of the error
	}{
		{"cycle of two", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://b.tscn\" id=\"1\"]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" parent=\".\" instance=ExtResource(\"1\")]\n",
			"b.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://a.tscn\" id=\"1\"]\n[node name=\"B\" type=\"Node3D\"]\n[node name=\"A\" parent=\".\" instance=ExtResource(\"1\")]\n",
		}, "res://a.tscn", []string{"instance cycle: res://a.tscn -> res://b.tscn -> res://a.tscn", `node "A"`, "res://b.tscn:4"}},
		{"self instance", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://a.tscn\" id=\"1\"]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"Me\" parent=\".\" instance=ExtResource(\"1\")]\n",
		}, "res://a.tscn", []string{"instance cycle: res://a.tscn -> res://a.tscn"}},
		{"too deep", chain(MaxInstanceDepth + 1), "res://s0.tscn", []string{"instances nested deeper than 16", "res://s0.tscn -> res://s1.tscn", "-> res://s16.tscn"}},
		{"missing instance", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://gone.tscn\" id=\"1\"]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"G\" parent=\".\" instance=ExtResource(\"1\")]\n",
		}, "res://a.tscn", []string{"instanced scene res://gone.tscn not found", "res://a.tscn:4"}},
		{"instance of a script", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"Script\" path=\"res://a.gd\" id=\"1\"]\n[node name=\"A\" instance=ExtResource(\"1\")]\n",
		}, "res://a.tscn", []string{"not a PackedScene"}},
		{"instance path escapes", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://../x.tscn\" id=\"1\"]\n[node name=\"A\" instance=ExtResource(\"1\")]\n",
		}, "res://a.tscn", []string{"instance res://../x.tscn", "forbidden path"}},
		{"syntax error in an instanced scene", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://b.tscn\" id=\"1\"]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" parent=\".\" instance=ExtResource(\"1\")]\n",
			"b.tscn": "[gd_scene format=3]\n[node name=\"B\"]\nx = [1\n",
		}, "res://a.tscn", []string{"res://b.tscn:4:1", "unterminated array"}},
		{"parent not found", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" type=\"Node3D\" parent=\"X/Y\"]\n",
		}, "res://a.tscn", []string{`parent "X" not found`, "res://a.tscn:3"}},
		{"duplicate node", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" type=\"Node3D\" parent=\".\"]\n[node name=\"B\" type=\"Node3D\" parent=\".\"]\n",
		}, "res://a.tscn", []string{"duplicate node"}},
		{"malformed parent path", map[string]string{
			"a.tscn": "[gd_scene format=3]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" type=\"Node3D\" parent=\"../x\"]\n",
		}, "res://a.tscn", []string{"malformed parent path"}},
		{"scene without nodes", map[string]string{"a.tscn": "[gd_scene format=3]\n"}, "res://a.tscn", []string{"no nodes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapProject(tt.files).Load(tt.path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalidScene) {
				t.Errorf("errors.Is(err, ErrInvalidScene) = false for %v", err)
			}
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbiddenPath) {
				t.Errorf("an error inside the scene matched a path sentinel: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNodeLimit(t *testing.T) {
	// Each level instances the next one four times: 4^9 > MaxNodes.
	files := map[string]string{}
	for i := range 9 {
		var b strings.Builder
		fmt.Fprintf(&b, "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://l%d.tscn\" id=\"1\"]\n[node name=\"R\" type=\"Node3D\"]\n", i+1)
		for j := range 4 {
			fmt.Fprintf(&b, "[node name=\"C%d\" parent=\".\" instance=ExtResource(\"1\")]\n", j)
		}
		files[fmt.Sprintf("l%d.tscn", i)] = b.String()
	}
	files["l9.tscn"] = minimalScene
	_, err := mapProject(files).Load("res://l0.tscn")
	if !errors.Is(err, ErrInvalidScene) || !strings.Contains(err.Error(), "more than 200000 nodes") {
		t.Fatalf("Load = %v, want the node limit", err)
	}
}

func TestLocalTransform(t *testing.T) {
	const eps = 1e-12
	tests := []struct {
		name       string
		props      string
		wantOrigin Vector3
		wantX      Vector3 // image of the local x axis
		wantZ      Vector3 // image of the local z axis
	}{
		{"identity", "", Vector3{}, Vector3{1, 0, 0}, Vector3{0, 0, 1}},
		{"transform", "transform = Transform3D(0, -1, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3)", Vector3{1, 2, 3}, Vector3{0, 1, 0}, Vector3{0, 0, 1}},
		{"position", "position = Vector3(4, 5, 6)", Vector3{4, 5, 6}, Vector3{1, 0, 0}, Vector3{0, 0, 1}},
		{"rotation about y", "rotation = Vector3(0, 1.5707963267948966, 0)", Vector3{}, Vector3{0, 0, -1}, Vector3{1, 0, 0}},
		{"rotation degrees", "rotation_degrees = Vector3(0, 0, 90)", Vector3{}, Vector3{0, 1, 0}, Vector3{0, 0, 1}},
		{"scale then rotation keeps scale", "scale = Vector3(2, 2, 2)\nrotation = Vector3(0, 0, 1.5707963267948966)", Vector3{}, Vector3{0, 2, 0}, Vector3{0, 0, 2}},
		{"rotation then scale keeps rotation", "rotation = Vector3(0, 0, 1.5707963267948966)\nscale = Vector3(3, 1, 1)", Vector3{}, Vector3{0, 3, 0}, Vector3{0, 0, 1}},
		{"quaternion", "quaternion = Quaternion(0, 0, 0.7071067811865476, 0.7071067811865476)", Vector3{}, Vector3{0, 1, 0}, Vector3{0, 0, 1}},
		{"transform then position", "transform = Transform3D(2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 1, 1)\nposition = Vector3(9, 9, 9)", Vector3{9, 9, 9}, Vector3{2, 0, 0}, Vector3{0, 0, 2}},
		{"basis", "basis = Basis(1, 0, 0, 0, 0, -1, 0, 1, 0)", Vector3{}, Vector3{1, 0, 0}, Vector3{0, -1, 0}},
		{"2D position ignored", "position = Vector2(4, 5)", Vector3{}, Vector3{1, 0, 0}, Vector3{0, 0, 1}},
		{"euler order XYZ", "rotation_order = 0\nrotation = Vector3(1.5707963267948966, 1.5707963267948966, 0)", Vector3{}, Vector3{0, 1, 0}, Vector3{1, 0, 0}},
		{"euler order YXZ (default)", "rotation = Vector3(1.5707963267948966, 1.5707963267948966, 0)", Vector3{}, Vector3{0, 0, -1}, Vector3{0, -1, 0}},
	}
	near := func(a, b Vector3) bool {
		return math.Abs(a.X-b.X) < eps && math.Abs(a.Y-b.Y) < eps && math.Abs(a.Z-b.Z) < eps
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[gd_scene format=3]\n[node name=\"N\" type=\"Node3D\"]\n" + tt.props + "\n"
			f, err := Parse("t.tscn", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			n := &Node{Props: f.Nodes[0].Props}
			got := n.Local()
			if !near(got.Origin, tt.wantOrigin) || !near(got.Basis.Column(0), tt.wantX) || !near(got.Basis.Column(2), tt.wantZ) {
				t.Errorf("Local = %+v; want origin %v, x %v, z %v", got, tt.wantOrigin, tt.wantX, tt.wantZ)
			}
		})
	}
}

func TestGlobalTopLevel(t *testing.T) {
	proj := mapProject(map[string]string{"a.tscn": `[gd_scene format=3]
[node name="A" type="Node3D"]
position = Vector3(10, 0, 0)
[node name="B" type="Node3D" parent="."]
position = Vector3(1, 0, 0)
[node name="C" type="Node3D" parent="B"]
position = Vector3(0, 1, 0)
top_level = true
[node name="D" type="Node3D" parent="B/C"]
position = Vector3(0, 0, 1)
`})
	tree := mustLoad(t, proj, "res://a.tscn")
	for path, want := range map[string]Vector3{"A/B": {11, 0, 0}, "A/B/C": {0, 1, 0}, "A/B/C/D": {0, 1, 1}} {
		if got := tree.Find(path).Global().Origin; got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}

func TestQuaternionRoundTrip(t *testing.T) {
	for _, e := range []Vector3{{0, 0, 0}, {0.3, -1.2, 2.0}, {3.1, 0.1, -0.2}, {-1.5, 1.5, 3}} {
		b := BasisFromEuler(e, EulerYXZ)
		q := b.Quaternion()
		back := q.Basis()
		for i := range 3 {
			d := back.Rows[i].Sub(b.Rows[i])
			if d.Length() > 1e-12 {
				t.Errorf("euler %v: basis → quaternion → basis differs in row %d by %g", e, i, d.Length())
			}
		}
		if n := math.Sqrt(q.X*q.X + q.Y*q.Y + q.Z*q.Z + q.W*q.W); math.Abs(n-1) > 1e-12 {
			t.Errorf("euler %v: |q| = %v", e, n)
		}
	}
}
