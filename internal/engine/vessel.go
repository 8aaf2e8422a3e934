package engine

import "math"

// Vessel constants.
const (
	// LandingSpeed is the largest speed relative to a body (m/s) at which
	// touching its surface is a landing; faster is a crash.
	LandingSpeed = 10.0
	// MaxRotationRate is the largest rotation rate the pilot may command
	// about each of the vessel's axes (rad/s).
	MaxRotationRate = math.Pi
	// ProperTimeFloor is the floor of 1 + 2Φ/c² − v²/c² in the proper time
	// rate dτ/dt = √(…): the weak-field formula breaks down where the
	// quantity approaches 0, so the rate never drops below √floor = 0.001
	// (Lorentz factor at most 1000).
	ProperTimeFloor = 1e-6
)

// ClampInput returns in with each throttle component clamped to [-1, 1]
// and each rotation rate to ±MaxRotationRate; NaNs become 0.
func ClampInput(in Input) Input {
	c := func(x, lim float64) float64 {
		if math.IsNaN(x) {
			return 0
		}
		return min(max(x, -lim), lim)
	}
	return Input{
		Throttle: Vec3{c(in.Throttle.X, 1), c(in.Throttle.Y, 1), c(in.Throttle.Z, 1)},
		Rotation: Vec3{c(in.Rotation.X, MaxRotationRate), c(in.Rotation.Y, MaxRotationRate), c(in.Rotation.Z, MaxRotationRate)},
	}
}

// vessel is the player's ship: a test particle that also feels its
// thrust, integrated in proper velocity u = γv so that its speed stays
// below c whatever the thrust and the step (dp/dt = F means du/dt = F/m:
// the coordinate acceleration is F∥/(γ³m) along v and F⊥/(γm) across it).
type vessel struct {
	name                 string
	pos                  Vec3
	u                    Vec3 // proper velocity γv, m/s
	att                  Quat
	mass, thrust, radius float64

	status PlayerStatus
	body   int  // index of the body landed on or crashed into, or -1
	offset Vec3 // position relative to that body

	tau  float64 // proper time since spawn
	acc  Vec3    // gravitational acceleration at pos
	phi  float64 // Newtonian potential at pos
	rate float64 // dτ/dt at the end of the last sub-step

	pos0 Vec3 // position at the start of the sub-step
	vmid Vec3 // coordinate velocity of the first half-drift
	vend Vec3 // coordinate velocity of the second half-drift
}

func newVessel(p *PlayerSpec, w *World) *vessel {
	v := &vessel{
		name: p.Name, pos: p.Pos, att: p.Attitude.Normalize(),
		mass: p.Mass, thrust: p.MaxThrust, radius: p.Radius,
		status: PlayerFlying, body: -1,
	}
	if v.mass == 0 {
		v.mass = DefaultShipMass
	}
	if v.thrust == 0 {
		v.thrust = DefaultMaxThrust
	}
	if v.radius == 0 {
		v.radius = DefaultHullRadius
	}
	v.u = v.properVelocity(p.Vel, w)
	v.refreshGravity(w)
	return v
}

// properVelocity converts a coordinate velocity to γv, first scaling a
// speed at or above c to just below it.
func (v *vessel) properVelocity(vel Vec3, w *World) Vec3 {
	b2 := vel.Dot(vel) * w.invC2
	if b2 >= 1 {
		const limit = 1 - 1e-12
		vel = vel.Scale(math.Sqrt(limit / b2))
		b2 = limit
	}
	return vel.Scale(1 / math.Sqrt(1-b2))
}

// velocity is the coordinate velocity u/γ, γ = √(1 + u²/c²).
func (v *vessel) velocity(w *World) Vec3 {
	return v.u.Scale(1 / math.Sqrt(1+v.u.Dot(v.u)*w.invC2))
}

// properRate is dτ/dt = √(1 + 2Φ/c² − v²/c²), floored (ProperTimeFloor).
func properRate(w *World, phi float64, vel Vec3) float64 {
	return math.Sqrt(max(ProperTimeFloor, 1+2*phi*w.invC2-vel.Dot(vel)*w.invC2))
}

func (v *vessel) refreshGravity(w *World) {
	v.acc, v.phi = w.gravityAt(v.pos)
	v.rate = properRate(w, v.phi, v.velocity(w))
}

// maxStep bounds the step near bodies: playerStepFactor × the smallest
// dynamical time √(r³/GM).
func (v *vessel) maxStep(w *World) float64 {
	best := math.Inf(1)
	for i := range w.bodies {
		b := &w.bodies[i]
		if b.gm <= 0 {
			continue
		}
		d := v.pos.Sub(b.pos)
		r2 := max(d.Dot(d), b.radius*b.radius, minR2)
		if t2 := r2 * math.Sqrt(r2) / b.gm; t2 < best {
			best = t2
		}
	}
	return playerStepFactor * math.Sqrt(best)
}

// thrustAccel is the thrust force over the mass, in the world frame.
func (v *vessel) thrustAccel(in Input) Vec3 {
	f := Vec3{in.Throttle.X * v.thrust, in.Throttle.Y * v.thrust, in.Throttle.Z * v.thrust}
	return v.att.Rotate(f).Scale(1 / v.mass)
}

