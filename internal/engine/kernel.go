package engine

import "math"

// This file holds the particle kernels: the hot loop of the engine. A
// particle's update reads only its own state, the body table and the step,
// in a fixed order of operations, so the result does not depend on how the
// particles are split between workers (bit-identical for any Workers).
//
// Two ways to form GM/r³ were measured on the reference machine (AMD EPYC,
// 10 bodies, 100k particles, ns per particle-step, best of several runs):
//
//	gm / (r2 * math.Sqrt(r2))        ~42 ns  (kernelDivSqrt, the default)
//	ir := 1/math.Sqrt(r2); gm*ir*ir*ir ~46 ns  (kernelInvCube)
//
// Both use one square root and one division per body (the divider is the
// bottleneck); the first has two fewer multiplications on the dependency
// chain. BenchmarkKernel keeps both measured.

// kbody is a massive body as the particle kernel sees it.
type kbody struct {
	x, y, z float64
	gm      float64
	r2min   float64 // r² is clamped to at least this (the body's radius²)
}

// particles are the massless test particles, one array per coordinate.
// AX, AY, AZ hold the acceleration at the particle's current position
// (bodies at the particle's own last update time), so a kick-drift-kick
// step costs one force evaluation.
type particles struct {
	X, Y, Z    []float64
	VX, VY, VZ []float64
	AX, AY, AZ []float64
}

func (p *particles) len() int { return len(p.X) }

func newParticles(n int) particles {
	// One backing array keeps the nine arrays together in memory.
	buf := make([]float64, 9*n)
	a := func(i int) []float64 { return buf[i*n : (i+1)*n : (i+1)*n] }
	return particles{X: a(0), Y: a(1), Z: a(2), VX: a(3), VY: a(4), VZ: a(5), AX: a(6), AY: a(7), AZ: a(8)}
}

// kernelKind selects the formula for GM/r³.
type kernelKind uint8

const (
	kernelDivSqrt kernelKind = iota // gm / (r2 * sqrt(r2))
	kernelInvCube                   // ir = 1/sqrt(r2); gm * ir * ir * ir
)

// kdkDivSqrt advances particles [lo, hi) by one kick-drift-kick step h:
// half kick with the stored acceleration, drift, new acceleration from the
// bodies (already at the end of the step), half kick.
func kdkDivSqrt(p *particles, lo, hi int, bs []kbody, h float64) {
	hh := 0.5 * h
	X := p.X[lo:hi]
	n := len(X)
	Y, Z := p.Y[lo:hi][:n], p.Z[lo:hi][:n]
	VX, VY, VZ := p.VX[lo:hi][:n], p.VY[lo:hi][:n], p.VZ[lo:hi][:n]
	AX, AY, AZ := p.AX[lo:hi][:n], p.AY[lo:hi][:n], p.AZ[lo:hi][:n]
	for i := range X {
		vx := VX[i] + AX[i]*hh
		vy := VY[i] + AY[i]*hh
		vz := VZ[i] + AZ[i]*hh
		x := X[i] + vx*h
		y := Y[i] + vy*h
		z := Z[i] + vz*h
		var ax, ay, az float64
		for j := range bs {
			b := &bs[j]
			dx, dy, dz := b.x-x, b.y-y, b.z-z
			r2 := dx*dx + dy*dy + dz*dz
			if r2 < b.r2min {
				r2 = b.r2min
			}
			f := b.gm / (r2 * math.Sqrt(r2))
			ax += f * dx
			ay += f * dy
			az += f * dz
		}
		X[i], Y[i], Z[i] = x, y, z
		VX[i], VY[i], VZ[i] = vx+ax*hh, vy+ay*hh, vz+az*hh
		AX[i], AY[i], AZ[i] = ax, ay, az
	}
}

// kdkInvCube is kdkDivSqrt with GM/r³ formed as gm·ir·ir·ir, ir = 1/√r².
// Kept to measure against (BenchmarkKernel).
func kdkInvCube(p *particles, lo, hi int, bs []kbody, h float64) {
	hh := 0.5 * h
	X := p.X[lo:hi]
	n := len(X)
	Y, Z := p.Y[lo:hi][:n], p.Z[lo:hi][:n]
	VX, VY, VZ := p.VX[lo:hi][:n], p.VY[lo:hi][:n], p.VZ[lo:hi][:n]
	AX, AY, AZ := p.AX[lo:hi][:n], p.AY[lo:hi][:n], p.AZ[lo:hi][:n]
	for i := range X {
		vx := VX[i] + AX[i]*hh
		vy := VY[i] + AY[i]*hh
		vz := VZ[i] + AZ[i]*hh
		x := X[i] + vx*h
		y := Y[i] + vy*h
		z := Z[i] + vz*h
		var ax, ay, az float64
		for j := range bs {
			b := &bs[j]
			dx, dy, dz := b.x-x, b.y-y, b.z-z
			r2 := dx*dx + dy*dy + dz*dz
			if r2 < b.r2min {
				r2 = b.r2min
			}
			ir := 1 / math.Sqrt(r2)
			f := b.gm * ir * ir * ir
			ax += f * dx
			ay += f * dy
			az += f * dz
		}
		X[i], Y[i], Z[i] = x, y, z
		VX[i], VY[i], VZ[i] = vx+ax*hh, vy+ay*hh, vz+az*hh
		AX[i], AY[i], AZ[i] = ax, ay, az
	}
}

// accelParticles sets the stored acceleration of particles [lo, hi) from
// the bodies at their current positions (after a load or a body change).
// It uses the default formula, as kdkDivSqrt does.
func accelParticles(p *particles, lo, hi int, bs []kbody) {
	for i := lo; i < hi; i++ {
		x, y, z := p.X[i], p.Y[i], p.Z[i]
		var ax, ay, az float64
		for j := range bs {
			b := &bs[j]
			dx, dy, dz := b.x-x, b.y-y, b.z-z
			r2 := dx*dx + dy*dy + dz*dz
			if r2 < b.r2min {
				r2 = b.r2min
			}
			f := b.gm / (r2 * math.Sqrt(r2))
			ax += f * dx
			ay += f * dy
			az += f * dz
		}
		p.AX[i], p.AY[i], p.AZ[i] = ax, ay, az
	}
}

// convertPositions writes float32 x,y,z triples of particles [lo, hi) into
// out (indexed from particle 0), each moved on by lag seconds along its
// velocity (particles updated at an earlier tick are drawn where they are
// now, to first order).
func convertPositions(p *particles, lo, hi int, lag float64, out []float32) {
	o := out[3*lo : 3*hi]
	for i := lo; i < hi; i++ {
		k := 3 * (i - lo)
		o[k] = float32(p.X[i] + p.VX[i]*lag)
		o[k+1] = float32(p.Y[i] + p.VY[i]*lag)
		o[k+2] = float32(p.Z[i] + p.VZ[i]*lag)
	}
}
