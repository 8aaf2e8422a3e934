package scene

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// BeltStream is the second seed word of the PCG generator of every belt:
// a belt with metadata/belt_seed = s draws from
// rand.New(rand.NewPCG(uint64(s), BeltStream)).
const BeltStream uint64 = 0x5370616365546d65 // "SpaceTme"

// Belt describes one generated particle group: Count test particles on
// Kepler orbits about a centre of gravitational parameter GM at CenterPos
// moving at CenterVel.
type Belt struct {
	Count                int
	Seed                 int64
	Inner, Outer         float64 // semi-major axis range, metres
	MaxEccentricity      float64 // in [0, 1)
	MaxInclinationDeg    float64 // in [0, 180]
	GM                   float64 // of the centre body, m³/s²
	CenterPos, CenterVel Vector3
}

// Generate writes the belt's particles into the six slices, which must
// each have room for Count entries. For each particle it draws, in this
// order, from the seeded PCG generator: the semi-major axis a uniform in
// [Inner, Outer], the eccentricity e uniform in [0, MaxEccentricity], the
// inclination i uniform in [0, MaxInclinationDeg], the longitude of the
// ascending node Ω, the argument of periapsis ω and the mean anomaly M,
// each uniform in [0, 2π). The orbit's reference plane is the scene's x-y
// plane (the ecliptic), its pole +z. Positions and velocities are absolute:
// the centre's are added.
func (bt Belt) Generate(x, y, z, vx, vy, vz []float64) {
	rng := rand.New(rand.NewPCG(uint64(bt.Seed), BeltStream))
	maxI := bt.MaxInclinationDeg * math.Pi / 180
	for k := range bt.Count {
		a := bt.Inner + (bt.Outer-bt.Inner)*rng.Float64()
		e := bt.MaxEccentricity * rng.Float64()
		inc := maxI * rng.Float64()
		node := 2 * math.Pi * rng.Float64()
		peri := 2 * math.Pi * rng.Float64()
		mean := 2 * math.Pi * rng.Float64()
		p, v := keplerState(bt.GM, a, e, inc, node, peri, mean)
		x[k], y[k], z[k] = p.X+bt.CenterPos.X, p.Y+bt.CenterPos.Y, p.Z+bt.CenterPos.Z
		vx[k], vy[k], vz[k] = v.X+bt.CenterVel.X, v.Y+bt.CenterVel.Y, v.Z+bt.CenterVel.Z
	}
}

// solveKepler returns the eccentric anomaly E with E − e·sin E = M, for
// 0 ≤ e < 1, by Newton's method.
func solveKepler(mean, e float64) float64 {
	E := mean
	if e > 0.8 {
		E = math.Pi
	}
	for range 64 {
		s, c := math.Sincos(E)
		d := (E - e*s - mean) / (1 - e*c)
		E -= d
		if math.Abs(d) < 1e-15 {
			break
		}
	}
	return E
}

// keplerState returns the position and velocity relative to the centre
// for the given orbital elements (angles in radians).
func keplerState(gm, a, e, inc, node, peri, mean float64) (Vector3, Vector3) {
	E := solveKepler(mean, e)
	sinE, cosE := math.Sincos(E)
	q := math.Sqrt(1 - e*e)
	r := a * (1 - e*cosE)
	// Perifocal frame: x toward periapsis, z along the orbit's pole.
	px, py := a*(cosE-e), a*q*sinE
	k := math.Sqrt(gm*a) / r
	qx, qy := -k*sinE, k*q*cosE

	sO, cO := math.Sincos(node)
	sw, cw := math.Sincos(peri)
	si, ci := math.Sincos(inc)
	// Rows of Rz(Ω)·Rx(i)·Rz(ω), first two columns (perifocal x and y).
	m11, m12 := cO*cw-sO*sw*ci, -cO*sw-sO*cw*ci
	m21, m22 := sO*cw+cO*sw*ci, -sO*sw+cO*cw*ci
	m31, m32 := sw*si, cw*si
	pos := Vector3{m11*px + m12*py, m21*px + m22*py, m31*px + m32*py}
	vel := Vector3{m11*qx + m12*qy, m21*qx + m22*qy, m31*qx + m32*qy}
	return pos, vel
}