// drift1 is the vessel's first half-drift (after the lift-off check).
func (v *vessel) drift1(w *World, h float64) {
	v.pos0 = v.pos
	v.vmid = v.velocity(w)
	switch v.status {
	case PlayerCrashed:
		return
	case PlayerLanded:
		b := &w.bodies[v.body]
		r := v.offset.Norm()
		if r == 0 || v.thrustAccel(w.input).Dot(v.offset.Scale(1/r)) <= b.gm/(r*r) {
			return
		}
		v.status, v.body = PlayerFlying, -1 // lift-off
	}
	v.pos = v.pos.Add(v.vmid.Scale(0.5 * h))
}

// kickDrift2 is the kick (gravity from the bodies at the midpoint, plus
// thrust with the attitude at the midpoint: du/dt = F/m does not depend on
// u, so this is exact for constant thrust), the attitude update and the
// second half-drift.
func (v *vessel) kickDrift2(w *World, h float64) {
	in := w.input
	if v.status != PlayerFlying {
		v.pos = w.bodies[v.body].pos.Add(v.offset) // the body is at its midpoint
	}
	v.acc, v.phi = w.gravityAt(v.pos)
	switch v.status {
	case PlayerCrashed:
		return
	case PlayerLanded:
		v.rotate(in, h)
		return
	}
	v.rotate(in, 0.5*h)
	v.u = v.u.Add(v.acc.Add(v.thrustAccel(in)).Scale(h))
	v.rotate(in, 0.5*h)
	v.vend = v.velocity(w)
	v.pos = v.pos.Add(v.vend.Scale(0.5 * h))
}

// rotate turns the attitude by the body-axis rates over h (exact for
// constant rates), renormalised.
func (v *vessel) rotate(in Input, h float64) {
	r := in.Rotation
	if r == (Vec3{}) {
		return
	}
	v.att = v.att.Mul(QuatFromAxisAngle(r, r.Norm()*h)).Normalize()
}

// finish ends the sub-step after the bodies moved: contact, co-motion
// with the body landed on, proper time.
func (v *vessel) finish(w *World, h float64) {
	phiMid := v.phi // at the midpoint, from kickDrift2
	v1, v2 := v.vmid, v.vend
	if v.status == PlayerFlying {
		v.contact(w)
	}
	if v.status != PlayerFlying {
		b := &w.bodies[v.body]
		v.pos = b.pos.Add(v.offset)
		v.u = v.properVelocity(b.vel, w)
		v1, v2 = b.vel, b.vel
	}
	// Midpoint rule for the potential, each half-drift's own velocity.
	v.tau += 0.5 * h * (properRate(w, phiMid, v1) + properRate(w, phiMid, v2))
	v.acc, v.phi = w.gravityAt(v.pos)
	v.rate = properRate(w, v.phi, v.velocity(w))
}

// contact looks for the first body sphere (radius > 0) the vessel's path
// over the sub-step entered, relative to the body's own motion, and lands
// or crashes on it.
func (v *vessel) contact(w *World) {
	hit, best := -1, 2.0
	var dir Vec3
	for i := range w.bodies {
		b := &w.bodies[i]
		if b.radius <= 0 {
			continue
		}
		rel0 := v.pos0.Sub(w.prev[i])
		rel1 := v.pos.Sub(b.pos)
		if s, ok := sphereEntry(rel0, rel1, b.radius+v.radius); ok && s < best {
			hit, best = i, s
			dir = rel0.Add(rel1.Sub(rel0).Scale(s))
		}
	}
	if hit < 0 {
		return
	}
	b := &w.bodies[hit]
	rho := b.radius + v.radius
	if n := dir.Norm(); n > 0 {
		dir = dir.Scale(rho / n)
	} else {
		dir = Vec3{X: rho}
	}
	if v.velocity(w).Sub(b.vel).Norm() <= LandingSpeed {
		v.status = PlayerLanded
	} else {
		v.status = PlayerCrashed
	}
	v.body, v.offset = hit, dir
}

// sphereEntry reports whether the segment a→b (relative positions) enters
// the sphere of radius rho about the origin, and where (0 ≤ s ≤ 1). A
// segment that starts inside counts only if it also ends inside (s = 1),
// so a vessel lifting off its surface is not caught again.
func sphereEntry(a, b Vec3, rho float64) (float64, bool) {
	r2 := rho * rho
	if a.Dot(a) < r2 {
		return 1, b.Dot(b) < r2
	}
	d := b.Sub(a)
	qa := d.Dot(d)
	if qa == 0 {
		return 0, false
	}
	qb := 2 * a.Dot(d)
	qc := a.Dot(a) - r2
	disc := qb*qb - 4*qa*qc
	if disc < 0 {
		return 0, false
	}
	s := (-qb - math.Sqrt(disc)) / (2 * qa)
	return s, s >= 0 && s <= 1
}

// teleport puts the vessel at pos with proper velocity u, flying.
func (v *vessel) teleport(w *World, pos, u Vec3) {
	v.pos, v.u = pos, u
	v.status, v.body, v.offset = PlayerFlying, -1, Vec3{}
	v.refreshGravity(w)
}

// state is the vessel as a snapshot reports it.
func (v *vessel) state(w *World) *PlayerState {
	vel := v.velocity(w)
	s := &PlayerState{
		Name: v.name, Pos: v.pos, Vel: vel, Attitude: v.att, Status: v.status,
		ProperTime: v.tau, Lorentz: 1 / v.rate,
		Gamma: math.Sqrt(1 + v.u.Dot(v.u)*w.invC2),
		Speed: vel.Norm(), Input: w.input,
	}
	if v.body >= 0 {
		s.Body = w.bodies[v.body].name
	}
	return s
}
