package main

import (
	"math"
	"testing"
)

const (
	secondsPerDay = 86400.0
	km            = 1000.0
)

func loadEphemeris(t *testing.T) *ephemeris {
	t.Helper()
	eph, err := parseEphemeris(defaultEphemeris)
	if err != nil {
		t.Fatalf("parse embedded ephemeris: %v", err)
	}
	return eph
}

func mustFind(t *testing.T, bodies []body, name string) body {
	t.Helper()
	b, err := find(bodies, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHeliocentricAgainstReference compares the Kepler states with the
// J2000 heliocentric ecliptic states of JPL's DE ephemerides, to the
// precision of the approximate elements (JPL quotes errors of tens of
// arcseconds for the inner planets and several arcminutes for Jupiter, the
// Great Inequality with Saturn not being modelled).
func TestHeliocentricAgainstReference(t *testing.T) {
	eph := loadEphemeris(t)
	helio, err := heliocentric(eph)
	if err != nil {
		t.Fatal(err)
	}
	au := eph.AuM
	tests := []struct {
		name           string
		pos            vec3 // au
		vel            vec3 // au/day
		posTol, velTol float64
	}{
		// The Earth (not the Earth-Moon barycentre): the split must be right
		// to within the lunar wobble (3e-5 au, 1e-5 au/d) to pass.
		{"Earth", vec3{-0.17713510, 0.96724169, -0.0000041}, vec3{-0.017207625, -0.0031587822, 0.0000001}, 1e-4, 1e-6},
		{"Mars", vec3{1.3907, -0.0134, -0.0345}, vec3{0.00067, 0.01516, 0.00031}, 1e-3, 1e-4},
		{"Jupiter", vec3{4.0012, 2.9384, -0.1015}, vec3{-0.004564, 0.006447, 0.000075}, 1e-2, 1e-4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustFind(t, helio, tt.name)
			gotPos := b.Pos.scale(1 / au)
			gotVel := b.Vel.scale(secondsPerDay / au)
			t.Logf("%s: %v au, %v au/d", tt.name, gotPos, gotVel)
			if d := gotPos.sub(tt.pos).norm(); d > tt.posTol {
				t.Errorf("position %v au, want %v ± %g (off by %g)", gotPos, tt.pos, tt.posTol, d)
			}
			if d := gotVel.sub(tt.vel).norm(); d > tt.velTol {
				t.Errorf("velocity %v au/d, want %v ± %g (off by %g)", gotVel, tt.vel, tt.velTol, d)
			}
		})
	}
}

// TestMoonAgainstLunarTheory checks the Moon's geocentric place against
// the full periodic series of Meeus ch. 47 evaluated at JD 2451545.0
// (λ ≈ 223.3°, β ≈ 5.2°, Δ ≈ 402,100 km). The mean Kepler orbit misses
// the evection and variation, so the tolerances are about a degree.
func TestMoonAgainstLunarTheory(t *testing.T) {
	eph := loadEphemeris(t)
	helio, err := heliocentric(eph)
	if err != nil {
		t.Fatal(err)
	}
	rel := mustFind(t, helio, nameMoon).Pos.sub(mustFind(t, helio, nameEarth).Pos)
	lon := math.Mod(math.Atan2(rel.Y, rel.X)*180/math.Pi+360, 360)
	lat := math.Asin(rel.Z/rel.norm()) * 180 / math.Pi
	dist := rel.norm() / km
	t.Logf("Moon: λ %.4f°, β %.4f°, Δ %.1f km", lon, lat, dist)
	for _, c := range []struct {
		name           string
		got, want, tol float64
	}{
		{"longitude (deg)", lon, 223.3, 1.5},
		{"latitude (deg)", lat, 5.2, 0.3},
		{"distance (km)", dist, 402100, 5000},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.4f, want %g ± %g", c.name, c.got, c.want, c.tol)
		}
	}
}

