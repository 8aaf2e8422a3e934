package engine

import "math"

// OrbitalElements are the classical Keplerian elements of an elliptic
// orbit about a central body. Angles are in radians, lengths in metres;
// the reference plane is the frame's XY plane (the ecliptic for scenes).
type OrbitalElements struct {
	A           float64 // semi-major axis, > 0
	E           float64 // eccentricity, in [0, 1)
	I           float64 // inclination
	Node        float64 // longitude of the ascending node Ω
	ArgPeri     float64 // argument of periapsis ω
	MeanAnomaly float64 // mean anomaly M at the epoch of the state
}

// SolveKepler returns the eccentric anomaly E that solves Kepler's
// equation E − e·sin E = M for an elliptic orbit (0 ≤ e < 1), by Newton's
// method to round-off.
func SolveKepler(m, e float64) float64 {
	m = math.Remainder(m, 2*math.Pi) // in [-π, π]
	ea := m
	if e > 0.8 {
		ea = math.Copysign(math.Pi, m)
	}
	for range 64 {
		s, c := math.Sincos(ea)
		d := (ea - e*s - m) / (1 - e*c)
		ea -= d
		if math.Abs(d) <= 1e-15*math.Max(1, math.Abs(ea)) {
			break
		}
	}
	return ea
}

// StateVectors returns the position and velocity relative to the central
// body of gravitational parameter mu (m³/s²; for two massive bodies use
// the sum of both).
func (el OrbitalElements) StateVectors(mu float64) (pos, vel Vec3) {
	ea := SolveKepler(el.MeanAnomaly, el.E)
	se, ce := math.Sincos(ea)
	q := math.Sqrt(1 - el.E*el.E)
	n := math.Sqrt(mu / (el.A * el.A * el.A))
	den := 1 - el.E*ce
	// Perifocal frame: x towards periapsis, y 90° ahead in the orbit.
	px, py := el.A*(ce-el.E), el.A*q*se
	vx, vy := -el.A*n*se/den, el.A*n*q*ce/den

	so, co := math.Sincos(el.Node)
	sw, cw := math.Sincos(el.ArgPeri)
	si, ci := math.Sincos(el.I)
	// Rows of R3(Ω)·R1(i)·R3(ω) applied to (x, y, 0).
	r11 := co*cw - so*sw*ci
	r12 := -co*sw - so*cw*ci
	r21 := so*cw + co*sw*ci
	r22 := -so*sw + co*cw*ci
	r31 := sw * si
	r32 := cw * si
	pos = Vec3{r11*px + r12*py, r21*px + r22*py, r31*px + r32*py}
	vel = Vec3{r11*vx + r12*vy, r21*vx + r22*vy, r31*vx + r32*vy}
	return pos, vel
}
