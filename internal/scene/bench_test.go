package scene

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// syntheticScene is a stand-in for vr_main.tscn when the sample content is
// absent: ten bodies with meshes, a 20,000-particle belt and a player.
func syntheticScene() string {
	var b strings.Builder
	b.WriteString("[gd_scene format=3]\n\n[sub_resource type=\"SphereMesh\" id=\"s\"]\nradius = 1e6\n\n")
	b.WriteString("[node name=\"Main\" type=\"Node3D\"]\nmetadata/epoch_jd = 2451545.0\n\n")
	b.WriteString("[node name=\"Sun\" type=\"Node3D\" parent=\".\"]\nmetadata/gm = 1.32712440018e+20\n\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "[node name=\"P%d\" type=\"Node3D\" parent=\".\"]\ntransform = Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, %d.5e+10, 0, 0)\nmetadata/gm = 3.9e+14\nmetadata/velocity = Vector3(0, 29780, 0)\n\n", i, i)
		fmt.Fprintf(&b, "[node name=\"Mesh\" type=\"MeshInstance3D\" parent=\"P%d\"]\nmesh = SubResource(\"s\")\n\n", i)
	}
	b.WriteString("[node name=\"Belt\" type=\"Node3D\" parent=\".\"]\nmetadata/belt_count = 20000\nmetadata/belt_inner = 3.1e+11\nmetadata/belt_outer = 4.9e+11\nmetadata/belt_seed = 1\n\n")
	b.WriteString("[node name=\"Ship\" type=\"XROrigin3D\" parent=\".\"]\nposition = Vector3(1.5e+11, 7e6, 0)\n")
	return b.String()
}

// vrMain returns the project and path benchmarked: the sample content's
// vr_main.tscn, or a synthetic scene of the same shape.
func vrMain(b *testing.B) (*Project, string) {
	b.Helper()
	if _, err := os.Stat(filepath.Join(contentDir, "vr_main.tscn")); err == nil {
		return NewProject("content", os.DirFS(contentDir)), "res://vr_main.tscn"
	}
	b.Log("no sample content: benchmarking a synthetic scene")
	return mapProject(map[string]string{"vr_main.tscn": syntheticScene()}), "res://vr_main.tscn"
}

// BenchmarkLoadVRMain measures what POST /scene/load costs before the
// engine sees the spec: read, parse, instance and build vr_main.tscn.
func BenchmarkLoadVRMain(b *testing.B) {
	proj, path := vrMain(b)
	b.ReportAllocs()
	for b.Loop() {
		spec, _, err := proj.LoadSpec(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(spec.Bodies) == 0 {
			b.Fatal("no bodies")
		}
	}
}

// BenchmarkParseVRMain measures parsing alone.
func BenchmarkParseVRMain(b *testing.B) {
	proj, path := vrMain(b)
	data, err := proj.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(path, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildVRMain measures the builder alone (mostly the belt).
func BenchmarkBuildVRMain(b *testing.B) {
	proj, path := vrMain(b)
	tree, err := proj.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Build(tree); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRealScenes parses every Godot demo scene once per iteration.
func BenchmarkParseRealScenes(b *testing.B) {
	var files [][]byte
	total := 0
	for _, rel := range realScenes(b) {
		data, err := os.ReadFile(filepath.Join(godotScenes, rel))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, data)
		total += len(data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range files {
			if _, err := Parse("bench.tscn", data); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func TestSyntheticSceneBuilds(t *testing.T) {
	spec, rep := mustBuild(t, syntheticScene())
	if len(spec.Bodies) != 10 || spec.Particles.Len() != 20000 || rep.Player == nil {
		t.Fatalf("synthetic scene: %d bodies, %d particles, player %v", len(spec.Bodies), spec.Particles.Len(), rep.Player)
	}
}
