package engine

import (
	"fmt"
	"math"
	"testing"
)

// TestKeplerOrbit compares a two-body orbit with the analytic solution of
// Kepler's equation. The leapfrog's error is a slow phase drift (linear in
// time) plus a bounded shape error, so the position error must stay small
// over many orbits and grow no faster than linearly.
func TestKeplerOrbit(t *testing.T) {
	const (
		gm1, gm2      = 1.32712440018e20, 1.26686534e17 // Sun, Jupiter: a real two-body problem
		a, e          = 1.5e11, 0.3
		stepsPerOrbit = 2000
	)
	orbits := steps(20, 4)
	mu := gm1 + gm2
	el := OrbitalElements{A: a, E: e, I: 0.2, Node: 1, ArgPeri: 2, MeanAnomaly: 0.5}
	rel, relV := el.StateVectors(mu)
	spec := &Spec{Bodies: []BodySpec{
		{Name: "star", GM: gm1, Pos: rel.Scale(-gm2 / mu), Vel: relV.Scale(-gm2 / mu)},
		{Name: "planet", GM: gm2, Pos: rel.Scale(gm1 / mu), Vel: relV.Scale(gm1 / mu)},
	}}
	period := 2 * math.Pi * math.Sqrt(a*a*a/mu)
	h := period / stepsPerOrbit
	w := mustWorld(t, spec, WorldOptions{MaxStep: h * 1.0001})

	n := math.Sqrt(mu / (a * a * a))
	var errs []float64
	for orbit := 1; orbit <= orbits; orbit++ {
		for range stepsPerOrbit {
			w.Advance(h)
		}
		bs := w.Bodies()
		got := bs[1].Pos.Sub(bs[0].Pos)
		el.MeanAnomaly = 0.5 + n*(w.Time()-0)
		want, _ := el.StateVectors(mu)
		errs = append(errs, got.Sub(want).Norm()/a)
	}
	last := errs[len(errs)-1]
	t.Logf("relative position error after %d orbits (%d steps/orbit): %.3g (after 1: %.3g)", orbits, stepsPerOrbit, last, errs[0])
	// The leapfrog's phase error per orbit is of order (2π/steps)² (1e-5
	// here), a few times more at e = 0.3; allow ten times that per orbit. A
	// first-order method would be off by about 2π/steps = 3e-3 per orbit.
	if bound := 10 * math.Pow(2*math.Pi/stepsPerOrbit, 2) * float64(orbits); last > bound {
		t.Errorf("position error %.3g a after %d orbits, want <= %.3g", last, orbits, bound)
	}
	// No faster than linear growth: the error per orbit at the end is no
	// larger than twice the error per orbit over the first quarter.
	q := len(errs) / 4
	if q > 0 {
		early := errs[q-1] / float64(q)
		late := last / float64(len(errs))
		if late > 2*early+1e-12 {
			t.Errorf("error grows faster than linearly: %.3g/orbit early, %.3g/orbit late", early, late)
		}
	}
}

// TestSolarSystemEnergy runs the Sun and the eight planets (J2000) with a
// one-day step: the relative energy error must stay within 2.2e-6 with no
// secular growth, and angular momentum must be conserved to round-off.
func TestSolarSystemEnergy(t *testing.T) {
	n := steps(100_000, 20_000)
	if *long {
		n = 1_000_000
	}
	spec := &Spec{Bodies: solarSystem(t), TimeScale: 86400}
	w := mustWorld(t, spec, WorldOptions{PhysicsFPS: 1, MaxStep: 86400})
	if got := w.TimeScale() / float64(w.opts.PhysicsFPS); got != 86400 {
		t.Fatalf("step %g s, want one day", got)
	}
	bs := w.Bodies()
	e0, l0 := energy(bs), angularMomentum(bs)
	var maxFirst, maxSecond, maxL float64
	for i := range n {
		w.Step()
		if w.lastSub != 1 {
			t.Fatalf("tick %d took %d sub-steps, want 1", i, w.lastSub)
		}
		if i%10 != 9 && i != n-1 {
			continue
		}
		bs = w.Bodies()
		de := math.Abs((energy(bs) - e0) / e0)
		if i < n/2 {
			maxFirst = max(maxFirst, de)
		} else {
			maxSecond = max(maxSecond, de)
		}
		maxL = max(maxL, angularMomentum(bs).Sub(l0).Norm()/l0.Norm())
	}
	t.Logf("%d steps of 1 day: max relative energy error %.3g (first half) %.3g (second half); angular momentum %.3g",
		n, maxFirst, maxSecond, maxL)
	if worst := max(maxFirst, maxSecond); worst > 2.2e-6 {
		t.Errorf("relative energy error %.3g, want <= 2.2e-6", worst)
	}
	// A secular drift would make the second half's worst error clearly
	// larger than the first half's; an oscillating error keeps them alike.
	if maxSecond > 1.1*maxFirst {
		t.Errorf("energy error grows: %.3g in the first half, %.3g in the second", maxFirst, maxSecond)
	}
	if maxL > 1e-12 {
		t.Errorf("relative angular momentum error %.3g, want round-off (<= 1e-12)", maxL)
	}
}

