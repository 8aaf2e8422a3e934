package engine

import (
	"math"
	"testing"
)

// close reports whether got is within rel (relative) of want.
func closeTo(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300)
}

func TestThrust(t *testing.T) {
	tests := []struct {
		name     string
		attitude Quat
		throttle Vec3
		wantDir  Vec3 // world direction of the acceleration
	}{
		{"forward", QuatIdentity, Vec3{0, 0, -1}, Vec3{0, 0, -1}},
		{"up half", QuatIdentity, Vec3{0, 0.5, 0}, Vec3{0, 0.5, 0}},
		// Turned 90° left (about +Y), forward (-Z) points along -X.
		{"turned", QuatFromAxisAngle(Vec3{Y: 1}, math.Pi/2), Vec3{0, 0, -1}, Vec3{-1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const mass, thrust = 100.0, 1000.0 // 10 m/s² at full throttle
			spec := &Spec{Player: &PlayerSpec{Name: "ship", Attitude: tt.attitude, Mass: mass, MaxThrust: thrust, Vel: Vec3{3, 0, 0}}}
			w := mustWorld(t, spec, WorldOptions{})
			w.SetInput(Input{Throttle: tt.throttle})
			const ticks = 90
			for range ticks {
				w.Step()
			}
			T := float64(ticks) / DefaultPhysicsFPS
			a := tt.wantDir.Scale(thrust / mass)
			p := w.Player()
			wantV := Vec3{3, 0, 0}.Add(a.Scale(T))
			wantX := Vec3{3 * T, 0, 0}.Add(a.Scale(0.5 * T * T))
			if d := p.Vel.Sub(wantV).Norm(); d > 1e-9 {
				t.Errorf("velocity %v, want %v (F/m·t; off by %g m/s)", p.Vel, wantV, d)
			}
			if d := p.Pos.Sub(wantX).Norm(); d > 1e-9 {
				t.Errorf("position %v, want %v (½·F/m·t²; off by %g m)", p.Pos, wantX, d)
			}
		})
	}
}

func TestAttitude(t *testing.T) {
	tests := []struct {
		name string
		rate Vec3
		secs float64
	}{
		{"yaw", Vec3{0, 1, 0}, 1.5},
		{"roll", Vec3{0, 0, -2}, 1},
		{"oblique", Vec3{0.3, -0.4, 1.2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mustWorld(t, &Spec{Player: &PlayerSpec{Name: "ship"}}, WorldOptions{})
			w.SetInput(Input{Rotation: tt.rate})
			for range int(math.Round(tt.secs * DefaultPhysicsFPS)) {
				w.Step()
			}
			got := w.Player().Attitude
			want := QuatFromAxisAngle(tt.rate, tt.rate.Norm()*tt.secs)
			for _, d := range []float64{got.W - want.W, got.X - want.X, got.Y - want.Y, got.Z - want.Z} {
				if math.Abs(d) > 1e-9 {
					t.Fatalf("attitude %+v, want %+v", got, want)
				}
			}
			if n := got.W*got.W + got.X*got.X + got.Y*got.Y + got.Z*got.Z; math.Abs(n-1) > 1e-12 {
				t.Errorf("|q|² = %.15f, want 1", n)
			}
		})
	}
}

func TestClampInput(t *testing.T) {
	got := ClampInput(Input{Throttle: Vec3{2, -3, math.NaN()}, Rotation: Vec3{100, -100, 0.5}})
	want := Input{Throttle: Vec3{1, -1, 0}, Rotation: Vec3{MaxRotationRate, -MaxRotationRate, 0.5}}
	if got != want {
		t.Errorf("ClampInput = %+v, want %+v", got, want)
	}
}

// rock is a small moving body for contact tests: surface gravity 1 m/s².
var rockSpec = BodySpec{Name: "rock", GM: 1e6, Radius: 1000, Pos: Vec3{0, 0, 0}, Vel: Vec3{50, 0, 0}}

