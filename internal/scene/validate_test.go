package scene

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

func TestValidate(t *testing.T) {
	proj := mapProject(map[string]string{
		"good.tscn": solarScene,
		"part.tscn": partScene,
		"uses_part.tscn": `[gd_scene format=3]
[ext_resource type="PackedScene" path="res://part.tscn" id="1"]
[node name="Main" type="Node3D"]
[node name="P" parent="." instance=ExtResource("1")]
`,
		"syntax.tscn":  "[gd_scene format=3]\n[node name=\"A\"]\nx = Vector3(1, 2\n",
		"invalid.tscn": "[gd_scene format=3]\n[node name=\"A\" type=\"Node3D\"]\nmetadata/mass = -1.0\nmetadata/radius = -2.0\n",
		"cycle.tscn":   "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://cycle.tscn\" id=\"1\"]\n[node name=\"A\" type=\"Node3D\"]\n[node name=\"B\" parent=\".\" instance=ExtResource(\"1\")]\n",
	})

	t.Run("valid scene", func(t *testing.T) {
		r, err := proj.Validate("res://good.tscn")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Valid || len(r.Errors) != 0 {
			t.Fatalf("valid = %v, errors %v", r.Valid, r.Errors)
		}
		info := r.Info
		if info.Name != "good" || info.RootName != "System" || info.RootType != "Node3D" || info.NodeCount != 11 ||
			info.SubResources != 2 || len(info.Bodies) != 4 || !info.HasPlayer || info.Player != "Ship" || info.Epoch != 129600 {
			t.Errorf("info = %+v", info)
		}
	})
	t.Run("instances listed", func(t *testing.T) {
		r, err := proj.Validate("uses_part.tscn")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Valid || len(r.Info.Instances) != 1 || r.Info.Instances[0] != "res://part.tscn" || r.Info.Bodies[0] != "P" {
			t.Errorf("result = %+v", r)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		r, err := proj.Validate("res://syntax.tscn")
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid || len(r.Errors) != 1 || r.Errors[0].Line != 4 || r.Errors[0].Column != 1 || r.Errors[0].File != "res://syntax.tscn" {
			t.Errorf("result = %+v", r)
		}
	})
	t.Run("every validation error", func(t *testing.T) {
		r, err := proj.Validate("res://invalid.tscn")
		if err != nil {
			t.Fatal(err)
		}
		if r.Valid || len(r.Errors) != 2 || r.Errors[0].Property != "metadata/mass" || r.Errors[1].Property != "metadata/radius" || r.Errors[1].Line != 4 {
			t.Errorf("errors = %+v", r.Errors)
		}
	})
	t.Run("cycle", func(t *testing.T) {
		r, err := proj.Validate("res://cycle.tscn")
		if err != nil || r.Valid || !strings.Contains(r.Errors[0].Message, "instance cycle") {
			t.Errorf("result = %+v, %v", r, err)
		}
	})
	t.Run("path errors are errors", func(t *testing.T) {
		for path, want := range map[string]error{
			"res://missing.tscn": ErrNotFound,
			"res://../x.tscn":    ErrForbiddenPath,
			"res://x.txt":        ErrInvalidPath,
		} {
			if _, err := proj.Validate(path); !errors.Is(err, want) {
				t.Errorf("Validate(%q) error = %v, want %v", path, err, want)
			}
		}
	})
	t.Run("source", func(t *testing.T) {
		r, err := proj.ValidateSource("res://new.tscn", []byte(strings.Replace(partScene, "metadata/mass = 10.0", "metadata/mass = 0", 1)))
		if err != nil || r.Valid || r.Errors[0].Property != "metadata/mass" {
			t.Errorf("result = %+v, %v", r, err)
		}
	})
	t.Run("json names", func(t *testing.T) {
		r, _ := proj.Validate("res://syntax.tscn")
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"valid", "errors", "warnings", "scene_info"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON lacks %q: %s", k, data)
			}
		}
		e := m["errors"].([]any)[0].(map[string]any)
		if e["line"] != 4.0 || e["column"] != 1.0 || e["message"] == nil {
			t.Errorf("error JSON = %v", e)
		}
		info := m["scene_info"].(map[string]any)
		for _, k := range []string{"node_count", "bodies", "particles", "has_player", "ext_resources"} {
			if _, ok := info[k]; !ok {
				t.Errorf("scene_info lacks %q: %v", k, info)
			}
		}
	})
}

func TestValidateFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"proj/main.tscn":      "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://parts/p.tscn\" id=\"1\"]\n[node name=\"M\" type=\"Node3D\"]\n[node name=\"P\" parent=\".\" instance=ExtResource(\"1\")]\n",
		"proj/parts/p.tscn":   partScene,
		"elsewhere/uses.tscn": "[gd_scene format=3]\n[ext_resource type=\"PackedScene\" path=\"res://parts/p.tscn\" id=\"1\"]\n[node name=\"U\" type=\"Node3D\"]\n[node name=\"P\" parent=\".\" instance=ExtResource(\"1\")]\n",
		"elsewhere/bad.tscn":  "[gd_scene format=3]\n[node name=\"U\" type=\"Node3D\"]\nx = \n",
	})
	proj := filepath.Join(dir, "proj")
	tests := []struct {
		name, file, project string
		valid               bool
		wantErr             error
	}{
		{"inside the project", filepath.Join(proj, "main.tscn"), proj, true, nil},
		{"the file's own directory", filepath.Join(proj, "parts", "p.tscn"), "", true, nil},
		{"outside the project", filepath.Join(dir, "elsewhere", "uses.tscn"), proj, true, nil},
		{"outside without the project", filepath.Join(dir, "elsewhere", "uses.tscn"), "", false, nil},
		{"syntax error", filepath.Join(dir, "elsewhere", "bad.tscn"), "", false, nil},
		{"missing file", filepath.Join(dir, "nope.tscn"), proj, false, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ValidateFile(tt.file, tt.project)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ValidateFile = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid != tt.valid {
				t.Errorf("valid = %v, want %v; errors %v", r.Valid, tt.valid, r.Errors)
			}
		})
	}
}

func TestLoadSpec(t *testing.T) {
	proj := mapProject(map[string]string{"good.tscn": solarScene, "bad.tscn": "[gd_scene format=3]\n[node name=\"A\"]\nmetadata/gm = -1\n"})
	spec, rep, err := proj.LoadSpec("res://good.tscn")
	if err != nil || len(spec.Bodies) != 4 || rep.Player == nil {
		t.Fatalf("LoadSpec = %v, %v, %v", spec, rep, err)
	}
	if _, _, err := proj.LoadSpec("res://bad.tscn"); !errors.Is(err, ErrInvalidScene) || !strings.Contains(err.Error(), "metadata/gm") {
		t.Errorf("LoadSpec(bad) = %v", err)
	}
}

// contentProject returns the sample project, or skips when it is absent.
func contentProject(t testing.TB) *Project {
	t.Helper()
	if _, err := os.Stat(filepath.Join(contentDir, "vr_main.tscn")); err != nil {
		t.Skipf("no sample content: %v", err)
	}
	return NewProject("content", os.DirFS(contentDir))
}

func TestGoldenContent(t *testing.T) {
	proj := contentProject(t)
	list, err := proj.List()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, res := range list {
		fmt.Fprintf(&b, "== %s\n", res)
		r, err := proj.Validate(res)
		if err != nil {
			fmt.Fprintf(&b, "  error: %v\n", err)
			continue
		}
		fmt.Fprintf(&b, "  valid %v, %d nodes, root %s (%s)\n", r.Valid, r.Info.NodeCount, r.Info.RootName, r.Info.RootType)
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  error: %s\n", e)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", w)
		}
		if !r.Valid {
			continue
		}
		spec, _, err := proj.LoadSpec(res)
		if err != nil {
			t.Fatalf("%s validates but does not load: %v", res, err)
		}
		fmt.Fprintf(&b, "  epoch %v, c %v, time scale %v\n", spec.Epoch, spec.SpeedOfLight, spec.TimeScale)
		for _, bs := range spec.Bodies {
			fmt.Fprintf(&b, "  body %s: gm %v, radius %v, pos %v, vel %v\n", bs.Name, bs.GM, bs.Radius, bs.Pos, bs.Vel)
		}
		if p := spec.Player; p != nil {
			fmt.Fprintf(&b, "  player %s: pos %v, vel %v, attitude %.12f, mass %v, thrust %v, radius %v\n",
				p.Name, p.Pos, p.Vel, []float64{p.Attitude.W, p.Attitude.X, p.Attitude.Y, p.Attitude.Z}, p.Mass, p.MaxThrust, p.Radius)
		}
		for _, g := range spec.Particles.Groups {
			var sx, sv float64
			for i := g.Start; i < g.Start+g.Count; i++ {
				sx += spec.Particles.X[i] + spec.Particles.Y[i] + spec.Particles.Z[i]
				sv += spec.Particles.VX[i] + spec.Particles.VY[i] + spec.Particles.VZ[i]
			}
			fmt.Fprintf(&b, "  belt %s: %d particles, first (%.9g, %.9g, %.9g), position sum %.9g, velocity sum %.9g\n",
				g.Name, g.Count, spec.Particles.X[g.Start], spec.Particles.Y[g.Start], spec.Particles.Z[g.Start], sx, sv)
		}
	}
	checkGolden(t, "content.golden", b.String())
}

