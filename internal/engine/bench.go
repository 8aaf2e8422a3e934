package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// AU is the astronomical unit in metres.
const AU = 149_597_870_700.0

// BenchSpec returns the benchmark world: the Sun, the eight planets and
// the Moon on circular orbits (10 massive bodies, real GM and radii), and
// n test particles in an asteroid belt between 2.2 and 3.3 AU (eccentricity
// up to 0.1, inclination up to 10°), drawn deterministically from seed.
func BenchSpec(n int, seed uint64) *Spec {
	const gmSun = 1.32712440018e20
	s := &Spec{Name: "bench", Path: "bench://10-bodies", Epoch: 0}
	s.Bodies = append(s.Bodies, BodySpec{Name: "Sun", GM: gmSun, Radius: 695_700e3})
	planets := []struct {
		name      string
		gm, r, a  float64 // m³/s², m, AU
		longitude float64 // degrees
	}{
		{"Mercury", 2.2031868e13, 2439.7e3, 0.387, 252},
		{"Venus", 3.24858592e14, 6051.8e3, 0.723, 182},
		{"Earth", 3.986004418e14, 6371e3, 1.000, 100},
		{"Mars", 4.2828375e13, 3389.5e3, 1.524, 355},
		{"Jupiter", 1.26686534e17, 69911e3, 5.203, 34},
		{"Saturn", 3.7931187e16, 58232e3, 9.537, 50},
		{"Uranus", 5.793939e15, 25362e3, 19.19, 313},
		{"Neptune", 6.836529e15, 24622e3, 30.07, 305},
	}
	for _, p := range planets {
		el := OrbitalElements{A: p.a * AU, MeanAnomaly: p.longitude * math.Pi / 180}
		pos, vel := el.StateVectors(gmSun + p.gm)
		s.Bodies = append(s.Bodies, BodySpec{Name: p.name, GM: p.gm, Radius: p.r, Pos: pos, Vel: vel})
		if p.name == "Earth" {
			const gmMoon = 4.9028e12
			mp, mv := OrbitalElements{A: 384_400e3, I: 5.145 * math.Pi / 180}.StateVectors(p.gm + gmMoon)
			s.Bodies = append(s.Bodies, BodySpec{Name: "Moon", GM: gmMoon, Radius: 1737.4e3, Pos: pos.Add(mp), Vel: vel.Add(mv)})
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ps := &s.Particles
	for _, a := range []*[]float64{&ps.X, &ps.Y, &ps.Z, &ps.VX, &ps.VY, &ps.VZ} {
		*a = make([]float64, n)
	}
	for i := range n {
		el := OrbitalElements{
			A:           (2.2 + 1.1*rng.Float64()) * AU,
			E:           0.1 * rng.Float64(),
			I:           10 * math.Pi / 180 * rng.Float64(),
			Node:        2 * math.Pi * rng.Float64(),
			ArgPeri:     2 * math.Pi * rng.Float64(),
			MeanAnomaly: 2 * math.Pi * rng.Float64(),
		}
		p, v := el.StateVectors(gmSun)
		ps.X[i], ps.Y[i], ps.Z[i], ps.VX[i], ps.VY[i], ps.VZ[i] = p.X, p.Y, p.Z, v.X, v.Y, v.Z
	}
	if n > 0 {
		ps.Groups = []ParticleGroup{{Name: "belt", Start: 0, Count: n}}
	}
	return s
}

// BenchOptions configure RunBench.
type BenchOptions struct {
	// Particles is the number of test particles beside the 10 bodies.
	Particles int
	// Seconds is how long the real-time 90 Hz run lasts (default 5).
	Seconds float64
	// Workers is the number of particle goroutines (default 1).
	Workers int
	// DynamicQuality lets the engine lower its quality during the run;
	// off by default so that the figures are those of full quality.
	DynamicQuality bool
	// Logger receives the engine's events (default: discard).
	Logger *slog.Logger
}

// BenchResult is what RunBench measured.
type BenchResult struct {
	Particles int     `json:"particles"`
	Workers   int     `json:"workers"`
	Seconds   float64 `json:"seconds"`
	// Free-running throughput: ticks back to back at time scale 1.
	ParticleStepsPerSec float64 `json:"particle_steps_per_sec"`
	NsPerParticleStep   float64 `json:"ns_per_particle_step"`
	// The real-time loop at PhysicsFPS on the wall clock.
	Ticks     int     `json:"ticks"`
	TickP50Ms float64 `json:"tick_p50_ms"`
	TickP99Ms float64 `json:"tick_p99_ms"`
	TickMaxMs float64 `json:"tick_max_ms"`
	FPS       float64 `json:"fps"`
	Overruns  int     `json:"overruns"`
	Skipped   uint64  `json:"skipped"`
	Quality   int     `json:"quality"`
}

// RunBench measures the engine on BenchSpec(opts.Particles): first the
// particle kernel free-running (throughput), then the real 90 Hz loop on
// the wall clock for opts.Seconds (tick time percentiles, FPS, overruns,
// the final quality level). It uses the CPU for about opts.Seconds plus
// up to two seconds.
func RunBench(ctx context.Context, opts BenchOptions) (BenchResult, error) {
	if opts.Particles < 0 {
		return BenchResult{}, errors.New("engine: bench: negative particle count")
	}
	if !(opts.Seconds > 0) {
		opts.Seconds = 5
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	res := BenchResult{Particles: opts.Particles, Workers: opts.Workers, Seconds: opts.Seconds}
	spec := BenchSpec(opts.Particles, 1)

	if err := benchThroughput(ctx, spec, opts, &res); err != nil {
		return res, err
	}
	if err := benchLoop(ctx, spec, opts, &res); err != nil {
		return res, err
	}
	return res, nil
}

func benchThroughput(ctx context.Context, spec *Spec, opts BenchOptions, res *BenchResult) error {
	w, err := NewWorld(spec, WorldOptions{Workers: opts.Workers})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer w.Close()
	for range 3 { // warm up: workers started, caches filled
		w.Step()
	}
	budget := time.Duration(min(2, max(0.5, opts.Seconds/3)) * float64(time.Second))
	start := time.Now()
	ticks := 0
	for ticks < 10 || time.Since(start) < budget {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.Step()
		ticks++
	}
	el := time.Since(start)
	if steps := float64(ticks) * float64(opts.Particles); steps > 0 {
		res.NsPerParticleStep = float64(el.Nanoseconds()) / steps
		res.ParticleStepsPerSec = steps / el.Seconds()
	}
	return nil
}

func benchLoop(ctx context.Context, spec *Spec, opts BenchOptions, res *BenchResult) error {
	e := New(Options{Workers: opts.Workers, DynamicQuality: opts.DynamicQuality, Logger: opts.Logger})
	type sample struct {
		tick uint64
		end  time.Time
		d    time.Duration
	}
	samples := make([]sample, 0, int(opts.Seconds*float64(e.opts.PhysicsFPS)*1.2)+16)
	e.tickHook = func(tick uint64, end time.Time, d time.Duration) {
		samples = append(samples, sample{tick, end, d})
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Run(runCtx) })
	if err := e.Load(ctx, spec); err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("bench: %w", err)
	}
	first := e.Snapshot().Tick
	t := time.NewTimer(time.Duration(opts.Seconds * float64(time.Second)))
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	cancel()
	wg.Wait() // samples are ours from here
	if err := ctx.Err(); err != nil {
		return err
	}
	snap := e.Snapshot()
	var ds []time.Duration
	var t0, t1 time.Time
	for _, s := range samples {
		if s.tick <= first {
			continue
		}
		if len(ds) == 0 {
			t0 = s.end
		}
		t1 = s.end
		ds = append(ds, s.d)
		if s.d > e.dt {
			res.Overruns++
		}
	}
	res.Ticks = len(ds)
	if len(ds) > 1 {
		res.FPS = float64(len(ds)-1) / t1.Sub(t0).Seconds()
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	res.TickP50Ms = ms(nearestRank(ds, 0.5))
	res.TickP99Ms = ms(nearestRank(ds, 0.99))
	if len(ds) > 0 {
		res.TickMaxMs = ms(ds[len(ds)-1])
	}
	res.Skipped = snap.Perf.Skipped
	res.Quality = snap.Perf.Quality
	return nil
}
