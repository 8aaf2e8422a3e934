package engine

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// ephemeris is testdata/planets-j2000.json.
type ephemeris struct {
	AU     float64 `json:"au_m"`
	Bodies []struct {
		Name     string   `json:"name"`
		GM       float64  `json:"gm"`
		Radius   float64  `json:"radius"` // km
		A        *float64 `json:"a"`      // au
		E        float64  `json:"e"`
		I        float64  `json:"i"`
		L        float64  `json:"L"`
		LongPeri float64  `json:"long_peri"`
		LongNode float64  `json:"long_node"`
	} `json:"bodies"`
}

// solarSystem returns the Sun and the eight planets at J2000 (the
// Earth-Moon barycentre standing in for the Earth), from the JPL elements
// in testdata, in the barycentric frame.
func solarSystem(t testing.TB) []BodySpec {
	t.Helper()
	raw, err := os.ReadFile("testdata/planets-j2000.json")
	if err != nil {
		t.Fatal(err)
	}
	var eph ephemeris
	if err := json.Unmarshal(raw, &eph); err != nil {
		t.Fatalf("parse ephemeris: %v", err)
	}
	const deg = math.Pi / 180
	var sun BodySpec
	var out []BodySpec
	for _, b := range eph.Bodies {
		switch {
		case b.Name == "Sun":
			sun = BodySpec{Name: b.Name, GM: b.GM, Radius: b.Radius * 1e3}
		case b.A != nil:
			el := OrbitalElements{
				A: *b.A * eph.AU, E: b.E, I: b.I * deg, Node: b.LongNode * deg,
				ArgPeri: (b.LongPeri - b.LongNode) * deg, MeanAnomaly: (b.L - b.LongPeri) * deg,
			}
			pos, vel := el.StateVectors(sun.GM + b.GM)
			out = append(out, BodySpec{Name: b.Name, GM: b.GM, Radius: b.Radius * 1e3, Pos: pos, Vel: vel})
		}
	}
	if sun.GM == 0 || len(out) != 8 {
		t.Fatalf("ephemeris: want the Sun and 8 planets, got sun GM %g and %d planets", sun.GM, len(out))
	}
	all := append([]BodySpec{sun}, out...)
	// Move to the barycentre, at rest.
	var m float64
	var p, v Vec3
	for _, b := range all {
		m += b.GM
		p = p.Add(b.Pos.Scale(b.GM))
		v = v.Add(b.Vel.Scale(b.GM))
	}
	p, v = p.Scale(1/m), v.Scale(1/m)
	for i := range all {
		all[i].Pos = all[i].Pos.Sub(p)
		all[i].Vel = all[i].Vel.Sub(v)
	}
	return all
}

// energy is G times the total energy: Σ ½GMv² − Σ GMᵢGMⱼ/r.
func energy(bs []BodyState) float64 {
	var e float64
	for i, b := range bs {
		e += 0.5 * b.GM * b.Vel.Dot(b.Vel)
		for _, c := range bs[i+1:] {
			e -= b.GM * c.GM / b.Pos.Sub(c.Pos).Norm()
		}
	}
	return e
}

// angularMomentum is G times the total angular momentum: Σ GM r×v.
func angularMomentum(bs []BodyState) Vec3 {
	var l Vec3
	for _, b := range bs {
		l = l.Add(b.Pos.Cross(b.Vel).Scale(b.GM))
	}
	return l
}

// mustWorld builds a world or fails the test; it is closed at cleanup.
func mustWorld(t testing.TB, spec *Spec, opts WorldOptions) *World {
	t.Helper()
	w, err := NewWorld(spec, opts)
	if err != nil {
		t.Fatalf("NewWorld: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

// steps picks a step count: full normally, reduced under the race
// detector.
func steps(full, race int) int {
	if raceEnabled {
		return race
	}
	return full
}

// bitsEqual compares float64 slices bit for bit.
func bitsEqual(a, b []float64) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return i, false
		}
	}
	return 0, true
}

// worldState flattens everything that evolves in a world, for bit-exact
// comparison.
func worldState(w *World) []float64 {
	s := []float64{w.t}
	for _, b := range w.bodies {
		s = append(s, b.pos.X, b.pos.Y, b.pos.Z, b.vel.X, b.vel.Y, b.vel.Z, b.acc.X, b.acc.Y, b.acc.Z)
	}
	p := &w.parts
	for _, a := range [][]float64{p.X, p.Y, p.Z, p.VX, p.VY, p.VZ, p.AX, p.AY, p.AZ} {
		s = append(s, a...)
	}
	if v := w.player; v != nil {
		s = append(s, v.pos.X, v.pos.Y, v.pos.Z, v.u.X, v.u.Y, v.u.Z, v.att.W, v.att.X, v.att.Y, v.att.Z, v.tau, v.rate, float64(v.body))
	}
	return s
}