// TestSolarSystemSanity checks physical facts of the barycentric states
// written to vr_main.tscn.
func TestSolarSystemSanity(t *testing.T) {
	eph := loadEphemeris(t)
	bodies, err := solarSystem(eph)
	if err != nil {
		t.Fatal(err)
	}
	au := eph.AuM
	sun := mustFind(t, bodies, nameSun)
	earth := mustFind(t, bodies, nameEarth)
	moon := mustFind(t, bodies, nameMoon)
	jupiter := mustFind(t, bodies, "Jupiter")

	t.Run("bodies in order", func(t *testing.T) {
		want := append([]string{nameSun}, planetNames()...)
		if len(bodies) != len(want) {
			t.Fatalf("%d bodies, want %d", len(bodies), len(want))
		}
		for i, b := range bodies {
			if b.Name != want[i] {
				t.Errorf("body %d is %s, want %s", i, b.Name, want[i])
			}
			if !(b.GM > 0) || !(b.Radius > 0) {
				t.Errorf("%s: GM %g radius %g", b.Name, b.GM, b.Radius)
			}
		}
	})
	t.Run("Earth about 1 au from the Sun at about 29.8 km/s", func(t *testing.T) {
		// J2000 is two days before perihelion: 0.9833 au, 30.29 km/s.
		r := earth.Pos.dist(sun.Pos) / au
		v := earth.Vel.sub(sun.Vel).norm()
		if r < 0.98 || r > 0.99 {
			t.Errorf("Earth-Sun distance %g au, want 0.983", r)
		}
		if v < 29.78e3 || v > 30.4e3 {
			t.Errorf("Earth's heliocentric speed %g m/s, want 29.8-30.3 km/s", v)
		}
	})
	t.Run("planets bound to the Sun", func(t *testing.T) {
		for _, b := range bodies {
			if b.Name == nameSun || b.Name == nameMoon {
				continue
			}
			r := b.Pos.dist(sun.Pos)
			v := b.Vel.sub(sun.Vel).norm()
			if e := v*v/2 - (sun.GM+b.GM)/r; e >= 0 {
				t.Errorf("%s: specific orbital energy %g J/kg, want < 0", b.Name, e)
			}
		}
		r := jupiter.Pos.dist(sun.Pos) / au
		if r < 4.95 || r > 5.46 {
			t.Errorf("Jupiter at %g au, outside perihelion-aphelion", r)
		}
	})
	t.Run("Moon bound to the Earth about 384,400 km away", func(t *testing.T) {
		mb, err := eph.body(nameMoon)
		if err != nil {
			t.Fatal(err)
		}
		r := moon.Pos.dist(earth.Pos)
		if lo, hi := mb.AKm*km*(1-mb.E), mb.AKm*km*(1+mb.E); r < lo || r > hi {
			t.Errorf("Earth-Moon distance %g km, want %g-%g km", r/km, lo/km, hi/km)
		}
		v := moon.Vel.sub(earth.Vel).norm()
		mu := earth.GM + moon.GM
		if e := v*v/2 - mu/r; e >= 0 {
			t.Errorf("Moon's energy about the Earth %g, want < 0", e)
		}
		if a := -mu / (2 * (v*v/2 - mu/r)); math.Abs(a/(mb.AKm*km)-1) > 1e-9 {
			t.Errorf("Moon's semi-major axis %g km, want %g km", a/km, mb.AKm)
		}
	})
	t.Run("barycentre at rest at the origin", func(t *testing.T) {
		var p, l vec3
		var pScale, lScale float64
		for _, b := range bodies {
			p = p.add(b.Vel.scale(b.GM))
			l = l.add(b.Pos.scale(b.GM))
			pScale += b.GM * b.Vel.norm()
			lScale += b.GM * b.Pos.norm()
		}
		if rel := p.norm() / pScale; rel > 1e-14 {
			t.Errorf("total momentum %v (relative %g), want 0", p, rel)
		}
		if rel := l.norm() / lScale; rel > 1e-14 {
			t.Errorf("centre of mass %v (relative %g), want 0", l, rel)
		}
		// The Sun's reflex motion: about 0.007 au and 13 m/s at J2000.
		if d := sun.Pos.norm() / au; d < 0.001 || d > 0.01 {
			t.Errorf("Sun %g au from the barycentre", d)
		}
		if v := sun.Vel.norm(); v < 5 || v > 20 {
			t.Errorf("Sun's barycentric speed %g m/s", v)
		}
	})
	t.Run("Earth-Moon split keeps the barycentre's orbit", func(t *testing.T) {
		helio, err := heliocentric(eph)
		if err != nil {
			t.Fatal(err)
		}
		he, hm := mustFind(t, helio, nameEarth), mustFind(t, helio, nameMoon)
		embB, err := eph.body(nameEMB)
		if err != nil {
			t.Fatal(err)
		}
		el, err := embB.heliocentricElements(au)
		if err != nil {
			t.Fatal(err)
		}
		wantPos, wantVel, err := stateFromElements(el, sun.GM+embB.GM)
		if err != nil {
			t.Fatal(err)
		}
		gotPos, gotVel := centreOfMass([]body{he, hm})
		if d := gotPos.dist(wantPos); d > 1e-3 {
			t.Errorf("Earth-Moon barycentre %v, want %v (off by %g m)", gotPos, wantPos, d)
		}
		if d := gotVel.dist(wantVel); d > 1e-9 {
			t.Errorf("Earth-Moon barycentre velocity off by %g m/s", d)
		}
		// The Earth is about 4,670 km from the barycentre.
		if d := he.Pos.dist(wantPos) / km; d < 4000 || d > 5200 {
			t.Errorf("Earth %g km from the Earth-Moon barycentre", d)
		}
	})
}