// belts validates every belt node and generates the particles.
func (b *builder) belts(spec *engine.Spec, nodes []*Node) {
	type planned struct {
		n    *Node
		belt Belt
		rep  BeltReport
	}
	var plans []planned
	total := 0
	names := map[string]int{}
	for _, n := range nodes {
		names[n.Name]++
	}
	for _, n := range nodes {
		ok := true
		count, hasCount := b.integer(n, metaBeltCount)
		if hasCount && (count < 0 || count > MaxBeltCount) {
			b.propErr(n, metaBeltCount, "must be between 0 and %d, not %d", MaxBeltCount, count)
			ok = false
		}
		ok = ok && hasCount
		inner, hasInner := b.positive(n, metaBeltInner, false)
		outer, hasOuter := b.positive(n, metaBeltOuter, false)
		for _, m := range []struct {
			key string
			has bool
		}{{metaBeltInner, hasInner}, {metaBeltOuter, hasOuter}} {
			if _, present := n.Prop(m.key); !present {
				b.propErr(n, m.key, "is required on a belt (a node with %s)", metaBeltCount)
			}
			ok = ok && m.has
		}
		if hasInner && hasOuter && inner > outer {
			b.propErr(n, metaBeltInner, "belt_inner %s is greater than belt_outer %s", formatFloat(inner), formatFloat(outer))
			ok = false
		}
		seed, _ := b.integer(n, metaBeltSeed)
		maxI := DefaultBeltMaxInclinationDeg
		if _, present := n.Prop(metaBeltMaxIncl); present {
			v, good := b.number(n, metaBeltMaxIncl)
			if good && (v < 0 || v > 180) {
				b.propErr(n, metaBeltMaxIncl, "must be between 0 and 180 degrees, not %s", formatFloat(v))
				good = false
			}
			ok = ok && good
			maxI = v
		}
		maxE := DefaultBeltMaxEccentricity
		if _, present := n.Prop(metaBeltMaxEcc); present {
			v, good := b.number(n, metaBeltMaxEcc)
			if good && (v < 0 || v >= 1) {
				b.propErr(n, metaBeltMaxEcc, "must be in [0, 1), not %s", formatFloat(v))
				good = false
			}
			ok = ok && good
			maxE = v
		}
		center, centerOK := b.beltCenter(n)
		ok = ok && centerOK
		if !ok {
			continue
		}
		body := spec.Bodies[b.bodyOf[center]]
		name := n.Name
		if names[name] > 1 {
			name = n.Path
		}
		bt := Belt{
			Count: int(count), Seed: seed, Inner: inner, Outer: outer,
			MaxEccentricity: maxE, MaxInclinationDeg: maxI, GM: body.GM,
			CenterPos: Vector3{body.Pos.X, body.Pos.Y, body.Pos.Z},
			CenterVel: Vector3{body.Vel.X, body.Vel.Y, body.Vel.Z},
		}
		if body.Radius > 0 && inner*(1-maxE) <= body.Radius {
			b.warn(n, metaBeltInner, "particles may start inside %s: periapsis down to %s m, radius %s m",
				body.Name, formatFloat(inner*(1-maxE)), formatFloat(body.Radius))
		}
		total += bt.Count
		plans = append(plans, planned{n: n, belt: bt, rep: BeltReport{
			Name: name, Node: n.Path, Center: center.Path, Count: bt.Count, Seed: seed, Inner: inner, Outer: outer,
		}})
	}
	if total > b.maxParticles {
		b.errs = append(b.errs, &SceneError{File: b.tree.Path,
			Msg: fmt.Sprintf("belts ask for %d particles in all, over the limit of %d", total, b.maxParticles)})
		return
	}
	for _, pl := range plans {
		b.report.Belts = append(b.report.Belts, pl.rep)
	}
	if len(b.errs) > 0 || len(plans) == 0 {
		return // no world will be built: skip the work
	}
	ps := &spec.Particles
	if total > 0 {
		ps.X, ps.Y, ps.Z = make([]float64, total), make([]float64, total), make([]float64, total)
		ps.VX, ps.VY, ps.VZ = make([]float64, total), make([]float64, total), make([]float64, total)
	}
	start := 0
	for _, pl := range plans {
		end := start + pl.belt.Count
		pl.belt.Generate(ps.X[start:end], ps.Y[start:end], ps.Z[start:end], ps.VX[start:end], ps.VY[start:end], ps.VZ[start:end])
		ps.Groups = append(ps.Groups, engine.ParticleGroup{Name: pl.rep.Name, Start: start, Count: pl.belt.Count})
		start = end
	}
	b.report.Particles = total
}

// beltCenter finds the centre body of belt n: metadata/belt_center (a
// NodePath relative to the belt node, or else to the scene root), or the
// first body.
func (b *builder) beltCenter(n *Node) (*Node, bool) {
	v, present := n.Prop(metaBeltCenter)
	if !present {
		if len(b.bodyNodes) > 0 {
			return b.bodyNodes[0], true
		}
		b.propErr(n, metaBeltCount, "belt needs a centre body and the scene has none")
		return nil, false
	}
	p, ok := v.AsNodePath()
	if !ok {
		b.propErr(n, metaBeltCenter, "must be a NodePath, not %s", v.Kind())
		return nil, false
	}
	c := n.Get(p)
	if c == nil {
		c = b.tree.Find(p)
	}
	if c == nil {
		b.propErr(n, metaBeltCenter, "no node at %q", p)
		return nil, false
	}
	if _, ok := b.bodyOf[c]; !ok {
		b.propErr(n, metaBeltCenter, "%s is not a massive body", c.Path)
		return nil, false
	}
	return c, true
}
