package engine

import (
	"fmt"
	"math"
)

// Integrator defaults and tuning.
const (
	// DefaultPhysicsFPS is the tick rate when none is set.
	DefaultPhysicsFPS = 90
	// DefaultMaxSubSteps caps the body/vessel sub-steps in one tick.
	DefaultMaxSubSteps = 256
	// DefaultMaxStep is the longest simulated step of the bodies and the
	// vessel, in seconds (fine for planets and moons; the vessel takes
	// shorter steps near a body, see playerStepFactor).
	DefaultMaxStep = 60.0
	// DefaultMaxParticleSubSteps caps the particle steps in one tick at
	// full quality.
	DefaultMaxParticleSubSteps = 8

	// playerStepFactor bounds the vessel's step near a body to this
	// fraction of the local dynamical time √(r³/GM) (about 300 steps per
	// circular orbit).
	playerStepFactor = 0.02
	// particleStepFactor bounds the particle step to this fraction of the
	// smallest dynamical time found among the particles when the world is
	// built or its bodies change (about 125 steps per orbit).
	particleStepFactor = 0.05
	// minR2 is the floor of r² in every force evaluation (1 m²), so two
	// coincident point masses do not produce infinities.
	minR2 = 1.0
)

// WorldOptions tune a World. The zero value gives the defaults.
type WorldOptions struct {
	// PhysicsFPS is the tick rate: one Step advances TimeScale/PhysicsFPS
	// simulated seconds. Default DefaultPhysicsFPS.
	PhysicsFPS int
	// Workers is how many goroutines share the particle work, the caller
	// included (default 1). Results are bit-identical for any value.
	Workers int
	// MaxSubSteps caps the body/vessel sub-steps per tick at full quality
	// (default DefaultMaxSubSteps). When the cap binds, the step grows
	// beyond MaxStep rather than the simulation falling behind.
	MaxSubSteps int
	// MaxStep is the longest body/vessel step in simulated seconds
	// (default DefaultMaxStep).
	MaxStep float64
	// MaxParticleSubSteps caps the particle steps per tick at full quality
	// (default DefaultMaxParticleSubSteps).
	MaxParticleSubSteps int
}