func TestShipsOnCircularOrbits(t *testing.T) {
	eph := loadEphemeris(t)
	sys, err := solarSystem(eph)
	if err != nil {
		t.Fatal(err)
	}
	em, err := earthMoonSystem(eph)
	if err != nil {
		t.Fatal(err)
	}
	leo, err := leoShip(sys)
	if err != nil {
		t.Fatal(err)
	}
	menuS, err := menuShip(em)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		bodies  []body
		sh      ship
		r       float64
		minDist float64 // from any other body's surface
	}{
		{"vr_main low Earth orbit", sys, leo, 6371e3 + 400e3, 300e3},
		{"menu", em, menuS, 1e8, 1e7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			earth := mustFind(t, tt.bodies, nameEarth)
			rel, vrel := tt.sh.pos.sub(earth.Pos), tt.sh.vel.sub(earth.Vel)
			// Positions near 1 au carry about 3e-5 m of rounding.
			if got := rel.norm(); math.Abs(got-tt.r) > 1e-3 {
				t.Errorf("distance from the Earth %.6f m, want %g", got, tt.r)
			}
			if got, want := vrel.norm(), math.Sqrt(earth.GM/tt.r); math.Abs(got/want-1) > 1e-12 {
				t.Errorf("speed about the Earth %g m/s, want %g", got, want)
			}
			if c := rel.unit().dot(vrel.unit()); math.Abs(c) > 1e-12 {
				t.Errorf("radial velocity fraction %g, want 0", c)
			}
			if rel.cross(vrel).Z <= 0 {
				t.Error("orbit is not prograde about ecliptic north")
			}
			b := tt.sh.att
			if det := b.X.cross(b.Y).dot(b.Z); math.Abs(det-1) > 1e-12 {
				t.Errorf("attitude determinant %g, want 1", det)
			}
			for _, o := range tt.bodies {
				if d := tt.sh.pos.dist(o.Pos) - o.Radius; d < tt.minDist {
					t.Errorf("%g m above %s", d, o.Name)
				}
			}
			if tt.sh.mass <= 0 || tt.sh.maxThrust <= 0 || tt.sh.hull <= 0 {
				t.Errorf("ship figures %+v", tt.sh)
			}
		})
	}
	t.Run("vr_main ship looks prograde, Earth below", func(t *testing.T) {
		earth := mustFind(t, sys, nameEarth)
		fwd := leo.att.Z.scale(-1)
		if c := fwd.dot(leo.vel.sub(earth.Vel).unit()); math.Abs(c-1) > 1e-12 {
			t.Errorf("-Z·prograde = %g, want 1", c)
		}
		if c := leo.att.Y.dot(leo.pos.sub(earth.Pos).unit()); math.Abs(c-1) > 1e-12 {
			t.Errorf("Y·radial = %g, want 1", c)
		}
	})
}

func TestTwoBodyCircular(t *testing.T) {
	s, err := twoBody(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.path != "res://tests/integration/two_body.tscn" {
		t.Errorf("path %s", s.path)
	}
	// Kepler's third law against the period written to the scene.
	mu := twoBodyStarGM + twoBodyPlanetGM
	v := math.Sqrt(mu / twoBodySeparation)
	if got, want := twoBodyPeriod(), 2*math.Pi*twoBodySeparation/v; math.Abs(got/want-1) > 1e-14 {
		t.Errorf("period %g s, want %g", got, want)
	}
}
