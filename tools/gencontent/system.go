package main

import (
	"fmt"
)

// body is a massive body's state: SI units, ecliptic J2000 axes.
type body struct {
	Name     string
	GM       float64 // m³/s²
	Radius   float64 // m
	Pos, Vel vec3    // m, m/s
}

// The Moon's mean elements at J2000.0 (T = 0): the mean arguments of the
// lunar theory ELP-2000/82 (Chapront-Touzé and Chapront) as given in
// Meeus, Astronomical Algorithms, 2nd ed., chapter 47: the Moon's mean
// longitude L', its mean anomaly M' and its mean argument of latitude F,
// all referred to the mean equinox of date (= J2000 at T = 0). From them
// the node is Ω = L' - F and the argument of perigee is ω = (L' - M') - Ω.
// With a, e and i from the ephemeris file they place the Moon on the Kepler
// orbit of its mean motion: within a couple of degrees of the true Moon
// (the largest periodic terms, evection and variation, are 1.3° and 0.7°).
const (
	moonMeanLongitudeDeg = 218.3164477
	moonMeanAnomalyDeg   = 134.9633964
	moonArgLatitudeDeg   = 93.2720950
)

// Names of the ephemeris entries used by the generator.
const (
	nameSun   = "Sun"
	nameEMB   = "Earth-Moon barycentre"
	nameEarth = "Earth"
	nameMoon  = "Moon"
)

// planetNames lists the bodies of the sample system in scene order, the
// Moon right after the Earth.
func planetNames() []string {
	return []string{"Mercury", "Venus", nameEarth, nameMoon, "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"}
}

// heliocentric returns the Sun (at rest at the origin), the eight planets
// and the Moon at J2000, heliocentric. Each planet's state is its Kepler
// orbit with μ = GM_sun + GM_planet. The Earth-Moon barycentre's orbit is
// split into the Earth and the Moon by their GM ratio, the Moon's state
// relative to the Earth coming from moonRelative.
func heliocentric(eph *ephemeris) ([]body, error) {
	sun, err := eph.body(nameSun)
	if err != nil {
		return nil, err
	}
	out := []body{{Name: nameSun, GM: sun.GM, Radius: sun.RadiusKm * 1000}}
	for _, name := range planetNames() {
		switch name {
		case nameMoon:
			continue // placed with the Earth
		case nameEarth:
			earth, moon, err := earthAndMoon(eph, sun.GM)
			if err != nil {
				return nil, err
			}
			out = append(out, earth, moon)
			continue
		}
		b, err := eph.body(name)
		if err != nil {
			return nil, err
		}
		el, err := b.heliocentricElements(eph.AuM)
		if err != nil {
			return nil, err
		}
		pos, vel, err := stateFromElements(el, sun.GM+b.GM)
		if err != nil {
			return nil, fmt.Errorf("orbit of %s: %w", name, err)
		}
		out = append(out, body{Name: name, GM: b.GM, Radius: b.RadiusKm * 1000, Pos: pos, Vel: vel})
	}
	return out, nil
}

// earthAndMoon places the Earth and the Moon about the heliocentric state
// of their barycentre: Earth = EMB - f·rel, Moon = EMB + (1-f)·rel with
// f = GM_moon / (GM_earth + GM_moon) and rel the Moon's state relative to
// the Earth.
func earthAndMoon(eph *ephemeris, gmSun float64) (earth, moon body, err error) {
	emb, err := eph.body(nameEMB)
	if err != nil {
		return body{}, body{}, err
	}
	e, err := eph.body(nameEarth)
	if err != nil {
		return body{}, body{}, err
	}
	m, err := eph.body(nameMoon)
	if err != nil {
		return body{}, body{}, err
	}
	el, err := emb.heliocentricElements(eph.AuM)
	if err != nil {
		return body{}, body{}, err
	}
	bPos, bVel, err := stateFromElements(el, gmSun+emb.GM)
	if err != nil {
		return body{}, body{}, fmt.Errorf("orbit of %s: %w", nameEMB, err)
	}
	rPos, rVel, err := moonRelative(m, e.GM)
	if err != nil {
		return body{}, body{}, err
	}
	total := e.GM + m.GM
	fMoon, fEarth := m.GM/total, e.GM/total
	earth = body{Name: nameEarth, GM: e.GM, Radius: e.RadiusKm * 1000,
		Pos: bPos.sub(rPos.scale(fMoon)), Vel: bVel.sub(rVel.scale(fMoon))}
	moon = body{Name: nameMoon, GM: m.GM, Radius: m.RadiusKm * 1000,
		Pos: bPos.add(rPos.scale(fEarth)), Vel: bVel.add(rVel.scale(fEarth))}
	return earth, moon, nil
}