func (o WorldOptions) withDefaults() WorldOptions {
	if o.PhysicsFPS <= 0 {
		o.PhysicsFPS = DefaultPhysicsFPS
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.MaxSubSteps <= 0 {
		o.MaxSubSteps = DefaultMaxSubSteps
	}
	if !(o.MaxStep > 0) || math.IsInf(o.MaxStep, 0) {
		o.MaxStep = DefaultMaxStep
	}
	if o.MaxParticleSubSteps <= 0 {
		o.MaxParticleSubSteps = DefaultMaxParticleSubSteps
	}
	o.MaxParticleSubSteps = min(o.MaxParticleSubSteps, o.MaxSubSteps)
	return o
}

// body is a massive body.
type body struct {
	name          string
	gm, radius    float64
	pos, vel, acc Vec3
}

// World is the simulation state: massive bodies by direct summation,
// massless test particles that feel the bodies only, and the player's
// vessel, advanced by second-order symplectic leapfrogs at a fixed step:
// drift-kick-drift for the bodies and the vessel, kick-drift-kick (with
// stored accelerations, one force evaluation per step) for the particles.
//
// A World is not safe for concurrent use: one goroutine owns it (the
// Engine's loop, or a test). It may start worker goroutines (Workers > 1)
// on its first large particle step; Close stops them.
type World struct {
	opts   WorldOptions
	spec   *Spec // deep copy, for reset and reporting
	tickDt float64
	kernel kernelKind

	t         float64 // seconds since J2000
	timeScale float64
	c, invC2  float64
	steps     uint64

	bodies []body
	kb     []kbody // body table for the particle kernel
	prev   []Vec3  // body positions at the start of the current sub-step

	parts            particles
	groups           []ParticleGroup
	pMaxStep         float64   // particle step bound from the particles' orbits
	sliceT           []float64 // time of each particle slice's last update
	boundary         uint64    // particle boundaries crossed (selects the slice)
	q                quality
	lastSub          int
	lastPSub         int
	particlesChanged bool // positions changed since particlePositions

	player *vessel
	input  Input

	pool *pool
}

// NewWorld validates spec and builds a world from it (deep-copied: the
// caller may reuse spec). Errors wrap ErrInvalidSpec.
func NewWorld(spec *Spec, opts WorldOptions) (*World, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := spec.clone()
	w := &World{
		opts:      opts,
		spec:      s,
		tickDt:    1 / float64(opts.PhysicsFPS),
		t:         s.Epoch,
		timeScale: s.TimeScale,
		c:         s.SpeedOfLight,
		pool:      newPool(opts.Workers),
	}
	if w.timeScale == 0 {
		w.timeScale = 1
	}
	if w.c == 0 {
		w.c = SpeedOfLight
	}
	w.invC2 = 1 / (w.c * w.c)
	for _, b := range s.Bodies {
		w.bodies = append(w.bodies, body{name: b.Name, gm: b.GM, radius: b.Radius, pos: b.Pos, vel: b.Vel})
	}
	n := s.Particles.Len()
	w.parts = newParticles(n)
	copy(w.parts.X, s.Particles.X)
	copy(w.parts.Y, s.Particles.Y)
	copy(w.parts.Z, s.Particles.Z)
	copy(w.parts.VX, s.Particles.VX)
	copy(w.parts.VY, s.Particles.VY)
	copy(w.parts.VZ, s.Particles.VZ)
	w.groups = s.Particles.Groups
	if p := s.Player; p != nil {
		w.player = newVessel(p, w)
	}
	w.q = qualityFor(0, opts)
	w.sliceT = []float64{w.t}
	w.bodiesChanged(false)
	return w, nil
}

// Close stops the world's worker goroutines, if any. The world must not be
// stepped afterwards. Idempotent.
func (w *World) Close() {
	w.pool.close()
}

// bodiesChanged recomputes everything that depends on the set of bodies
// or their positions outside a step: body accelerations, the kernel's body
// table, the particles' stored accelerations (in the pool when pooled),
// the particle step bound and the vessel's gravity.
func (w *World) bodiesChanged(pooled bool) {
	w.bodyAccel()
	w.refreshKB()
	w.prev = make([]Vec3, len(w.bodies))
	n := w.parts.len()
	j := job{kind: jobAccel, p: &w.parts, bodies: w.kb, lo: 0, hi: n}
	if pooled {
		w.pool.run(j)
	} else {
		j.do()
	}
	w.pMaxStep = w.particleStepBound()
	w.particlesChanged = true
	if w.player != nil {
		w.player.refreshGravity(w)
	}
}

// refreshKB copies the bodies into the particle kernel's table.
func (w *World) refreshKB() {
	if cap(w.kb) < len(w.bodies) {
		w.kb = make([]kbody, len(w.bodies))
	}
	w.kb = w.kb[:len(w.bodies)]
	for i := range w.bodies {
		b := &w.bodies[i]
		w.kb[i] = kbody{x: b.pos.X, y: b.pos.Y, z: b.pos.Z, gm: b.gm, r2min: max(b.radius*b.radius, minR2)}
	}
}

// particleStepBound is particleStepFactor × the smallest dynamical time
// √(r³/GM) of any particle about any body (+Inf without both).
func (w *World) particleStepBound() float64 {
	best := math.Inf(1)
	p := &w.parts
	for i := range p.len() {
		for j := range w.kb {
			b := &w.kb[j]
			if b.gm <= 0 {
				continue
			}
			dx, dy, dz := b.x-p.X[i], b.y-p.Y[i], b.z-p.Z[i]
			r2 := max(dx*dx+dy*dy+dz*dz, b.r2min)
			if t2 := r2 * math.Sqrt(r2) / b.gm; t2 < best {
				best = t2
			}
		}
	}
	return particleStepFactor * math.Sqrt(best)
}

// bodyAccel sets every body's acceleration by direct, pairwise-symmetric
// summation in index order.
func (w *World) bodyAccel() {
	bs := w.bodies
	for i := range bs {
		bs[i].acc = Vec3{}
	}
	for i := range bs {
		bi := &bs[i]
		for j := i + 1; j < len(bs); j++ {
			bj := &bs[j]
			dx, dy, dz := bj.pos.X-bi.pos.X, bj.pos.Y-bi.pos.Y, bj.pos.Z-bi.pos.Z
			r2 := dx*dx + dy*dy + dz*dz
			rs := bi.radius + bj.radius
			if m := max(rs*rs, minR2); r2 < m {
				r2 = m
			}
			inv := 1 / (r2 * math.Sqrt(r2))
			fi, fj := bj.gm*inv, bi.gm*inv
			bi.acc.X += fi * dx
			bi.acc.Y += fi * dy
			bi.acc.Z += fi * dz
			bj.acc.X -= fj * dx
			bj.acc.Y -= fj * dy
			bj.acc.Z -= fj * dz
		}
	}
}

// gravityAt returns the acceleration and the Newtonian potential
// Φ = −Σ GM/r at p from the bodies at their current positions.
func (w *World) gravityAt(p Vec3) (acc Vec3, phi float64) {
	for i := range w.bodies {
		b := &w.bodies[i]
		dx, dy, dz := b.pos.X-p.X, b.pos.Y-p.Y, b.pos.Z-p.Z
		r2 := max(dx*dx+dy*dy+dz*dz, b.radius*b.radius, minR2)
		r := math.Sqrt(r2)
		f := b.gm / (r2 * r)
		acc.X += f * dx
		acc.Y += f * dy
		acc.Z += f * dz
		phi -= b.gm / r
	}
	return acc, phi
}

// Step advances the world by one tick: TimeScale/PhysicsFPS simulated
// seconds.
func (w *World) Step() {
	w.Advance(w.timeScale * w.tickDt)
}

// Advance advances the world by dt simulated seconds (ignored unless
// dt > 0), in sub-steps no longer than MaxStep (shorter for the vessel
// near a body), at most the quality level's cap.
func (w *World) Advance(dt float64) {
	if !(dt > 0) || math.IsInf(dt, 0) {
		w.lastSub, w.lastPSub = 0, 0
		return
	}
	w.steps++
	subCap := w.q.subSteps
	// Particle steps in this advance: each advances one slice of
	// 1/ParticleStride of the particles by the time since its last update.
	m := 0
	if w.parts.len() > 0 {
		m = capSteps(float64(w.q.particleEvery)*dt/w.pMaxStep, w.q.particleSubSteps)
	}
	hmax := w.opts.MaxStep
	if w.player != nil && w.player.status == PlayerFlying {
		hmax = min(hmax, w.player.maxStep(w))
	}
	n := capSteps(dt/hmax, subCap)
	if m > 0 {
		n = m * ((n + m - 1) / m)
		if n > subCap {
			n = m * max(1, subCap/m)
		}
	}
	per := 1
	if m > 0 {
		per = n / m
	}
	t0 := w.t
	h := dt / float64(n)
	for i := range n {
		// Times are taken from t0, not summed, so they do not drift.
		w.subStep(h, t0+dt*float64(i+1)/float64(n))
		if m > 0 && (i+1)%per == 0 {
			w.particleBoundary()
		}
	}
	w.t = t0 + dt
	w.lastSub, w.lastPSub = n, m
}

// capSteps is ⌈x⌉ clamped to [1, limit].
func capSteps(x float64, limit int) int {
	if !(x < float64(limit)) { // also NaN, +Inf
		return limit
	}
	return max(1, int(math.Ceil(x)))
}

// subStep advances bodies and vessel by h, ending at time tEnd, with a
// drift-kick-drift leapfrog (forces at the midpoint). The particles, which
// need the bodies only at sub-step ends, take kick-drift-kick steps in
// particleBoundary.
func (w *World) subStep(h, tEnd float64) {
	hh := 0.5 * h
	bs := w.bodies
	for i := range bs {
		b := &bs[i]
		w.prev[i] = b.pos
		b.pos.X += b.vel.X * hh
		b.pos.Y += b.vel.Y * hh
		b.pos.Z += b.vel.Z * hh
	}
	pl := w.player
	if pl != nil {
		pl.drift1(w, h)
	}
	w.bodyAccel()
	for i := range bs {
		b := &bs[i]
		b.vel.X += b.acc.X * h
		b.vel.Y += b.acc.Y * h
		b.vel.Z += b.acc.Z * h
	}
	if pl != nil {
		pl.kickDrift2(w, h)
	}
	for i := range bs {
		b := &bs[i]
		b.pos.X += b.vel.X * hh
		b.pos.Y += b.vel.Y * hh
		b.pos.Z += b.vel.Z * hh
	}
	w.t = tEnd
	if pl != nil {
		pl.finish(w, h)
	}
}

// particleBoundary updates the particle slice whose turn it is, from its
// last update time to now, against the bodies as they are now.
func (w *World) particleBoundary() {
	k := len(w.sliceT)
	s := int(w.boundary % uint64(k))
	w.boundary++
	w.advanceSlice(s)
}

// advanceSlice steps slice s from its last update time to now.
func (w *World) advanceSlice(s int) {
	h := w.t - w.sliceT[s]
	w.sliceT[s] = w.t
	if !(h > 0) {
		return
	}
	lo, hi := w.sliceRange(s)
	w.refreshKB()
	w.pool.run(job{kind: jobStep, kernel: w.kernel, p: &w.parts, bodies: w.kb, lo: lo, hi: hi, h: h})
	w.particlesChanged = true
}

func (w *World) sliceRange(s int) (lo, hi int) {
	n, k := w.parts.len(), len(w.sliceT)
	return n * s / k, n * (s + 1) / k
}

// syncParticles brings every particle slice to the current time.
func (w *World) syncParticles() {
	for s := range w.sliceT {
		w.advanceSlice(s)
	}
}

// Time returns the simulation time in seconds since J2000.
func (w *World) Time() float64 { return w.t }

// Steps returns how many times the world has advanced.
func (w *World) Steps() uint64 { return w.steps }

// TimeScale returns the time acceleration used by Step.
func (w *World) TimeScale() float64 { return w.timeScale }

// SetTimeScale sets the time acceleration used by Step, in [0, MaxTimeScale].
func (w *World) SetTimeScale(s float64) error {
	if !(s >= 0 && s <= MaxTimeScale) {
		return fmt.Errorf("%w: time scale %g outside [0, %g]", ErrInvalidSpec, s, float64(MaxTimeScale))
	}
	w.timeScale = s
	return nil
}

// SpeedOfLight returns the world's speed of light in m/s.
func (w *World) SpeedOfLight() float64 { return w.c }

// Spec returns a deep copy of the spec the world was built from.
func (w *World) Spec() *Spec { return w.spec.clone() }

// SetInput sets the pilot input, clamped (see ClampInput), applied from the
// next step on.
func (w *World) SetInput(in Input) { w.input = ClampInput(in) }

// Bodies returns the bodies' current states.
func (w *World) Bodies() []BodyState {
	out := make([]BodyState, len(w.bodies))
	for i, b := range w.bodies {
		out[i] = BodyState{Name: b.name, GM: b.gm, Radius: b.radius, Pos: b.pos, Vel: b.vel}
	}
	return out
}

// Player returns the vessel's state, or nil when the world has none.
func (w *World) Player() *PlayerState {
	if w.player == nil {
		return nil
	}
	return w.player.state(w)
}

// ParticleCount returns the number of test particles.
func (w *World) ParticleCount() int { return w.parts.len() }

// Particle returns particle i's position and velocity as of its last
// update (all particles are at the current time at full quality).
func (w *World) Particle(i int) (pos, vel Vec3) {
	p := &w.parts
	return Vec3{p.X[i], p.Y[i], p.Z[i]}, Vec3{p.VX[i], p.VY[i], p.VZ[i]}
}

// ParticleGroups returns the named particle ranges (shared, read-only).
func (w *World) ParticleGroups() []ParticleGroup { return w.groups }

// particlePositions returns a fresh float32 x,y,z array of the particles,
// each slice moved on to the current time.
func (w *World) particlePositions() []float32 {
	n := w.parts.len()
	if n == 0 {
		return nil
	}
	out := make([]float32, 3*n)
	for s := range w.sliceT {
		lo, hi := w.sliceRange(s)
		w.pool.run(job{kind: jobConvert, p: &w.parts, lo: lo, hi: hi, h: w.t - w.sliceT[s], out: out})
	}
	w.particlesChanged = false
	return out
}

// Quality returns the world's current quality level.
func (w *World) Quality() int { return w.q.level }

// SetQuality sets the quality level, clamped to [0, MaxQualityLevel]:
// 0 is full quality; each higher level takes fewer sub-steps and updates
// the particles less often (see qualityFor).
func (w *World) SetQuality(level int) {
	level = min(max(level, 0), MaxQualityLevel)
	q := qualityFor(level, w.opts)
	if q.particleEvery != len(w.sliceT) {
		w.syncParticles()
		w.sliceT = make([]float64, q.particleEvery)
		for i := range w.sliceT {
			w.sliceT[i] = w.t
		}
		w.boundary = 0
	}
	w.q = q
}

// findBody returns the index of the first body named name, or -1.
func (w *World) findBody(name string) int {
	for i := range w.bodies {
		if w.bodies[i].name == name {
			return i
		}
	}
	return -1
}

// Spawn adds a massive body at the current time. The name must be new and
// not empty.
func (w *World) Spawn(b BodySpec) error {
	if b.Name == "" {
		return fmt.Errorf("%w: spawn: empty name", ErrInvalidSpec)
	}
	if w.findBody(b.Name) >= 0 {
		return fmt.Errorf("%w: spawn: a body named %q exists", ErrInvalidSpec, b.Name)
	}
	probe := Spec{Bodies: []BodySpec{b}}
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("spawn %q: %w", b.Name, err)
	}
	w.syncParticles()
	w.bodies = append(w.bodies, body{name: b.Name, gm: b.GM, radius: b.Radius, pos: b.Pos, vel: b.Vel})
	w.bodiesChanged(true)
	return nil
}

