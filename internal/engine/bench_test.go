package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// reportPerParticle reports ns per particle-step for b.N steps of n
// particles.
func reportPerParticle(b *testing.B, n, stepsPerOp int) {
	b.Helper()
	if n > 0 && b.N > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*stepsPerOp), "ns/particle-step")
	}
}

// BenchmarkStep is one World tick at time scale 1: 10 bodies and the
// vessel (one sub-step) plus n particles (one kick-drift-kick step each).
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("particles=%d/workers=%d", n, workers), func(b *testing.B) {
				spec := BenchSpec(n, 1)
				spec.Player = &PlayerSpec{Name: "ship", Pos: Vec3{2 * AU, 0, 0}}
				w := mustWorld(b, spec, WorldOptions{Workers: workers})
				w.Step() // start the workers
				b.ReportAllocs()
				for b.Loop() {
					w.Step()
				}
				reportPerParticle(b, n, 1)
			})
		}
	}
}

// BenchmarkKernel measures the particle kernel alone, both ways of forming
// GM/r³ (see kernel.go), so a regression in either shows.
func BenchmarkKernel(b *testing.B) {
	kernels := []struct {
		name string
		f    func(*particles, int, int, []kbody, float64)
	}{
		{"divsqrt", kdkDivSqrt},
		{"invcube", kdkInvCube},
	}
	for _, n := range []int{10_000, 100_000} {
		for _, k := range kernels {
			b.Run(fmt.Sprintf("%s/particles=%d", k.name, n), func(b *testing.B) {
				w := mustWorld(b, BenchSpec(n, 1), WorldOptions{})
				h := 1.0 / DefaultPhysicsFPS
				for b.Loop() {
					k.f(&w.parts, 0, n, w.kb, h)
				}
				reportPerParticle(b, n, 1)
			})
		}
	}
}

// BenchmarkTick is a whole engine tick on the real clock (commands, step,
// snapshot with a fresh float32 particle array), 100k particles; it
// reports the tick p99 the engine measured itself.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("particles=%d", n), func(b *testing.B) {
			e := New(Options{})
			w, err := NewWorld(BenchSpec(n, 1), e.wopts)
			if err != nil {
				b.Fatal(err)
			}
			e.swap(w, time.Now())
			b.Cleanup(func() { e.world.Close() })
			for b.Loop() {
				e.tick(time.Now())
			}
			b.ReportMetric(float64(e.perf.p99.Nanoseconds())/1e6, "p99-ms")
			b.ReportMetric(float64(e.perf.p50.Nanoseconds())/1e6, "p50-ms")
		})
	}
}

// BenchmarkRunBench runs the CLI's bench briefly (real 90 Hz loop).
func BenchmarkRunBench(b *testing.B) {
	for b.Loop() {
		r, err := RunBench(context.Background(), BenchOptions{Particles: 10_000, Seconds: 0.5})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.TickP99Ms, "p99-ms")
		b.ReportMetric(r.NsPerParticleStep, "ns/particle-step")
	}
}
