package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestScalar(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "0.0"},
		{20000, "20000.0"},
		{0.15, "0.15"},
		{2451545, "2.451545e+06"},
		{299792458, "2.99792458e+08"},
		{1.32712440018e20, "1.32712440018e+20"},
		{-12.5, "-12.5"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := scalar(tt.in); got != tt.want {
				t.Errorf("scalar(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNumbersRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-10))
		for _, s := range []string{num(v), scalar(v)} {
			got, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if got != v {
				t.Fatalf("%v printed as %q reads back as %v", v, s, got)
			}
		}
	}
}

func TestTransform3DLayout(t *testing.T) {
	// Godot writes the basis row by row: a rotation of +90° about Z maps X
	// to Y, so the first row is (0, -1, 0).
	b := basis{X: vec3{0, 1, 0}, Y: vec3{-1, 0, 0}, Z: vec3{0, 0, 1}}
	got := transform3D(b, vec3{1, 2.5, -3e11})
	want := "Transform3D(0, -1, 0, 1, 0, 0, 0, 0, 1, 1, 2.5, -3e+11)"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestGodotUID(t *testing.T) {
	seen := map[string]string{}
	for _, p := range []string{"res://vr_main.tscn", "res://scenes/menu.tscn", "res://a.tscn", "res://b.tscn", ""} {
		uid := godotUID(p)
		if uid != godotUID(p) {
			t.Errorf("%q: uid not stable", p)
		}
		body, ok := strings.CutPrefix(uid, "uid://")
		if !ok || body == "" {
			t.Errorf("%q: uid %q", p, uid)
		}
		for _, c := range body {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '8') {
				t.Errorf("%q: uid %q has %q, outside Godot's alphabet", p, uid, c)
			}
		}
		if other, dup := seen[uid]; dup {
			t.Errorf("%q and %q share uid %s", p, other, uid)
		}
		seen[uid] = p
	}
}

func TestSceneText(t *testing.T) {
	s := &scene{path: "res://x.tscn"}
	ext := s.addExt("PackedScene", "res://y.tscn", "1_y")
	mesh := s.addSub("SphereMesh", "SphereMesh_a", prop{"radius", scalar(2)})
	s.addNode(node{name: "Root", typ: "Node3D", props: []prop{{"metadata/note", quote(`say "hi"`)}}})
	s.addNode(node{name: "Mesh", typ: "MeshInstance3D", parent: ".", props: []prop{{"mesh", subRef(mesh)}}})
	s.addNode(node{name: "Y", parent: ".", instance: ext})
	want := `[gd_scene load_steps=3 format=3 uid="` + godotUID("res://x.tscn") + `"]

[ext_resource type="PackedScene" uid="` + godotUID("res://y.tscn") + `" path="res://y.tscn" id="1_y"]

[sub_resource type="SphereMesh" id="SphereMesh_a"]
radius = 2.0

[node name="Root" type="Node3D"]
metadata/note = "say \"hi\""

[node name="Mesh" type="MeshInstance3D" parent="."]
mesh = SubResource("SphereMesh_a")

[node name="Y" parent="." instance=ExtResource("1_y")]
`
	if got := s.text(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	empty := &scene{path: "res://e.tscn"}
	empty.addNode(node{name: "E", typ: "Node3D"})
	if got := empty.text(); strings.Contains(got, "load_steps") {
		t.Errorf("a scene without resources has load_steps:\n%s", got)
	}
}