// TestContentMapping checks the sample scenes against the figures their
// README promises, so that the content's and this package's readings of
// the format agree.
func TestContentMapping(t *testing.T) {
	proj := contentProject(t)
	load := func(t *testing.T, res string) *engine.Spec {
		t.Helper()
		spec, _, err := proj.LoadSpec(res)
		if err != nil {
			t.Fatalf("LoadSpec(%s): %v", res, err)
		}
		return spec
	}
	near := func(got, want engine.Vec3, tol float64) bool {
		d := math.Sqrt((got.X-want.X)*(got.X-want.X) + (got.Y-want.Y)*(got.Y-want.Y) + (got.Z-want.Z)*(got.Z-want.Z))
		return d <= tol
	}
	t.Run("vr_main", func(t *testing.T) {
		spec := load(t, "res://vr_main.tscn")
		if len(spec.Bodies) != 10 || spec.Player == nil || spec.Particles.Len() != 20000 {
			t.Fatalf("%d bodies, player %v, %d particles", len(spec.Bodies), spec.Player, spec.Particles.Len())
		}
		earth := body(t, spec, "Earth")
		// The player is in a 400 km orbit: 6,771 km from the Earth, 7672.6 m/s relative.
		p := spec.Player
		r := math.Sqrt(math.Pow(p.Pos.X-earth.Pos.X, 2) + math.Pow(p.Pos.Y-earth.Pos.Y, 2) + math.Pow(p.Pos.Z-earth.Pos.Z, 2))
		v := math.Sqrt(math.Pow(p.Vel.X-earth.Vel.X, 2) + math.Pow(p.Vel.Y-earth.Vel.Y, 2) + math.Pow(p.Vel.Z-earth.Vel.Z, 2))
		if math.Abs(r-6.771e6) > 1 || math.Abs(v-7672.6) > 0.1 {
			t.Errorf("player %v m from the Earth at %v m/s", r, v)
		}
	})
	t.Run("debug", func(t *testing.T) {
		spec := load(t, "res://tests/debug.tscn")
		planet := body(t, spec, "Planet")
		if planet.GM != 1e14 || planet.Radius != 500000 || planet.Vel != (engine.Vec3{}) {
			t.Errorf("Planet = %+v, want gm 1e14 and the SphereMesh radius 500000", planet)
		}
		if p := spec.Player; p == nil || p.Pos != (engine.Vec3{X: 1e6}) || p.Vel != (engine.Vec3{Y: 10000}) {
			t.Errorf("player = %+v", spec.Player)
		}
	})
	t.Run("relativity", func(t *testing.T) {
		if spec := load(t, "res://tests/integration/relativity.tscn"); spec.SpeedOfLight != 1000 {
			t.Errorf("c = %v", spec.SpeedOfLight)
		}
	})
	t.Run("belt", func(t *testing.T) {
		spec := load(t, "res://tests/integration/belt.tscn")
		if spec.Particles.Len() != 1000 || len(spec.Particles.Groups) != 1 {
			t.Errorf("particles %d, groups %v", spec.Particles.Len(), spec.Particles.Groups)
		}
	})
	t.Run("instancing", func(t *testing.T) {
		spec := load(t, "res://tests/integration/instancing.tscn")
		want := map[string]engine.Vec3{
			"PlanetA": {X: 1.495978707e11},
			"PlanetB": {Y: -2.2439680605e11},
			"PlanetC": {Y: 3.7399467675e11},
		}
		for name, pos := range want {
			b := body(t, spec, name)
			if !near(b.Pos, pos, 1e3) || !relClose(b.GM, engine.G*5.972e24, 1e-12) || b.Radius != 6.371e6 {
				t.Errorf("%s = %+v, want at %v with the part's GM and radius", name, b, pos)
			}
		}
	})
	t.Run("broken", func(t *testing.T) {
		tests := []struct {
			res       string
			line, col int
			msg       string
		}{
			{"res://tests/broken/malformed.tscn", 15, 18, "unterminated string"},
			{"res://tests/broken/unclosed_call.tscn", 7, 1, "expected ',' or ')'"},
			{"res://tests/broken/cycle_a.tscn", 0, 0, "res://tests/broken/cycle_a.tscn -> res://tests/broken/cycle_b.tscn -> res://tests/broken/cycle_a.tscn"},
			{"res://tests/broken/missing_instance.tscn", 7, 0, "res://tests/broken/does_not_exist.tscn not found"},
		}
		for _, tt := range tests {
			r, err := proj.Validate(tt.res)
			if err != nil || r.Valid || len(r.Errors) != 1 {
				t.Errorf("%s: %+v, %v", tt.res, r, err)
				continue
			}
			e := r.Errors[0]
			if tt.line != 0 && e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("%s: error %+v, want %d:%d %q", tt.res, e, tt.line, tt.col, tt.msg)
			}
		}
		if _, err := proj.Validate("res://tests/broken/not_a_scene.txt"); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("not_a_scene.txt: %v, want ErrInvalidPath", err)
		}
	})
}