// flipVelocities reverses every velocity in w (bodies, particles, vessel).
func flipVelocities(w *World) {
	for i := range w.bodies {
		w.bodies[i].vel = w.bodies[i].vel.Scale(-1)
	}
	p := &w.parts
	for i := range p.len() {
		p.VX[i], p.VY[i], p.VZ[i] = -p.VX[i], -p.VY[i], -p.VZ[i]
	}
	if v := w.player; v != nil {
		v.u = v.u.Scale(-1)
	}
}

// TestTimeReversibility runs forward, flips every velocity, runs the same
// number of steps and checks the world is back where it started.
func TestTimeReversibility(t *testing.T) {
	spec := BenchSpec(300, 7)
	spec.TimeScale = 3600 * 90 // one hour per tick
	spec.Player = &PlayerSpec{Name: "ship", Pos: Vec3{1.2 * AU, 0.1 * AU, 0}, Vel: Vec3{0, 25e3, 1e3}}
	w := mustWorld(t, spec, WorldOptions{})
	start := w.Bodies()
	startP := w.Player()
	var startParts []Vec3
	for i := range w.ParticleCount() {
		p, _ := w.Particle(i)
		startParts = append(startParts, p)
	}
	n := steps(2000, 400)
	for range n {
		w.Step()
	}
	moved := w.Bodies()[3].Pos.Sub(start[3].Pos).Norm()
	flipVelocities(w)
	for range n {
		w.Step()
	}
	worst := 0.0
	for i, b := range w.Bodies() {
		worst = max(worst, b.Pos.Sub(start[i].Pos).Norm()/AU)
		worst = max(worst, b.Vel.Add(start[i].Vel).Norm()/(start[i].Vel.Norm()+1))
	}
	for i, want := range startParts {
		p, _ := w.Particle(i)
		worst = max(worst, p.Sub(want).Norm()/AU)
	}
	worst = max(worst, w.Player().Pos.Sub(startP.Pos).Norm()/AU)
	t.Logf("after %d steps out and back (the Earth moved %.3g AU): worst relative error %.3g", n, moved/AU, worst)
	if moved < 0.01*AU {
		t.Fatalf("the Earth moved only %g m: the test does not exercise anything", moved)
	}
	if worst > 1e-10 {
		t.Errorf("not back at the start: worst relative error %.3g, want <= 1e-10", worst)
	}
}

// determinismRun steps a busy world (bodies, 10k particles, a thrusting
// and turning vessel, warp, commands at fixed ticks) and returns its state.
func determinismRun(t *testing.T, workers, level int) []float64 {
	t.Helper()
	spec := BenchSpec(10_000, 3)
	spec.TimeScale = 1e5
	spec.Player = &PlayerSpec{Name: "ship", Pos: Vec3{AU + 7e6, 0, 0}, Vel: Vec3{0, 30e3, 0}}
	w := mustWorld(t, spec, WorldOptions{Workers: workers})
	w.SetQuality(level)
	w.SetInput(Input{Throttle: Vec3{0.3, 0, -1}, Rotation: Vec3{0.1, 0.2, 0}})
	for tick := range steps(40, 12) {
		switch tick {
		case 3:
			if err := w.Spawn(BodySpec{Name: "rogue", GM: 1e15, Radius: 1e6, Pos: Vec3{2.5 * AU, 0, 0}, Vel: Vec3{0, 1e3, 0}}); err != nil {
				t.Fatal(err)
			}
		case 6:
			if err := w.Remove("Mars"); err != nil {
				t.Fatal(err)
			}
		case 8:
			if err := w.TeleportOrbit("Earth", 4e5); err != nil {
				t.Fatal(err)
			}
		}
		w.Step()
	}
	w.syncParticles()
	return worldState(w)
}

// TestDeterminism: the same spec and commands give bit-identical states,
// run to run and whatever the number of workers, at full and reduced
// quality.
func TestDeterminism(t *testing.T) {
	for _, level := range []int{0, 3} {
		t.Run(fmt.Sprintf("quality%d", level), func(t *testing.T) {
			want := determinismRun(t, 1, level)
			for _, workers := range []int{1, 2, 4} {
				got := determinismRun(t, workers, level)
				if i, ok := bitsEqual(got, want); !ok {
					t.Errorf("workers=%d: state differs from workers=1 at index %d", workers, i)
				}
			}
		})
	}
}