// Remove deletes the first body named name. A vessel landed on or crashed
// into it flies on with the body's velocity.
func (w *World) Remove(name string) error {
	i := w.findBody(name)
	if i < 0 {
		return fmt.Errorf("remove %q: %w", name, ErrNotFound)
	}
	w.syncParticles()
	if pl := w.player; pl != nil && pl.body >= 0 {
		switch {
		case pl.body == i:
			pl.status, pl.body = PlayerFlying, -1
		case pl.body > i:
			pl.body--
		}
	}
	w.bodies = append(w.bodies[:i], w.bodies[i+1:]...)
	w.bodiesChanged(true)
	return nil
}

// Teleport moves the vessel to pos (velocity unchanged, status flying).
func (w *World) Teleport(pos Vec3) error {
	if w.player == nil {
		return ErrNoPlayer
	}
	if !pos.finite() {
		return fmt.Errorf("%w: teleport: position is not finite", ErrInvalidSpec)
	}
	w.player.teleport(w, pos, w.player.u)
	return nil
}

// TeleportOrbit puts the vessel on a circular orbit altitude metres above
// the surface of the named body, in the ecliptic plane, prograde
// (counter-clockwise seen from +Z), on the side where the vessel already
// is (+X when it is at the body's centre). A negative altitude selects the
// default: a quarter of the body's radius, at least 1 km.
func (w *World) TeleportOrbit(name string, altitude float64) error {
	if w.player == nil {
		return ErrNoPlayer
	}
	i := w.findBody(name)
	if i < 0 {
		return fmt.Errorf("teleport %q: %w", name, ErrNotFound)
	}
	if math.IsNaN(altitude) || math.IsInf(altitude, 0) {
		return fmt.Errorf("%w: teleport: altitude is not finite", ErrInvalidSpec)
	}
	b := w.bodies[i]
	if altitude < 0 {
		altitude = max(b.radius/4, 1000)
	}
	r := b.radius + altitude + w.player.radius
	dir := w.player.pos.Sub(b.pos)
	dir.Z = 0
	if n := dir.Norm(); n > 0 {
		dir = dir.Scale(1 / n)
	} else {
		dir = Vec3{X: 1}
	}
	speed := math.Sqrt(b.gm / r)
	vel := b.vel.Add(Vec3{-dir.Y, dir.X, 0}.Scale(speed))
	if vel.Norm() >= w.c {
		return fmt.Errorf("%w: teleport: orbital speed %g m/s is not below the speed of light", ErrInvalidSpec, vel.Norm())
	}
	w.player.teleport(w, b.pos.Add(dir.Scale(r)), w.player.properVelocity(vel, w))
	return nil
}
