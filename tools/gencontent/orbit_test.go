package main

import (
	"math"
	"testing"
)

func TestSolveKepler(t *testing.T) {
	tests := []struct {
		name string
		m, e float64
	}{
		{"circular", 1.234, 0},
		{"zero anomaly", 0, 0.5},
		{"earth-like", deg(-2.47), 0.0167},
		{"mercury-like", deg(174.8), 0.2056},
		{"half", 1, 0.5},
		{"near pi", math.Pi - 1e-9, 0.9},
		{"negative", -2.5, 0.7},
		{"beyond 2pi", 4*math.Pi + 0.3, 0.3},
		{"very eccentric small M", 1e-3, 0.99},
		{"very eccentric", 0.5, 0.999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := solveKepler(tt.m, tt.e)
			if err != nil {
				t.Fatalf("solveKepler: %v", err)
			}
			m := math.Remainder(tt.m, 2*math.Pi)
			if res := got - tt.e*math.Sin(got) - m; math.Abs(res) > 1e-14 {
				t.Errorf("E = %.17g: residual E - e sin E - M = %g", got, res)
			}
		})
	}
}

func TestSolveKeplerKnownValue(t *testing.T) {
	// Meeus, Astronomical Algorithms, example 30.a: e = 0.100, M = 5°
	// gives E = 5.554589° (to the printed precision).
	got, err := solveKepler(deg(5), 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if want := 5.554589; math.Abs(got*180/math.Pi-want) > 1e-6 {
		t.Errorf("E = %.9f°, want %.6f°", got*180/math.Pi, want)
	}
}

func TestSolveKeplerRejectsBadEccentricity(t *testing.T) {
	for _, e := range []float64{-0.1, 1, 1.5, math.NaN()} {
		if _, err := solveKepler(1, e); err == nil {
			t.Errorf("e = %g: no error", e)
		}
	}
}

// TestStateFromElementsConservesOrbit checks the state against the
// invariants of the orbit it came from: energy (vis-viva), angular momentum
// magnitude and direction, and the distance from the focus.
func TestStateFromElementsConservesOrbit(t *testing.T) {
	const mu = 1.32712440018e20
	const au = 149597870700.0
	tests := []struct {
		name string
		el   elements
	}{
		{"circular in plane", elements{A: au, E: 0, MeanA: 0.7}},
		{"earth", elements{A: 1.00000261 * au, E: 0.01671123, I: deg(-0.00001531), Node: 0, Peri: deg(102.93768193), MeanA: deg(100.46457166 - 102.93768193)}},
		{"mercury", elements{A: 0.387 * au, E: 0.2056, I: deg(7.005), Node: deg(48.33), Peri: deg(29.12), MeanA: deg(174.8)}},
		{"retrograde", elements{A: 3 * au, E: 0.4, I: deg(150), Node: deg(200), Peri: deg(-40), MeanA: -2}},
		{"polar at periapsis", elements{A: 2 * au, E: 0.6, I: deg(90), Node: deg(10), Peri: deg(80), MeanA: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, vel, err := stateFromElements(tt.el, mu)
			if err != nil {
				t.Fatal(err)
			}
			r, v := pos.norm(), vel.norm()
			gotEnergy := v*v/2 - mu/r
			wantEnergy := -mu / (2 * tt.el.A)
			if rel := math.Abs(gotEnergy/wantEnergy - 1); rel > 1e-12 {
				t.Errorf("energy %g, want %g (rel %g)", gotEnergy, wantEnergy, rel)
			}
			h := pos.cross(vel)
			wantH := math.Sqrt(mu * tt.el.A * (1 - tt.el.E*tt.el.E))
			if rel := math.Abs(h.norm()/wantH - 1); rel > 1e-12 {
				t.Errorf("|h| %g, want %g", h.norm(), wantH)
			}
			// The orbit normal of Rz(Ω)·Rx(i): (sin i sin Ω, -sin i cos Ω, cos i).
			wantN := vec3{math.Sin(tt.el.I) * math.Sin(tt.el.Node), -math.Sin(tt.el.I) * math.Cos(tt.el.Node), math.Cos(tt.el.I)}
			if d := h.unit().sub(wantN).norm(); d > 1e-12 {
				t.Errorf("orbit normal %v, want %v", h.unit(), wantN)
			}
			ea, err := solveKepler(tt.el.MeanA, tt.el.E)
			if err != nil {
				t.Fatal(err)
			}
			if wantR := tt.el.A * (1 - tt.el.E*math.Cos(ea)); math.Abs(r/wantR-1) > 1e-13 {
				t.Errorf("r = %g, want %g", r, wantR)
			}
		})
	}
}

func TestStateFromElementsPeriapsisDirection(t *testing.T) {
	// At M = 0 the body is at periapsis, in the direction of the ascending
	// node rotated by ω in the orbital plane; with i = 0 that is at
	// longitude Ω + ω, moving perpendicular to the radius.
	el := elements{A: 1e11, E: 0.3, Node: deg(30), Peri: deg(45), MeanA: 0}
	pos, vel, err := stateFromElements(el, 1e20)
	if err != nil {
		t.Fatal(err)
	}
	want := vec3{math.Cos(deg(75)), math.Sin(deg(75)), 0}.scale(el.A * (1 - el.E))
	if d := pos.sub(want).norm(); d > 1e-3 {
		t.Errorf("pos %v, want %v", pos, want)
	}
	if c := pos.unit().dot(vel.unit()); math.Abs(c) > 1e-12 {
		t.Errorf("radial velocity component %g at periapsis", c)
	}
	if pos.cross(vel).Z <= 0 {
		t.Error("orbit is not prograde")
	}
}

func TestLookBasis(t *testing.T) {
	tests := []struct {
		name        string
		forward, up vec3
	}{
		{"axes", vec3{0, 0, -1}, vec3{0, 1, 0}},
		{"oblique", vec3{1, 2, 3}, vec3{0, 0, 1}},
		{"up not orthogonal", vec3{-3, 0.5, 0}, vec3{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := lookBasis(tt.forward, tt.up)
			for _, c := range []struct {
				name string
				got  float64
				want float64
			}{
				{"|X|", b.X.norm(), 1}, {"|Y|", b.Y.norm(), 1}, {"|Z|", b.Z.norm(), 1},
				{"X·Y", b.X.dot(b.Y), 0}, {"Y·Z", b.Y.dot(b.Z), 0}, {"Z·X", b.Z.dot(b.X), 0},
				{"det", b.X.cross(b.Y).dot(b.Z), 1},
				{"-Z·forward", b.Z.scale(-1).dot(tt.forward.unit()), 1},
				{"X·up", b.X.dot(tt.up), 0},
			} {
				if math.Abs(c.got-c.want) > 1e-12 {
					t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
				}
			}
			if b.Y.dot(tt.up) <= 0 {
				t.Errorf("Y %v points away from up %v", b.Y, tt.up)
			}
		})
	}
}
