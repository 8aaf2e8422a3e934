package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

const benchUsage = `Usage: spacetime bench engine    [--particles N] [--seconds S] [--workers W] [--json]
       spacetime bench telemetry [--clients N] [--rate HZ] [--seconds S] [--particles N] [--stalled K] [--json]`

// runBench is `spacetime bench engine|telemetry`: figures of this machine.
func runBench(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, benchUsage)
		return errUsage
	}
	switch args[0] {
	case "engine":
		return runBenchEngine(ctx, env, args[1:])
	case "telemetry":
		return runBenchTelemetry(ctx, env, args[1:])
	case "telemetry-load":
		// The load generator of bench telemetry, run as a child process
		// so that the server's CPU is measured without the clients'.
		return telemetry.LoadMain(ctx, args[1:], env.stdin, env.stdout)
	}
	fmt.Fprintln(env.stderr, benchUsage)
	return fmt.Errorf("bench: unknown benchmark %q: %w", args[0], errUsage)
}

func runBenchEngine(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench engine", "bench engine [--particles N] [--seconds S] [--workers W] [--json]")
	particles := fs.Int("particles", 100_000, "test particles beside the 10 massive bodies")
	seconds := fs.Float64("seconds", 5, "length of the real-time 90 Hz run")
	workers := fs.Int("workers", 1, "particle goroutines")
	dynamic := fs.Bool("dynamic-quality", false, "let the engine lower its quality level during the run")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
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

func runBenchTelemetry(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench telemetry", "bench telemetry [--clients N] [--rate HZ] [--seconds S] [--particles N] [--stalled K] [--json]")
	clients := fs.Int("clients", 100, "reading subscribers")
	rate := fs.Float64("rate", 90, "frames per second of each subscribed topic")
	seconds := fs.Float64("seconds", 5, "length of the measured window")
	particles := fs.Int("particles", 20_000, "belt particles of the engine's world")
	stalled := fs.Int("stalled", 0, "extra subscribers that never read")
	topics := fs.String("topics", "perf,player", "comma-separated topics of the reading clients")
	inProcess := fs.Bool("in-process", false, "run the clients in this process (their CPU then counts as the server's)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := telemetry.BenchOptions{
		Clients: *clients, RateHz: *rate, Seconds: *seconds, Particles: *particles,
		Stalled: *stalled, Topics: strings.Split(*topics, ","),
	}
	if !*inProcess {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench telemetry: find this binary for the load generator: %w", err)
		}
		opts.LoadCommand = []string{self, "bench", "telemetry-load"}
	}
	res, err := telemetry.RunBench(ctx, opts)
	if err != nil {
		return fmt.Errorf("bench telemetry: %w", err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(res)
	}
	fmt.Fprintf(env.stdout, "subscribers:          %d reading (+%d stalled), %v at %.0f Hz, %s load generator\n", res.Clients, res.Stalled, res.Topics, res.RateHz, res.LoadGenerator)
	fmt.Fprintf(env.stdout, "frames delivered:     %d of %d (%.2f%%)\n", res.FramesDelivered, res.FramesExpected, 100*res.DeliveredRatio)
	fmt.Fprintf(env.stdout, "server CPU per frame: %.1f µs (%s)\n", res.ServerCPUUsPerFrame, res.CPUMethod)
	fmt.Fprintf(env.stdout, "engine:               %.1f fps, tick p99 %.2f ms, jitter p99 %.2f ms\n", res.FPS, res.TickP99Ms, res.TickJitterP99Ms)
	return nil
}
