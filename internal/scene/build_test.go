package scene

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// buildScene loads src as res://main.tscn of a project holding only it
// and builds it.
func buildScene(t *testing.T, src string) (*engine.Spec, *BuildReport, error) {
	t.Helper()
	tree, err := mapProject(map[string]string{"main.tscn": src}).Load("res://main.tscn")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return Build(tree)
}

func mustBuild(t *testing.T, src string) (*engine.Spec, *BuildReport) {
	t.Helper()
	spec, rep, err := buildScene(t, src)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return spec, rep
}

func body(t *testing.T, spec *engine.Spec, name string) engine.BodySpec {
	t.Helper()
	for _, b := range spec.Bodies {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no body %q in %+v", name, spec.Bodies)
	return engine.BodySpec{}
}

func relClose(got, want, tol float64) bool {
	if want == 0 {
		return math.Abs(got) <= tol
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

const solarScene = `[gd_scene format=3]

[sub_resource type="SphereMesh" id="big"]
radius = 2.0
height = 4.0

[sub_resource type="SphereMesh" id="default"]

[node name="System" type="Node3D"]
metadata/epoch_jd = 2451546.5
metadata/speed_of_light = 1000.0
metadata/time_scale = 60

[node name="Sun" type="Node3D" parent="."]
metadata/gm = 1.32712440018e+20
metadata/radius = 6.957e+08

[node name="Mesh" type="MeshInstance3D" parent="Sun"]
mesh = SubResource("big")

[node name="Orbit" type="Node3D" parent="."]
transform = Transform3D(1, 0, 0, 0, 1, 0, 0, 0, 1, 1e+11, 0, 0)

[node name="Earth" type="Node3D" parent="Orbit"]
position = Vector3(0, 5, 0)
scale = Vector3(2, 2, 2)
metadata/mass = 5.972e+24
metadata/velocity = Vector3(0, 29780, 0)

[node name="Mesh" type="MeshInstance3D" parent="Orbit/Earth"]
scale = Vector3(3, 3, 3)
mesh = SubResource("big")

[node name="Moon" type="MeshInstance3D" parent="."]
mesh = SubResource("default")
metadata/gm = 4.9e+12
metadata/velocity = Vector3i(1, 2, 3)

[node name="Rock" type="Node3D" parent="."]
metadata/gm = 1.0

[node name="Light" type="DirectionalLight3D" parent="."]
metadata/note = "kept"

[node name="Ship" type="XROrigin3D" parent="."]
transform = Transform3D(0, 0, 1, 0, 1, 0, -1, 0, 0, 7, 8, 9)
metadata/velocity = Vector3(1, 0, 0)
metadata/ship_mass = 20000.0
metadata/max_thrust = 2e5
metadata/hull_radius = 20

[node name="Camera" type="XRCamera3D" parent="Ship"]
`

func TestBuildBodiesAndPlayer(t *testing.T) {
	spec, rep := mustBuild(t, solarScene)

	if spec.Name != "main" || spec.Path != "res://main.tscn" {
		t.Errorf("name, path = %q, %q", spec.Name, spec.Path)
	}
	if spec.Epoch != 1.5*86400 || spec.SpeedOfLight != 1000 || spec.TimeScale != 60 {
		t.Errorf("epoch %v, c %v, time scale %v; want 129600, 1000, 60", spec.Epoch, spec.SpeedOfLight, spec.TimeScale)
	}
	var names []string
	for _, b := range spec.Bodies {
		names = append(names, b.Name)
	}
	if want := []string{"Sun", "Earth", "Moon", "Rock"}; !slices.Equal(names, want) {
		t.Fatalf("bodies = %q, want %q", names, want)
	}

	sun := body(t, spec, "Sun")
	if sun.GM != 1.32712440018e20 || sun.Radius != 6.957e8 || sun.Pos != (engine.Vec3{}) {
		t.Errorf("Sun = %+v (metadata/radius must win over the mesh)", sun)
	}
	earth := body(t, spec, "Earth")
	if earth.GM != engine.G*5.972e24 {
		t.Errorf("Earth GM = %v, want G·mass = %v", earth.GM, engine.G*5.972e24)
	}
	if earth.Radius != 2*2*3 {
		t.Errorf("Earth radius = %v, want SphereMesh 2 × scale 2 × child scale 3 = 12", earth.Radius)
	}
	if earth.Pos != (engine.Vec3{X: 1e11, Y: 5, Z: 0}) || earth.Vel != (engine.Vec3{Y: 29780}) {
		t.Errorf("Earth pos %v vel %v", earth.Pos, earth.Vel)
	}
	moon := body(t, spec, "Moon")
	if moon.Radius != 0.5 || moon.Vel != (engine.Vec3{X: 1, Y: 2, Z: 3}) {
		t.Errorf("Moon = %+v, want the default SphereMesh radius 0.5 on the node itself", moon)
	}
	if rock := body(t, spec, "Rock"); rock.Radius != 0 {
		t.Errorf("Rock radius = %v, want 0 (point mass)", rock.Radius)
	}

	p := spec.Player
	if p == nil {
		t.Fatal("no player")
	}
	if p.Name != "Ship" || p.Pos != (engine.Vec3{X: 7, Y: 8, Z: 9}) || p.Vel != (engine.Vec3{X: 1}) {
		t.Errorf("player = %+v", p)
	}
	if p.Mass != 20000 || p.MaxThrust != 2e5 || p.Radius != 20 {
		t.Errorf("player mass %v thrust %v radius %v", p.Mass, p.MaxThrust, p.Radius)
	}
	// The basis turns x to -z and z to x: +90° about y.
	s := math.Sqrt(0.5)
	if q := p.Attitude; !relClose(q.W, s, 1e-12) || !relClose(q.Y, s, 1e-12) || math.Abs(q.X) > 1e-12 || math.Abs(q.Z) > 1e-12 {
		t.Errorf("attitude = %+v, want (w %v, y %v)", q, s, s)
	}

	if rep.Player == nil || rep.Player.Node != "System/Ship" {
		t.Errorf("report player = %+v", rep.Player)
	}
	if got := rep.Bodies[1]; got.RadiusFrom != "SphereMesh" || got.Node != "System/Orbit/Earth" {
		t.Errorf("report Earth = %+v", got)
	}
	wantIgnored := map[string]int{"MeshInstance3D": 1, "Node3D": 1, "DirectionalLight3D": 1, "XRCamera3D": 1}
	if len(rep.IgnoredTypes) != len(wantIgnored) {
		t.Errorf("ignored types = %v, want %v", rep.IgnoredTypes, wantIgnored)
	}
	for k, v := range wantIgnored {
		if rep.IgnoredTypes[k] != v {
			t.Errorf("ignored %s = %d, want %d (all: %v)", k, rep.IgnoredTypes[k], v, rep.IgnoredTypes)
		}
	}
	if !slices.Contains(rep.IgnoredMetadata, "System/Light: metadata/note") {
		t.Errorf("ignored metadata = %q", rep.IgnoredMetadata)
	}
	if !hasWarning(rep, "point mass") {
		t.Errorf("no point-mass warning: %v", rep.Warnings)
	}
}

func hasWarning(rep *BuildReport, sub string) bool {
	for _, w := range rep.Warnings {
		if strings.Contains(w.Message, sub) {
			return true
		}
	}
	return false
}

func TestBuildDefaultsAndWarnings(t *testing.T) {
	spec, rep := mustBuild(t, `[gd_scene format=3]
[node name="Root" type="Node3D"]
[node name="A" type="Node3D" parent="."]
metadata/gm = 1.0
metadata/mass = 5.0
metadata/belt_seed = 3
[node name="B" type="Node3D" parent="A"]
metadata/gm = 2.0
[node name="B" type="Node3D" parent="."]
metadata/gm = 3.0
metadata/epoch_jd = 2451545.0
[node name="P1" type="XROrigin3D" parent="."]
metadata/mass = 70.0
[node name="P2" type="XROrigin3D" parent="."]
`)
	if spec.Epoch != 0 || spec.SpeedOfLight != engine.SpeedOfLight || spec.TimeScale != 1 {
		t.Errorf("defaults: epoch %v, c %v, scale %v", spec.Epoch, spec.SpeedOfLight, spec.TimeScale)
	}
	if a := spec.Bodies[0]; a.GM != 1 {
		t.Errorf("A GM = %v, want metadata/gm (1) over mass", a.GM)
	}
	if len(spec.Bodies) != 3 {
		t.Fatalf("bodies = %+v, want A and two Bs (the XROrigin3D is not a body)", spec.Bodies)
	}
	if spec.Bodies[1].Name != "Root/A/B" || spec.Bodies[2].Name != "Root/B" {
		t.Errorf("duplicate names = %q, %q; want the node paths", spec.Bodies[1].Name, spec.Bodies[2].Name)
	}
	if spec.Player == nil || spec.Player.Name != "P1" || spec.Player.Mass != 0 {
		t.Errorf("player = %+v, want P1 with the default mass", spec.Player)
	}
	for _, want := range []string{
		"both metadata/gm and metadata/mass",
		"is not unique",
		"XROrigin3D is never a massive body",
		"second XROrigin3D ignored",
		"metadata/belt_seed ignored",
		"metadata/epoch_jd ignored",
	} {
		if !hasWarning(rep, want) {
			t.Errorf("no warning containing %q in %v", want, rep.Warnings)
		}
	}

	_, rep = mustBuild(t, "[gd_scene format=3]\n[node name=\"Empty\" type=\"Node3D\"]\n")
	if !hasWarning(rep, "no player spawn") || !hasWarning(rep, "no massive bodies") {
		t.Errorf("warnings for an empty scene = %v", rep.Warnings)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		props string // properties of node "Thing" (child of the root)
		root  string // properties of the root
		want  []SceneError
	}{
		{"negative mass", "metadata/mass = -5.0", "", []SceneError{{Node: "Root/Thing", Property: "metadata/mass", Line: 5, Msg: "must be positive"}}},
		{"zero gm", "metadata/gm = 0", "", []SceneError{{Node: "Root/Thing", Property: "metadata/gm", Msg: "must be positive"}}},
		{"gm not a number", `metadata/gm = "big"`, "", []SceneError{{Property: "metadata/gm", Msg: "must be a number, not String"}}},
		{"infinite gm", "metadata/gm = inf", "", []SceneError{{Property: "metadata/gm", Msg: "must be finite"}}},
		{"negative radius", "metadata/gm = 1.0\nmetadata/radius = -1.0", "", []SceneError{{Property: "metadata/radius", Msg: "zero or positive"}}},
		{"velocity not a vector", "metadata/gm = 1.0\nmetadata/velocity = 5", "", []SceneError{{Property: "metadata/velocity", Msg: "must be a Vector3"}}},
		{"non-finite position", "metadata/gm = 1.0\nposition = Vector3(nan, 0, 0)", "", []SceneError{{Property: "transform", Msg: "not finite"}}},
		{"belt inner beyond outer", "metadata/belt_count = 10\nmetadata/belt_inner = 5.0\nmetadata/belt_outer = 2.0", "metadata/gm = 1.0",
			[]SceneError{{Node: "Root/Thing", Property: "metadata/belt_inner", Line: 6, Msg: "greater than belt_outer"}}},
		{"belt count over the cap", "metadata/belt_count = 2000001\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_count", Msg: "between 0 and 2000000"}}},
		{"negative belt count", "metadata/belt_count = -1\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_count", Msg: "between 0 and"}}},
		{"fractional belt count", "metadata/belt_count = 1.5\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_count", Msg: "must be an integer"}}},
		{"belt without radii", "metadata/belt_count = 3", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_inner", Msg: "is required"}, {Property: "metadata/belt_outer", Msg: "is required"}}},
		{"belt without bodies", "metadata/belt_count = 3\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0", "",
			[]SceneError{{Property: "metadata/belt_count", Msg: "scene has none"}}},
		{"belt centre missing", "metadata/belt_count = 3\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0\nmetadata/belt_center = NodePath(\"../Nope\")", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_center", Msg: `no node at "../Nope"`}}},
		{"belt centre not a body", "metadata/belt_count = 3\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0\nmetadata/belt_center = NodePath(\"..\")", "",
			[]SceneError{{Property: "metadata/belt_center", Msg: "Root is not a massive body"}}},
		{"belt eccentricity of one", "metadata/belt_count = 3\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0\nmetadata/belt_max_eccentricity = 1.0", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_max_eccentricity", Msg: "[0, 1)"}}},
		{"belt inclination over 180", "metadata/belt_count = 3\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0\nmetadata/belt_max_inclination_deg = 181", "metadata/gm = 1.0",
			[]SceneError{{Property: "metadata/belt_max_inclination_deg", Msg: "between 0 and 180"}}},
		{"speed of light negative", "", "metadata/speed_of_light = -3.0", []SceneError{{Node: "Root", Property: "metadata/speed_of_light", Msg: "must be positive"}}},
		{"time scale zero", "", "metadata/time_scale = 0", []SceneError{{Node: "Root", Property: "metadata/time_scale", Msg: "must be positive"}}},
		{"epoch not a number", "", `metadata/epoch_jd = "today"`, []SceneError{{Node: "Root", Property: "metadata/epoch_jd", Msg: "must be a number"}}},
		{"ship mass zero", "", "", nil},
		{"several at once", "metadata/mass = -1.0\nmetadata/velocity = \"fast\"", "metadata/time_scale = -1",
			[]SceneError{{Property: "metadata/time_scale"}, {Property: "metadata/mass"}, {Property: "metadata/velocity"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[gd_scene format=3]\n[node name=\"Root\" type=\"Node3D\"]\n" + tt.root +
				"\n[node name=\"Thing\" type=\"Node3D\" parent=\".\"]\n" + tt.props + "\n"
			if tt.name == "ship mass zero" {
				src = "[gd_scene format=3]\n[node name=\"Root\" type=\"Node3D\"]\n[node name=\"Thing\" type=\"XROrigin3D\" parent=\".\"]\nmetadata/ship_mass = 0\n"
				tt.want = []SceneError{{Node: "Root/Thing", Property: "metadata/ship_mass", Line: 4, Msg: "must be positive"}}
			}
			spec, rep, err := buildScene(t, src)
			if err == nil {
				t.Fatalf("Build succeeded: %+v", spec)
			}
			if spec != nil || rep == nil {
				t.Errorf("spec %v, report %v: want no spec and a report", spec, rep)
			}
			if !errors.Is(err, ErrInvalidScene) {
				t.Errorf("error does not match ErrInvalidScene: %v", err)
			}
			got := issuesOf(err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				g := got[i]
				if w.Node != "" && g.Node != w.Node || g.Property != w.Property || w.Line != 0 && g.Line != w.Line ||
					!strings.Contains(g.Message, w.Msg) || g.File != "res://main.tscn" {
					t.Errorf("error %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestBuildParticleLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("[gd_scene format=3]\n[node name=\"Root\" type=\"Node3D\"]\nmetadata/gm = 1.0\n")
	for _, name := range []string{"A", "B", "C"} {
		b.WriteString("[node name=\"" + name + "\" type=\"Node3D\" parent=\".\"]\nmetadata/belt_count = 700000\nmetadata/belt_inner = 1.0\nmetadata/belt_outer = 2.0\n")
	}
	_, _, err := buildScene(t, b.String())
	if err == nil || !strings.Contains(err.Error(), "2100000 particles in all") {
		t.Fatalf("Build = %v, want the total particle limit", err)
	}
}

const beltScene = `[gd_scene format=3]
[node name="Root" type="Node3D"]
[node name="Star" type="Node3D" parent="."]
position = Vector3(1e9, -2e9, 3e8)
metadata/gm = 1.32712440018e+20
metadata/radius = 1.0
metadata/velocity = Vector3(100, 200, -300)
[node name="Other" type="Node3D" parent="."]
metadata/gm = 1e10
[node name="Belt" type="Node3D" parent="Other"]
metadata/belt_count = 2000
metadata/belt_inner = 3e11
metadata/belt_outer = 4.5e11
metadata/belt_center = NodePath("../../Star")
metadata/belt_seed = SEED
metadata/belt_max_inclination_deg = 20.0
metadata/belt_max_eccentricity = 0.2
[node name="Small" type="Node3D" parent="."]
metadata/belt_count = 5
metadata/belt_inner = 1e9
metadata/belt_outer = 1e9
`

func TestBuildBelt(t *testing.T) {
	build := func(seed string) *engine.Spec {
		spec, rep := mustBuild(t, strings.Replace(beltScene, "SEED", seed, 1))
		if len(rep.Belts) != 2 || rep.Particles != 2005 {
			t.Fatalf("belts %+v, particles %d", rep.Belts, rep.Particles)
		}
		return spec
	}
	a, again, other := build("42"), build("42"), build("43")
	ps := a.Particles
	if ps.Len() != 2005 || len(ps.VZ) != 2005 {
		t.Fatalf("particles = %d", ps.Len())
	}
	wantGroups := []engine.ParticleGroup{{Name: "Belt", Start: 0, Count: 2000}, {Name: "Small", Start: 2000, Count: 5}}
	if !slices.Equal(ps.Groups, wantGroups) {
		t.Errorf("groups = %+v, want %+v", ps.Groups, wantGroups)
	}
	for _, arr := range [][2][]float64{{ps.X, again.Particles.X}, {ps.VY, again.Particles.VY}} {
		if !slices.Equal(arr[0], arr[1]) {
			t.Fatal("same seed gave different particles")
		}
	}
	if slices.Equal(ps.X[:2000], other.Particles.X[:2000]) {
		t.Error("different seeds gave the same particles")
	}
	if !slices.Equal(ps.X[2000:], other.Particles.X[2000:]) {
		t.Error("the seed of one belt changed another belt")
	}

	// Every particle of Belt is on a bound Kepler orbit about the Star with
	// a, e and i in the requested ranges.
	star := body(t, a, "Star")
	gm := star.GM
	maxI := 20 * math.Pi / 180
	for k := range 2000 {
		r := Vector3{ps.X[k] - star.Pos.X, ps.Y[k] - star.Pos.Y, ps.Z[k] - star.Pos.Z}
		v := Vector3{ps.VX[k] - star.Vel.X, ps.VY[k] - star.Vel.Y, ps.VZ[k] - star.Vel.Z}
		energy := v.Dot(v)/2 - gm/r.Length()
		if energy >= 0 {
			t.Fatalf("particle %d is unbound: energy %g", k, energy)
		}
		sma := -gm / (2 * energy)
		if sma < 3e11*(1-1e-9) || sma > 4.5e11*(1+1e-9) {
			t.Fatalf("particle %d: a = %g outside [3e11, 4.5e11]", k, sma)
		}
		h := r.Cross(v)
		ecc := v.Cross(h).Scale(1 / gm).Sub(r.Scale(1 / r.Length()))
		if e := ecc.Length(); e > 0.2+1e-9 {
			t.Fatalf("particle %d: e = %g > 0.2", k, e)
		}
		if inc := math.Acos(h.Z / h.Length()); inc > maxI+1e-9 {
			t.Fatalf("particle %d: inclination %g > %g", k, inc, maxI)
		}
	}
	// The small belt defaults to the first body (Star), e ≤ 0.1, i ≤ 10°.
	for k := 2000; k < 2005; k++ {
		r := Vector3{ps.X[k] - star.Pos.X, ps.Y[k] - star.Pos.Y, ps.Z[k] - star.Pos.Z}
		if d := r.Length(); d < 1e9*0.9*(1-1e-9) || d > 1e9*1.1*(1+1e-9) {
			t.Errorf("small belt particle %d at %g m from the Star, want within a(1±e)", k, d)
		}
	}
}

func TestBeltGenerateMatchesDocumentedDraws(t *testing.T) {
	// Generate draws a, e, i, Ω, ω, M in that order from PCG(seed,
	// BeltStream); with e = 0 and i = 0 the particle sits at radius a at
	// angle Ω+ω+M in the x-y plane.
	bt := Belt{Count: 1, Seed: 9, Inner: 2, Outer: 4, GM: 1}
	x, y, z, vx, vy, vz := make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1), make([]float64, 1)
	bt.Generate(x, y, z, vx, vy, vz)
	u := pcgFloats(9, 6)
	a := 2 + 2*u[0]
	angle := 2 * math.Pi * (u[3] + u[4] + u[5])
	if !relClose(x[0], a*math.Cos(angle), 1e-9) || !relClose(y[0], a*math.Sin(angle), 1e-9) || z[0] != 0 {
		t.Errorf("particle at (%v, %v, %v), want a=%v at angle %v", x[0], y[0], z[0], a, angle)
	}
	speed := math.Hypot(vx[0], vy[0])
	if !relClose(speed, math.Sqrt(1/a), 1e-12) {
		t.Errorf("speed %v, want circular sqrt(GM/a) = %v", speed, math.Sqrt(1/a))
	}
}

func TestSolveKepler(t *testing.T) {
	for _, e := range []float64{0, 0.1, 0.5, 0.9, 0.99} {
		for _, m := range []float64{0, 0.1, 1, math.Pi, 4, 6.2} {
			E := solveKepler(m, e)
			if r := E - e*math.Sin(E) - m; math.Abs(r) > 1e-12 {
				t.Errorf("e=%v M=%v: residual %g", e, m, r)
			}
		}
	}
}

// pcgFloats returns the first n Float64 draws of the documented belt
// generator for seed.
func pcgFloats(seed int64, n int) []float64 {
	rng := rand.New(rand.NewPCG(uint64(seed), BeltStream))
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.Float64()
	}
	return out
}

func TestBuildWithoutTree(t *testing.T) {
	for name, tree := range map[string]*Tree{"nil tree": nil, "empty tree": {}} {
		if _, _, err := Build(tree); !errors.Is(err, ErrInvalidScene) {
			t.Errorf("%s: Build = %v, want ErrInvalidScene", name, err)
		}
	}
}