// moonElements are the Moon's geocentric ecliptic elements at J2000: a, e
// and i from the ephemeris entry, the angles from the mean lunar arguments.
func moonElements(m ephemBody) (elements, error) {
	if !(m.AKm > 0) {
		return elements{}, fmt.Errorf("%w: %s: a_km = %g", errBadValue, m.Name, m.AKm)
	}
	node := moonMeanLongitudeDeg - moonArgLatitudeDeg
	periLong := moonMeanLongitudeDeg - moonMeanAnomalyDeg
	return elements{
		A:     m.AKm * 1000,
		E:     m.E,
		I:     deg(m.IToEcliptic),
		Node:  deg(node),
		Peri:  deg(periLong - node),
		MeanA: deg(moonMeanAnomalyDeg),
	}, nil
}

// moonRelative is the Moon's state relative to the Earth, on its Kepler
// orbit with μ = GM_earth + GM_moon.
func moonRelative(m ephemBody, gmEarth float64) (pos, vel vec3, err error) {
	el, err := moonElements(m)
	if err != nil {
		return vec3{}, vec3{}, err
	}
	pos, vel, err = stateFromElements(el, gmEarth+m.GM)
	if err != nil {
		return vec3{}, vec3{}, fmt.Errorf("orbit of %s: %w", nameMoon, err)
	}
	return pos, vel, nil
}

// centreOfMass returns the GM-weighted mean position and velocity (GM is
// proportional to mass, so this is the centre of mass and its velocity).
func centreOfMass(bodies []body) (pos, vel vec3) {
	var total float64
	for _, b := range bodies {
		total += b.GM
		pos = pos.add(b.Pos.scale(b.GM))
		vel = vel.add(b.Vel.scale(b.GM))
	}
	return pos.scale(1 / total), vel.scale(1 / total)
}

// barycentric returns a copy of bodies moved to their centre-of-mass frame,
// so that the system neither drifts nor carries momentum.
func barycentric(bodies []body) []body {
	cp, cv := centreOfMass(bodies)
	out := make([]body, len(bodies))
	for i, b := range bodies {
		b.Pos = b.Pos.sub(cp)
		b.Vel = b.Vel.sub(cv)
		out[i] = b
	}
	return out
}

// solarSystem is the sample system of vr_main.tscn: heliocentric states at
// J2000 shifted to the barycentric frame.
func solarSystem(eph *ephemeris) ([]body, error) {
	helio, err := heliocentric(eph)
	if err != nil {
		return nil, err
	}
	return barycentric(helio), nil
}

// earthMoonSystem is the Earth and the Moon alone in their barycentric
// frame, with the same relative state as in solarSystem.
func earthMoonSystem(eph *ephemeris) ([]body, error) {
	e, err := eph.body(nameEarth)
	if err != nil {
		return nil, err
	}
	m, err := eph.body(nameMoon)
	if err != nil {
		return nil, err
	}
	rPos, rVel, err := moonRelative(m, e.GM)
	if err != nil {
		return nil, err
	}
	return barycentric([]body{
		{Name: nameEarth, GM: e.GM, Radius: e.RadiusKm * 1000},
		{Name: nameMoon, GM: m.GM, Radius: m.RadiusKm * 1000, Pos: rPos, Vel: rVel},
	}), nil
}

// find returns the body called name; the generator only asks for bodies it
// put there itself, so a miss is a programming error reported as such.
func find(bodies []body, name string) (body, error) {
	for _, b := range bodies {
		if b.Name == name {
			return b, nil
		}
	}
	return body{}, fmt.Errorf("%w: %q", errMissingBody, name)
}

// circularOrbit is a state on a circular orbit about c at distance r in the
// direction dir (need not be unit), moving along the unit vector of
// normal × dir (prograde about normal).
func circularOrbit(c body, r float64, dir, normal vec3) (pos, vel vec3) {
	d := dir.unit()
	t := normal.cross(d).unit()
	return c.Pos.add(d.scale(r)), c.Vel.add(t.scale(circularSpeed(c.GM, r)))
}