func TestLandingAndLiftOff(t *testing.T) {
	spec := &Spec{
		Bodies: []BodySpec{rockSpec},
		// 40 m above the surface (hull 10 m), falling at 2 m/s relative.
		Player: &PlayerSpec{Name: "ship", Pos: Vec3{0, 1050, 0}, Vel: Vec3{50, -2, 0}, Radius: 10},
	}
	w := mustWorld(t, spec, WorldOptions{})
	for i := 0; w.Player().Status == PlayerFlying; i++ {
		if i > 90*60 {
			t.Fatal("never touched down")
		}
		w.Step()
	}
	p := w.Player()
	if p.Status != PlayerLanded || p.Body != "rock" {
		t.Fatalf("status %s on %q, want landed on rock", p.Status, p.Body)
	}
	rel := func() Vec3 { return w.Player().Pos.Sub(w.Bodies()[0].Pos) }
	if d := rel().Norm(); !closeTo(d, 1010, 1e-12) {
		t.Errorf("landed at %g m from the centre, want 1010 (surface + hull)", d)
	}
	off := rel()
	for range 90 {
		w.Step()
	}
	if d := rel().Sub(off).Norm(); d > 1e-6 || w.Player().Status != PlayerLanded {
		t.Errorf("landed vessel drifted %g m from its spot (status %s)", d, w.Player().Status)
	}
	if dv := w.Player().Vel.Sub(w.Bodies()[0].Vel).Norm(); dv > 1e-9 {
		t.Errorf("landed vessel moves at %g m/s relative to the body", dv)
	}
	// Thrust outward weaker than surface gravity (0.6 < 1 m/s²): stays.
	w.SetInput(Input{Throttle: Vec3{0, 0.03, 0}})
	for range 90 {
		w.Step()
	}
	if p := w.Player(); p.Status != PlayerLanded {
		t.Errorf("with thrust below surface gravity: status %s, want landed", p.Status)
	}
	// Thrust up (+Y, outward here) beyond surface gravity: lift off. Net
	// 20 − 1 m/s² for one second climbs about 9.5 m.
	w.SetInput(Input{Throttle: Vec3{0, 1, 0}})
	for range 90 {
		w.Step()
	}
	if p := w.Player(); p.Status != PlayerFlying || rel().Norm() < 1018 {
		t.Errorf("after full thrust outward: status %s at %g m, want flying and climbing", p.Status, rel().Norm())
	}
}

func TestCrash(t *testing.T) {
	tests := []struct {
		name  string
		speed float64 // towards the rock, relative
		warp  float64
	}{
		{"fast", 100, 1},
		// 50 km/s at 100× warp moves 55 km per tick, past the whole rock:
		// the swept test must still catch it.
		{"tunnelling", 50e3, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &Spec{
				Bodies:    []BodySpec{rockSpec},
				TimeScale: tt.warp,
				Player:    &PlayerSpec{Name: "ship", Pos: Vec3{0, 3000, 0}, Vel: Vec3{50, -tt.speed, 0}},
			}
			w := mustWorld(t, spec, WorldOptions{})
			for range 90 * 60 {
				if w.Player().Status != PlayerFlying {
					break
				}
				w.Step()
			}
			p := w.Player()
			if p.Status != PlayerCrashed || p.Body != "rock" {
				t.Fatalf("status %s on %q, want crashed into rock", p.Status, p.Body)
			}
			if d := p.Pos.Sub(w.Bodies()[0].Pos); d.Y <= 0 {
				t.Errorf("crash site %v is not on the side the ship came from", d)
			}
			w.SetInput(Input{Throttle: Vec3{0, 1, 0}})
			for range 90 {
				w.Step()
			}
			if s := w.Player().Status; s != PlayerCrashed {
				t.Errorf("after thrust: status %s, want still crashed (thrust ignored)", s)
			}
			if err := w.Teleport(Vec3{0, 1e5, 0}); err != nil {
				t.Fatal(err)
			}
			if s := w.Player().Status; s != PlayerFlying {
				t.Errorf("after teleport: status %s, want flying", s)
			}
		})
	}
}

// TestProperTimeVelocity: far from masses, at constant speed v with c
// lowered to 1000 m/s, the vessel's clock runs slow by γ = 1/√(1−v²/c²).
func TestProperTimeVelocity(t *testing.T) {
	tests := []struct{ v float64 }{{0}, {300}, {600}, {990}}
	for _, tt := range tests {
		const c = 1000.0
		spec := &Spec{SpeedOfLight: c, TimeScale: 10, Player: &PlayerSpec{Name: "ship", Vel: Vec3{tt.v * 0.6, tt.v * 0.8, 0}}}
		w := mustWorld(t, spec, WorldOptions{})
		for range 900 {
			w.Step()
		}
		gamma := 1 / math.Sqrt(1-tt.v*tt.v/(c*c))
		p := w.Player()
		T := w.Time() - spec.Epoch
		if !closeTo(T, 100, 1e-12) {
			t.Fatalf("coordinate time %g, want 100 s", T)
		}
		if !closeTo(p.ProperTime, T/gamma, 1e-9) {
			t.Errorf("v=%g: proper time %.12g, want T/γ = %.12g", tt.v, p.ProperTime, T/gamma)
		}
		if !closeTo(p.Gamma, gamma, 1e-9) || !closeTo(p.Lorentz, gamma, 1e-9) {
			t.Errorf("v=%g: Gamma %g, Lorentz %g, want both %g", tt.v, p.Gamma, p.Lorentz, gamma)
		}
	}
}

