package main

import (
	"errors"
	"fmt"
	"math"
)

// vec3 is a Cartesian vector: metres or m/s in the scenes, ecliptic J2000 axes.
type vec3 struct{ X, Y, Z float64 }

func (a vec3) add(b vec3) vec3      { return vec3{a.X + b.X, a.Y + b.Y, a.Z + b.Z} }
func (a vec3) sub(b vec3) vec3      { return vec3{a.X - b.X, a.Y - b.Y, a.Z - b.Z} }
func (a vec3) scale(s float64) vec3 { return vec3{a.X * s, a.Y * s, a.Z * s} }
func (a vec3) dot(b vec3) float64   { return a.X*b.X + a.Y*b.Y + a.Z*b.Z }
func (a vec3) norm() float64        { return math.Sqrt(a.dot(a)) }
func (a vec3) unit() vec3           { return a.scale(1 / a.norm()) }
func (a vec3) cross(b vec3) vec3 {
	return vec3{a.Y*b.Z - a.Z*b.Y, a.Z*b.X - a.X*b.Z, a.X*b.Y - a.Y*b.X}
}
func (a vec3) String() string      { return fmt.Sprintf("(%g, %g, %g)", a.X, a.Y, a.Z) }
func (a vec3) dist(b vec3) float64 { return a.sub(b).norm() }

// elements are the classical Keplerian elements of an elliptic orbit.
// Angles are in radians, the semi-major axis in metres.
type elements struct {
	A     float64 // semi-major axis
	E     float64 // eccentricity, 0 <= E < 1
	I     float64 // inclination to the reference plane (the ecliptic)
	Node  float64 // longitude of the ascending node, Ω
	Peri  float64 // argument of periapsis, ω
	MeanA float64 // mean anomaly at the epoch, M
}

// errNoConvergence is returned when Newton's method fails on Kepler's equation.
var errNoConvergence = errors.New("gencontent: kepler equation did not converge")

// keplerTolerance is the |ΔE| (radians) at which Newton's iteration stops.
const keplerTolerance = 1e-15

// solveKepler returns the eccentric anomaly E with E - e·sin E = M, by
// Newton's method from E0 = M + e·sin M, stopping when a step is smaller
// than keplerTolerance (or exactly zero). M is reduced to (-π, π] first.
func solveKepler(m, e float64) (float64, error) {
	if e < 0 || e >= 1 || math.IsNaN(e) {
		return 0, fmt.Errorf("gencontent: eccentricity %g outside [0, 1)", e)
	}
	m = math.Remainder(m, 2*math.Pi)
	ea := m + e*math.Sin(m)
	for range 64 {
		f := ea - e*math.Sin(ea) - m
		step := f / (1 - e*math.Cos(ea))
		ea -= step
		if math.Abs(step) <= keplerTolerance {
			return ea, nil
		}
	}
	return 0, fmt.Errorf("%w: M=%g e=%g", errNoConvergence, m, e)
}

// stateFromElements returns the position and velocity, relative to the
// central body, of a body on the orbit el about a centre of gravitational
// parameter mu (the sum of both bodies' GM for relative two-body motion).
// The perifocal state is rotated to the reference frame by Rz(Ω)·Rx(i)·Rz(ω).
func stateFromElements(el elements, mu float64) (pos, vel vec3, err error) {
	ea, err := solveKepler(el.MeanA, el.E)
	if err != nil {
		return vec3{}, vec3{}, err
	}
	sinE, cosE := math.Sincos(ea)
	q := math.Sqrt(1 - el.E*el.E)
	r := el.A * (1 - el.E*cosE)
	// Perifocal frame: x' towards periapsis, y' 90° ahead in the orbital plane.
	px := el.A * (cosE - el.E)
	py := el.A * q * sinE
	k := math.Sqrt(mu*el.A) / r // a·dE/dt
	vx := -k * sinE
	vy := k * q * cosE

	sO, cO := math.Sincos(el.Node)
	si, ci := math.Sincos(el.I)
	sw, cw := math.Sincos(el.Peri)
	// Columns of the rotation: P (towards periapsis) and Q (90° ahead).
	p := vec3{cw*cO - sw*sO*ci, cw*sO + sw*cO*ci, sw * si}
	qv := vec3{-sw*cO - cw*sO*ci, -sw*sO + cw*cO*ci, cw * si}
	pos = p.scale(px).add(qv.scale(py))
	vel = p.scale(vx).add(qv.scale(vy))
	return pos, vel, nil
}

// deg converts degrees to radians.
func deg(d float64) float64 { return d * math.Pi / 180 }

// circularSpeed is the speed of a circular orbit of radius r about mu.
func circularSpeed(mu, r float64) float64 { return math.Sqrt(mu / r) }

// basis is a rotation given by the images of the local axes (Godot's
// basis columns): X right, Y up, Z back (a node looks along -Z).
type basis struct{ X, Y, Z vec3 }

// identityBasis is the rotation that leaves every vector as it is.
func identityBasis() basis { return basis{X: vec3{1, 0, 0}, Y: vec3{0, 1, 0}, Z: vec3{0, 0, 1}} }

// lookBasis is the rotation of a node looking along forward with its Y
// axis as close to up as possible, as Godot's Basis.looking_at:
// Z = -forward, X = up × Z, Y = Z × X (all unit, right-handed).
func lookBasis(forward, up vec3) basis {
	z := forward.unit().scale(-1)
	x := up.cross(z).unit()
	y := z.cross(x)
	return basis{X: x, Y: y, Z: z}
}
