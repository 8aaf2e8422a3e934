package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// runBench is `spacetime bench engine`: the engine's throughput and its
// real-time tick figures on this machine.
func runBench(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] != "engine" {
		fmt.Fprintln(env.stderr, "Usage: spacetime bench engine [--particles N] [--seconds S] [--workers W] [--json]")
		return errUsage
	}
	fs := newFlagSet(env, "bench engine", "bench engine [--particles N] [--seconds S] [--workers W] [--json]")
	particles := fs.Int("particles", 100_000, "test particles beside the 10 massive bodies")
	seconds := fs.Float64("seconds", 5, "length of the real-time 90 Hz run")
	workers := fs.Int("workers", 1, "particle goroutines")
	dynamic := fs.Bool("dynamic-quality", false, "let the engine lower its quality level during the run")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	res, err := engine.RunBench(ctx, engine.BenchOptions{
		Particles: *particles, Seconds: *seconds, Workers: *workers, DynamicQuality: *dynamic,
	})
	if err != nil {
		return fmt.Errorf("bench engine: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(res)
	}
	fmt.Fprintf(env.stdout, "particles:            %d (+10 bodies, %d workers)\n", res.Particles, res.Workers)
	fmt.Fprintf(env.stdout, "particle-steps/s:     %.3g (%.1f ns per particle-step)\n", res.ParticleStepsPerSec, res.NsPerParticleStep)
	fmt.Fprintf(env.stdout, "real-time loop:       %.1f fps over %.0f s, %d ticks, %d overruns\n", res.FPS, res.Seconds, res.Ticks, res.Overruns)
	fmt.Fprintf(env.stdout, "tick p50/p99/max:     %.3f / %.3f / %.3f ms\n", res.TickP50Ms, res.TickP99Ms, res.TickMaxMs)
	fmt.Fprintf(env.stdout, "quality level at end: %d\n", res.Quality)
	return nil
}