// TestRelativisticThrust: constant thrust with a lowered c never reaches c:
// the proper velocity grows as F/m·t, so v = at/√(1+(at/c)²).
func TestRelativisticThrust(t *testing.T) {
	const c, a = 1000.0, 20.0
	spec := &Spec{SpeedOfLight: c, TimeScale: 100, Player: &PlayerSpec{Name: "ship", Mass: 1000, MaxThrust: 1000 * a}}
	w := mustWorld(t, spec, WorldOptions{})
	w.SetInput(Input{Throttle: Vec3{Z: -1}})
	for range 900 { // 1000 s: a·t = 20c
		w.Step()
	}
	at := a * (w.Time() - spec.Epoch)
	want := at / math.Sqrt(1+at*at/(c*c))
	p := w.Player()
	if p.Speed >= c || !closeTo(p.Speed, want, 1e-9) {
		t.Errorf("speed %.12g m/s, want %.12g (< c = %g)", p.Speed, want, c)
	}
}

// TestGravitationalDilation: a clock landed on a body runs slower than one
// far away, by √(1 − 2GM/(rc²)), and slower than at the same speed in
// empty space.
func TestGravitationalDilation(t *testing.T) {
	const c, gm, r = 1e5, 1e12, 1e5 // 2GM/(rc²) = 0.002
	body := BodySpec{Name: "star", GM: gm, Radius: r - 10}
	rate := func(pos Vec3) (lorentz float64, status PlayerStatus) {
		spec := &Spec{SpeedOfLight: c, Bodies: []BodySpec{body}, Player: &PlayerSpec{Name: "ship", Pos: pos, Radius: 10}}
		w := mustWorld(t, spec, WorldOptions{})
		w.Step()
		p := w.Player()
		return p.Lorentz, p.Status
	}
	surface, st := rate(Vec3{X: r})
	if st != PlayerLanded {
		t.Fatalf("vessel at the surface is %s, want landed", st)
	}
	want := 1 / math.Sqrt(1-2*gm/(r*c*c))
	if !closeTo(surface, want, 1e-9) {
		t.Errorf("Lorentz factor at the surface %.12g, want %.12g", surface, want)
	}
	far, _ := rate(Vec3{X: 100 * r})
	if !(far < surface && far > 1) {
		t.Errorf("Lorentz factor far away %.12g, want between 1 and the surface's %.12g", far, surface)
	}
}

func TestTeleportOrbit(t *testing.T) {
	spec := &Spec{Bodies: []BodySpec{{Name: "planet", GM: 4e14, Radius: 6.4e6, Vel: Vec3{0, 3e4, 0}}}, Player: &PlayerSpec{Name: "ship"}}
	w := mustWorld(t, spec, WorldOptions{})
	if err := w.TeleportOrbit("planet", 4e5); err != nil {
		t.Fatal(err)
	}
	p := w.Player()
	b := w.Bodies()[0]
	r := p.Pos.Sub(b.Pos).Norm()
	if want := 6.4e6 + 4e5 + DefaultHullRadius; !closeTo(r, want, 1e-12) {
		t.Errorf("orbit radius %g, want %g", r, want)
	}
	// A quarter orbit later the vessel is still at that radius: circular.
	period := 2 * math.Pi * math.Sqrt(r*r*r/4e14)
	w.SetTimeScale(period / 4 / 90) //nolint:errcheck // valid
	for range 90 {
		w.Step()
	}
	r2 := w.Player().Pos.Sub(w.Bodies()[0].Pos).Norm()
	if !closeTo(r2, r, 1e-4) || w.Player().Status != PlayerFlying {
		t.Errorf("after a quarter orbit: radius %g (status %s), want %g", r2, w.Player().Status, r)
	}
	for _, bad := range []string{"nowhere"} {
		if err := w.TeleportOrbit(bad, 0); err == nil {
			t.Errorf("TeleportOrbit(%q) succeeded", bad)
		}
	}
}
