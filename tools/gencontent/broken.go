package main

import "fmt"

// brokenFile is a deliberately broken file of tests/broken/.
type brokenFile struct {
	path string
	text string
}

// Where the errors of the broken scenes are (1-based line and column, in
// bytes; the lines are ASCII). content/README.md documents the same values
// and the tests check that the files agree with them.
const (
	// malformed.tscn: the opening quote of a string that is never closed.
	// Godot strings may span lines, so it runs to the end of the file: no
	// quote may follow it, or that quote would close it.
	malformedLine, malformedCol = 15, 18
	// unclosed_call.tscn: "Vector3(0, 1000, 0" is followed by the next
	// property; the first token that can neither be ',' nor ')' starts here.
	unclosedLine, unclosedCol = 7, 1
)

// brokenFiles are the scenes under tests/broken/ that must be refused.
func brokenFiles() []brokenFile {
	const dir = "tests/broken/"
	malformed := fmt.Sprintf(`[gd_scene load_steps=2 format=3 uid=%q]

[sub_resource type="SphereMesh" id="SphereMesh_body"]
radius = 1000.0
height = 2000.0

[node name="Malformed" type="Node3D"]

[node name="Body" type="Node3D" parent="."]
metadata/gm = 1e+10
metadata/radius = 1000.0

[node name="Mesh" type="MeshInstance3D" parent="Body"]
mesh = SubResource("SphereMesh_body")
metadata/label = "this string is never closed,
so the file ends inside it
`, godotUID("res://"+dir+"malformed.tscn"))

	unclosed := fmt.Sprintf(`[gd_scene format=3 uid=%q]

[node name="UnclosedCall" type="Node3D"]

[node name="Body" type="Node3D" parent="."]
metadata/velocity = Vector3(0, 1000, 0
metadata/gm = 1e+10
metadata/radius = 1000.0
`, godotUID("res://"+dir+"unclosed_call.tscn"))

	cycle := func(self, other, root string) string {
		s := &scene{path: "res://" + dir + self}
		id := s.addExt("PackedScene", "res://"+dir+other, "1_other")
		s.addNode(node{name: root, typ: "Node3D"})
		s.addNode(node{name: "Other", parent: ".", instance: id})
		return s.text()
	}

	missing := &scene{path: "res://" + dir + "missing_instance.tscn"}
	id := missing.addExt("PackedScene", "res://"+dir+"does_not_exist.tscn", "1_missing")
	missing.addNode(node{name: "MissingInstance", typ: "Node3D"})
	missing.addNode(node{name: "Ghost", parent: ".", instance: id})

	return []brokenFile{
		{dir + "malformed.tscn", malformed},
		{dir + "unclosed_call.tscn", unclosed},
		{dir + "cycle_a.tscn", cycle("cycle_a.tscn", "cycle_b.tscn", "CycleA")},
		{dir + "cycle_b.tscn", cycle("cycle_b.tscn", "cycle_a.tscn", "CycleB")},
		{dir + "missing_instance.tscn", missing.text()},
		{dir + "not_a_scene.txt", "This is not a Godot scene. The scene loader must refuse it: it is not a .tscn file.\n"},
	}
}
