package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/catalog"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

const benchUsage = `Usage: spacetime bench engine    [--particles N] [--seconds S] [--workers W] [--json]
       spacetime bench telemetry [--clients N] [--rate HZ] [--seconds S] [--particles N] [--stalled K] [--json]
       spacetime ` + soakSynopsis + `
       spacetime ` + benchHTTPSynopsis

// runBench is `spacetime bench engine|telemetry|soak|http`: figures of
// this machine.
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
	case "soak":
		return runBenchSoak(ctx, env, args[1:])
	case "http":
		return runBenchHTTP(ctx, env, args[1:])
	case "report":
		// scripts/bench.sh's results in one JSON file and a summary.
		return runBenchReport(ctx, env, args[1:])
	case "http-target":
		// A server of bench http: the API without its security layer, or
		// bare net/http, on the engine with the sample scene.
		return runBenchHTTPTarget(ctx, env, args[1:])
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
	fs := newFlagSet(env, "bench telemetry", "bench telemetry [--clients N] [--rate HZ] [--seconds S] [--scene PATH | --particles N] [--stalled K] [--json]")
	clients := fs.Int("clients", 100, "reading subscribers")
	rate := fs.Float64("rate", 90, "frames per second of each subscribed topic")
	seconds := fs.Float64("seconds", 5, "length of the measured window")
	scenePath := fs.String("scene", "", "res:// `path` of the scene the engine runs (default: the configured start scene, the sample scene res://vr_main.tscn)")
	particles := fs.Int("particles", 0, "run a synthetic world instead of a scene: 10 bodies and this many belt particles")
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
	switch {
	case *particles < 0:
		fs.Usage()
		return fmt.Errorf("bench telemetry: --particles %d: want a positive count: %w", *particles, errUsage)
	case *particles > 0 && *scenePath != "":
		fs.Usage()
		return fmt.Errorf("bench telemetry: --scene and --particles both name the world; give one: %w", errUsage)
	case *particles == 0:
		spec, err := benchSceneSpec(ctx, env, *scenePath)
		if err != nil {
			return fmt.Errorf("bench telemetry: %w", err)
		}
		opts.Spec = spec
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
	fmt.Fprintf(env.stdout, "world:                %s, %d particles\n", res.Scene, res.Particles)
	fmt.Fprintf(env.stdout, "subscribers:          %d reading (+%d stalled), %v at %.0f Hz, %s load generator\n", res.Clients, res.Stalled, res.Topics, res.RateHz, res.LoadGenerator)
	fmt.Fprintf(env.stdout, "frames delivered:     %d of %d (%.2f%%)\n", res.FramesDelivered, res.FramesExpected, 100*res.DeliveredRatio)
	fmt.Fprintf(env.stdout, "server CPU per frame: %.1f µs (%s)\n", res.ServerCPUUsPerFrame, res.CPUMethod)
	fmt.Fprintf(env.stdout, "engine:               %.1f fps, tick p99 %.2f ms, start lateness p99 %.2f ms, end-interval spread p99 %.2f ms\n", res.FPS, res.TickP99Ms, res.TickLateP99Ms, res.TickJitterP99Ms)
	return nil
}

// benchSceneSpec builds the engine spec of the scene at path ("": the
// configured start scene) from the configured project, as serve would load
// it.
func benchSceneSpec(ctx context.Context, env *environment, path string) (*engine.Spec, error) {
	cfg, err := config.Load(config.Options{Getenv: env.getenv, WorkDir: env.workDir})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if path == "" {
		path = cfg.Runtime.Scene
	}
	project, err := openProject(cfg.Runtime.Project)
	if err != nil {
		return nil, err
	}
	defer project.Close()
	spec, err := catalog.New(project, cfg.SceneWhitelist).Build(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("scene %s: %w", path, err)
	}
	return spec, nil
}

// ---------------------------------------------------------------------
// bench http: the API's throughput on loopback under wrk, the full
// middleware chain of a real server against a bare net/http handler.

const benchHTTPSynopsis = "bench http [--seconds S] [--connections C] [--threads T] [--runs N] [--wrk PATH] [--json]"

// httpTargetResult is one server measured by bench http.
type httpTargetResult struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	RPSRuns     []float64 `json:"rps_runs"`
	RPS         float64   `json:"rps_best"`
	P50Ms       float64   `json:"p50_ms"` // of the best run
	P99Ms       float64   `json:"p99_ms"`
	Non2xx      int       `json:"non_2xx"`
	SocketErrs  int       `json:"socket_errors"`
}

// httpBenchResult is what bench http prints (--json: this object).
type httpBenchResult struct {
	Machine     machineInfo        `json:"machine"`
	Tool        string             `json:"tool"`
	Path        string             `json:"path"`
	Threads     int                `json:"threads"`
	Connections int                `json:"connections"`
	Seconds     int                `json:"seconds"`
	Runs        int                `json:"runs"`
	Targets     []httpTargetResult `json:"targets"`
	// Ratios of the best throughputs within this run.
	ChainOverBare  float64 `json:"chain_over_bare"`
	StackOverBare  float64 `json:"stack_over_bare"`
	ChainOverStack float64 `json:"chain_over_stack"`
	// ChainLogWarnings counts WARN lines of the full server during the
	// run (e.g. audit records dropped when its queue overflows).
	ChainLogWarnings int `json:"chain_log_warnings"`
	ChainLogErrors   int `json:"chain_log_errors"`
}

// runBenchHTTP is `spacetime bench http`: wrk against three real
// servers on loopback, each running the engine on the sample scene:
//
//	chain  spacetime serve (staging: JWT auth, rate limits, audit log to
//	       file and SQLite, access log), GET /state/player as readonly
//	stack  the same API without its security layer (bench http-target)
//	bare   net/http writing the bytes of /state/player (bench http-target)
//
// The ratios compare the best throughput of each within one run.
func runBenchHTTP(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench http", benchHTTPSynopsis)
	seconds := fs.Int("seconds", 10, "length of each wrk run")
	conns := fs.Int("connections", 64, "wrk connections")
	threads := fs.Int("threads", 2, "wrk threads")
	runs := fs.Int("runs", 3, "runs per server, alternating; the best counts")
	wrkPath := fs.String("wrk", "wrk", "the wrk binary (Debian package wrk)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *seconds < 1 || *conns < 1 || *threads < 1 || *threads > *conns || *runs < 1 {
		fs.Usage()
		return fmt.Errorf("bench http: --seconds, --connections, --threads (at most the connections) and --runs must be positive: %w", errUsage)
	}
	wrk, err := exec.LookPath(*wrkPath)
	if err != nil {
		return fmt.Errorf("bench http: %s not found (Debian: apt-get install wrk; scripts/bench.sh installs it): %w", *wrkPath, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench http: find this binary: %w", err)
	}
	res := &httpBenchResult{Machine: describeMachine(), Path: "/state/player", Threads: *threads, Connections: *conns, Seconds: *seconds, Runs: *runs}
	if out, err := exec.CommandContext(ctx, wrk, "--version").CombinedOutput(); len(out) > 0 {
		tool, _, _ := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], " Copyright")
		res.Tool = strings.TrimSpace(tool)
	} else if err != nil {
		res.Tool = "wrk"
	}

	// The full server, with limits no benchmark reaches: each request
	// is still checked against them.
	chain, err := startSoakServer(ctx, self, "staging", 10_000_000)
	if err != nil {
		return fmt.Errorf("bench http: %w", err)
	}
	defer func() {
		_ = chain.stop()
		_ = os.RemoveAll(chain.dir)
	}()
	login := &soakRun{base: chain.base, prefix: "bench-http-", ua: "spacetime-bench-http",
		status: make([]uint16, 64), latUS: make([]uint32, 64), kindOf: make([]uint8, 64),
		client: &http.Client{Timeout: 30 * time.Second}}
	if err := login.setup(ctx, chain.apiToken); err != nil {
		return fmt.Errorf("bench http: log in to the full server: %w", err)
	}
	login.client.CloseIdleConnections()
	token := login.ro[0].token()

	var targets []*benchChild
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	for _, mode := range []string{"stack", "bare"} {
		t, err := startBenchChild(ctx, self, []string{"bench", "http-target", "--mode", mode}, chain.dir)
		if err != nil {
			return fmt.Errorf("bench http: %s server: %w", mode, err)
		}
		targets = append(targets, t)
	}
	list := []struct {
		res  httpTargetResult
		base string
		auth string
	}{
		{httpTargetResult{Name: "bare", Description: "net/http writing the bytes of /state/player"}, "http://" + targets[1].addr, ""},
		{httpTargetResult{Name: "stack", Description: "the API's middleware stack and handler, no security layer"}, "http://" + targets[0].addr, ""},
		{httpTargetResult{Name: "chain", Description: "spacetime serve, staging: auth, limits, audit, as readonly"}, chain.base, "Bearer " + token},
	}
	e0, w0 := chain.logCounts()
	for run := range *runs {
		for i := range list {
			t := &list[i]
			r, err := runWrk(ctx, wrk, *threads, *conns, *seconds, t.base+res.Path, t.auth)
			if err != nil {
				return fmt.Errorf("bench http: %s, run %d: %w", t.res.Name, run+1, err)
			}
			t.res.RPSRuns = append(t.res.RPSRuns, r.rps)
			t.res.Non2xx += r.non2xx
			t.res.SocketErrs += r.socketErrs
			if r.rps > t.res.RPS {
				t.res.RPS, t.res.P50Ms, t.res.P99Ms = r.rps, r.p50Ms, r.p99Ms
			}
		}
	}
	e1, w1 := chain.logCounts()
	res.ChainLogErrors, res.ChainLogWarnings = e1-e0, w1-w0
	for _, t := range list {
		res.Targets = append(res.Targets, t.res)
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return math.Round(a/b*1000) / 1000
	}
	bare, stack, full := list[0].res.RPS, list[1].res.RPS, list[2].res.RPS
	res.ChainOverBare, res.StackOverBare, res.ChainOverStack = ratio(full, bare), ratio(stack, bare), ratio(full, stack)
	res.Machine.Load1End = loadAverage()
	if *asJSON {
		if err := json.NewEncoder(env.stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.stdout, "GET %s, %s, %d threads, %d connections, %d × %d s each, best run:\n", res.Path, res.Tool, *threads, *conns, *runs, *seconds)
		for _, t := range res.Targets {
			fmt.Fprintf(env.stdout, "  %-6s %9.0f req/s  p50 %.2f ms  p99 %.2f ms  runs %v  (%s)\n", t.Name, t.RPS, t.P50Ms, t.P99Ms, t.RPSRuns, t.Description)
		}
		fmt.Fprintf(env.stdout, "chain/bare %.3f, stack/bare %.3f, chain/stack %.3f\n", res.ChainOverBare, res.StackOverBare, res.ChainOverStack)
	}
	for _, t := range res.Targets {
		if t.Non2xx > 0 || t.SocketErrs > 0 {
			return fmt.Errorf("bench http: %s answered %d non-2xx and had %d socket errors: the figures do not measure what they claim", t.Name, t.Non2xx, t.SocketErrs)
		}
	}
	return nil
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	rps          float64
	p50Ms, p99Ms float64
	non2xx       int
	socketErrs   int
}

// runWrk runs wrk once against url.
func runWrk(ctx context.Context, wrk string, threads, conns, seconds int, url, auth string) (wrkResult, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(seconds) + "s", "--latency"}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := exec.CommandContext(ctx, wrk, append(args, url)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads the throughput, the latency percentiles and the errors
// of wrk --latency's report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	gotRPS := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: %q: %w", line, err)
			}
			r.rps, gotRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			ms, err := wrkDurationMs(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.p50Ms = ms
			} else {
				r.p99Ms = ms
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			r.non2xx, _ = strconv.Atoi(f[len(f)-1])
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				r.socketErrs += n
			}
		}
	}
	if !gotRPS {
		return r, fmt.Errorf("wrk: no Requests/sec in its report:\n%s", out)
	}
	return r, nil
}

// wrkDurationMs converts wrk's "812.00us", "1.95ms", "1.20s" or "2.00m"
// to milliseconds.
func wrkDurationMs(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk: duration %q: %w", s, err)
			}
			return f * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk: duration %q has no known unit", s)
}

// benchChild is a helper process of a benchmark that prints
// "listening ADDR" on stdout once it serves; its log goes to a file.
type benchChild struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
}

// startBenchChild runs self args in staging (JSON access log, as the full
// server), its stderr into dir/<mode>.log, and waits for its address.
func startBenchChild(ctx context.Context, self string, args []string, dir string) (*benchChild, error) {
	logf, err := os.Create(filepath.Join(dir, strings.Join(args[1:], "-")+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = soakServerEnv(os.Environ(), "staging", "")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c := &benchChild{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); logf.Close(); close(c.exited) }()
	select {
	case c.addr = <-addr:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s exited before listening; its log: %s", strings.Join(args, " "), logf.Name())
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not listen within 60 s", strings.Join(args, " "))
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// stop interrupts the child and waits for it (killing it after 10 s).
func (c *benchChild) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// runBenchHTTPTarget is `spacetime bench http-target --mode stack|bare`:
// the engine on the configured start scene, served on --addr either
// through the API's middleware stack without its security layer (stack)
// or by a bare net/http handler that writes the bytes GET /state/player
// gave at start (bare). It prints "listening ADDR" and serves until
// interrupted.
func runBenchHTTPTarget(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench http-target", "bench http-target --mode stack|bare [--addr HOST:PORT]")
	mode := fs.String("mode", "", "stack or bare")
	addr := fs.String("addr", "127.0.0.1:0", "where to listen")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *mode != "stack" && *mode != "bare" {
		fs.Usage()
		return fmt.Errorf("bench http-target: --mode must be stack or bare, got %q: %w", *mode, errUsage)
	}
	cfg, err := config.Load(config.Options{Getenv: env.getenv, WorkDir: env.workDir})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := cfg.Logger(env.stderr)
	project, err := openProject(cfg.Runtime.Project)
	if err != nil {
		return err
	}
	defer project.Close()
	scenes := catalog.New(project, cfg.SceneWhitelist)
	eng := engine.New(engine.Options{PhysicsFPS: cfg.Performance.Godot.PhysicsFPS, Logger: log,
		Workers: cfg.Performance.Simulation.Workers, MaxSubSteps: cfg.Performance.Simulation.MaxSubSteps})
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(ectx) }()
	defer func() { cancel(); <-engineDone }()
	history := api.NewMemoryHistory(api.DefaultHistorySize)
	if err := loadStartScene(ctx, log, scenes, engineSim{eng}, history, cfg.Runtime.Scene, cfg.Performance.Timeouts.SceneLoad()); err != nil {
		return err
	}
	srv, err := api.New(api.Options{Sim: engineSim{eng}, Scenes: scenes, History: history, Logger: log,
		Environment: cfg.Environment, MaxBodyBytes: cfg.Networking.HTTP.MaxBodyBytes})
	if err != nil {
		return err
	}
	if *mode == "stack" {
		a, err := srv.Listen(*addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "listening %s\n", a)
		return srv.Serve(ctx)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/state/player", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("bench http-target: GET /state/player = %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: bare, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(env.stdout, "listening %s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	err = hs.Shutdown(sctx)
	<-done
	return err
}

// ---------------------------------------------------------------------
// bench report: scripts/bench.sh's results in one file.

// goBench is one line of `go test -bench` output.
type goBench struct {
	Package    string             `json:"package"`
	Name       string             `json:"name"` // without the -GOMAXPROCS suffix
	Procs      int                `json:"procs"`
	Iterations int64              `json:"iterations"`
	Metrics    map[string]float64 `json:"metrics"` // "ns/op", "B/op", "allocs/op", custom units
}

// goBenchRatio relates a sub-benchmark to its "bare" sibling.
type goBenchRatio struct {
	Package string  `json:"package"`
	Name    string  `json:"name"`
	Bare    string  `json:"bare"`
	Ratio   float64 `json:"ns_per_op_over_bare"`
}

// parseGoBench reads `go test -bench` output (several packages).
func parseGoBench(r io.Reader) ([]goBench, error) {
	var out []goBench
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // a benchmark's own log line
		}
		b := goBench{Package: pkg, Name: f[0], Procs: 1, Iterations: n, Metrics: map[string]float64{}}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if p, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name, b.Procs = b.Name[:i], p
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("go bench line %q: value %q: %w", line, f[i], err)
			}
			b.Metrics[f[i+1]] = v
		}
		out = append(out, b)
	}
	return out, sc.Err()
}

// goBenchRatios relates every sub-benchmark that has a "bare" sibling
// to it (ns/op over the bare one's): the within-run comparisons.
func goBenchRatios(list []goBench) []goBenchRatio {
	bare := map[string]goBench{}
	for _, b := range list {
		if parent, ok := strings.CutSuffix(b.Name, "/bare"); ok {
			bare[b.Package+" "+parent] = b
		}
	}
	var out []goBenchRatio
	for _, b := range list {
		i := strings.LastIndexByte(b.Name, '/')
		if i < 0 || strings.HasSuffix(b.Name, "/bare") {
			continue
		}
		base, ok := bare[b.Package+" "+b.Name[:i]]
		if !ok || base.Metrics["ns/op"] == 0 {
			continue
		}
		out = append(out, goBenchRatio{Package: b.Package, Name: b.Name, Bare: base.Name,
			Ratio: math.Round(b.Metrics["ns/op"]/base.Metrics["ns/op"]*1000) / 1000})
	}
	return out
}

// benchStep is one step of scripts/bench.sh (steps.tsv: name, exit
// status, seconds).
type benchStep struct {
	Name    string  `json:"name"`
	Status  int     `json:"exit_status"`
	Seconds float64 `json:"seconds"`
}

// benchResults is bench-results/results.json.
type benchResults struct {
	Generated    time.Time                         `json:"generated"`
	Quick        bool                              `json:"quick"`
	Version      string                            `json:"version"`
	Machine      machineInfo                       `json:"machine"`
	Steps        []benchStep                       `json:"steps"`
	GoBenchmarks []goBench                         `json:"go_benchmarks"`
	GoRatios     []goBenchRatio                    `json:"go_ratios"`
	Engine       map[string]*engine.BenchResult    `json:"engine"`
	Telemetry    map[string]*telemetry.BenchResult `json:"telemetry"`
	HTTP         *httpBenchResult                  `json:"http,omitempty"`
	Soak         *soakReport                       `json:"soak,omitempty"`
}

// runBenchReport is `spacetime bench report --dir DIR`: it gathers the
// files scripts/bench.sh wrote into DIR/results.json and DIR/summary.md.
func runBenchReport(_ context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench report", "bench report --dir DIR [--quick]")
	dir := fs.String("dir", "bench-results", "where scripts/bench.sh wrote its files")
	quick := fs.Bool("quick", false, "the results are of a QUICK=1 smoke run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	res := benchResults{Generated: time.Now().UTC(), Quick: *quick, Version: buildinfo.Read().Version, Machine: describeMachine(),
		Engine: map[string]*engine.BenchResult{}, Telemetry: map[string]*telemetry.BenchResult{}}
	var problems []string
	if data, err := os.ReadFile(filepath.Join(*dir, "steps.tsv")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Split(l, "\t")
			if len(f) != 3 {
				continue
			}
			st, _ := strconv.Atoi(f[1])
			sec, _ := strconv.ParseFloat(f[2], 64)
			res.Steps = append(res.Steps, benchStep{Name: f[0], Status: st, Seconds: sec})
		}
	}
	if f, err := os.Open(filepath.Join(*dir, "go-bench.txt")); err == nil {
		res.GoBenchmarks, err = parseGoBench(f)
		f.Close()
		if err != nil {
			problems = append(problems, err.Error())
		}
		res.GoRatios = goBenchRatios(res.GoBenchmarks)
	}
	entries, _ := os.ReadDir(*dir)
	readJSON := func(name string, v any) bool {
		data, err := os.ReadFile(filepath.Join(*dir, name))
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			return false
		}
		if err := json.Unmarshal(data, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			return false
		}
		return true
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "engine-") && strings.HasSuffix(name, ".json"):
			var r engine.BenchResult
			if readJSON(name, &r) {
				res.Engine[strings.TrimSuffix(strings.TrimPrefix(name, "engine-"), ".json")] = &r
			}
		case strings.HasPrefix(name, "telemetry-") && strings.HasSuffix(name, ".json"):
			var r telemetry.BenchResult
			if readJSON(name, &r) {
				res.Telemetry[strings.TrimSuffix(strings.TrimPrefix(name, "telemetry-"), ".json")] = &r
			}
		}
	}
	var h httpBenchResult
	if readJSON("http.json", &h) {
		res.HTTP = &h
	}
	var s soakReport
	if readJSON("soak.json", &s) {
		res.Soak = &s
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	res.summary(&md)
	for _, p := range problems {
		fmt.Fprintf(&md, "\nProblem reading the results: %s\n", p)
	}
	if err := os.WriteFile(filepath.Join(*dir, "summary.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s and %s\n", filepath.Join(*dir, "results.json"), filepath.Join(*dir, "summary.md"))
	if len(problems) > 0 {
		return fmt.Errorf("bench report: %s", strings.Join(problems, "; "))
	}
	return nil
}

// summary writes the human summary in Markdown.
func (r *benchResults) summary(w io.Writer) {
	m := r.Machine
	mode := "full run"
	if r.Quick {
		mode = "QUICK=1 smoke run: short runs, figures only indicative"
	}
	fmt.Fprintf(w, "# SpaceTime benchmarks, %s\n\n", r.Generated.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "%s, version %s. Machine: %d CPUs (%s), %.1f GiB, %s, %s, load average %.2f at the end.\n\n",
		mode, r.Version, m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.Go, m.Load1)
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "| Step | Result | Seconds |\n|---|---|---|\n")
		for _, s := range r.Steps {
			st := "ok"
			if s.Status != 0 {
				st = fmt.Sprintf("**failed (exit %d)**", s.Status)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f |\n", s.Name, st, s.Seconds)
		}
		fmt.Fprintln(w)
	}
	if r.Soak != nil {
		s := r.Soak
		verdict := "PASS"
		if !s.Pass {
			verdict = "**FAIL**: " + strings.Join(s.Failures, "; ")
		}
		fmt.Fprintf(w, "## Soak (`spacetime bench soak`)\n\n%s: %.0f s at %.0f req/s, %d telemetry subscribers.\n\n", verdict, s.Seconds, s.Options.Rate, s.Options.Subscribers)
		fmt.Fprintf(w, "| Figure | Result | Limit |\n|---|---|---|\n")
		fmt.Fprintf(w, "| API p50 / p95 / p99 | %.2f / %.2f / %.2f ms | p50 ≤ %.0f ms, p95 ≤ %.0f ms |\n", s.API.P50Ms, s.API.P95Ms, s.API.P99Ms, s.Options.MaxP50Ms, s.Options.MaxP95Ms)
		fmt.Fprintf(w, "| Requests, 5xx, transport errors | %d, %d, %d | no 5xx, no errors |\n", s.API.Sent, s.API.Status5xx, s.API.TransportErrors)
		fmt.Fprintf(w, "| Refusals with the right status | %d of %d | all |\n", s.Refusals.Right, s.Refusals.Sent)
		fmt.Fprintf(w, "| Engine rate avg / min, longest under %.0f | %.2f / %.1f fps, %.1f s | avg ≥ %.0f, ≤ %.0f s |\n", s.Options.MinFPS, s.FPS.Avg, s.FPS.Min, s.FPS.LongestLowSecs, s.Options.MinAvgFPS, s.Options.MaxLowFPS)
		fmt.Fprintf(w, "| Server RSS start → end (max), slope of the last half | %.1f → %.1f (%.1f) MB, %+.2f MB/min | ≤ %.2f MB/min |\n", s.Memory.StartMB, s.Memory.EndMB, s.Memory.MaxMB, s.Memory.SlopeMBPerMin, s.Memory.LimitMBPerMin)
		fmt.Fprintf(w, "| Server CPU | %.0f %% of a core | |\n", s.Server.CPUPercent)
		fmt.Fprintf(w, "| Telemetry frames delivered | %.2f %% (%d frames, %d disconnects) | ≥ %.0f %% |\n", 100*s.Telemetry.DeliveredRatio, s.Telemetry.Frames, s.Telemetry.Disconnects, 100*s.Options.MinDelivered)
		fmt.Fprintf(w, "| Audit records / answered requests | %d / %d | equal |\n\n", s.Audit.Records, s.Audit.Requests)
	}
	if h := r.HTTP; h != nil {
		fmt.Fprintf(w, "## HTTP on loopback (`spacetime bench http`, %s, %d threads, %d connections, best of %d × %d s)\n\n", h.Tool, h.Threads, h.Connections, h.Runs, h.Seconds)
		fmt.Fprintf(w, "| Server | req/s | p50 | p99 | runs |\n|---|---|---|---|---|\n")
		for _, t := range h.Targets {
			fmt.Fprintf(w, "| %s: %s | %.0f | %.2f ms | %.2f ms | %v |\n", t.Name, t.Description, t.RPS, t.P50Ms, t.P99Ms, t.RPSRuns)
		}
		fmt.Fprintf(w, "\nRatios: chain/bare %.3f, stack/bare %.3f, chain/stack %.3f (target chain/bare ≥ 0.60).\n\n", h.ChainOverBare, h.StackOverBare, h.ChainOverStack)
	}
	if len(r.Engine) > 0 {
		fmt.Fprintf(w, "## Engine (`spacetime bench engine`)\n\n| Run | ns per particle-step | fps | tick p50 / p99 / max | overruns |\n|---|---|---|---|---|\n")
		for _, k := range sortedKeys(r.Engine) {
			e := r.Engine[k]
			fmt.Fprintf(w, "| %s: %d particles, %d workers | %.1f | %.1f | %.2f / %.2f / %.2f ms | %d |\n", k, e.Particles, e.Workers, e.NsPerParticleStep, e.FPS, e.TickP50Ms, e.TickP99Ms, e.TickMaxMs, e.Overruns)
		}
		fmt.Fprintln(w)
	}
	if len(r.Telemetry) > 0 {
		fmt.Fprintf(w, "## Telemetry (`spacetime bench telemetry`)\n\n| Run | delivered | server CPU per frame | fps | tick p99 | start lateness p99 |\n|---|---|---|---|---|---|\n")
		for _, k := range sortedKeys(r.Telemetry) {
			t := r.Telemetry[k]
			fmt.Fprintf(w, "| %s: %d clients (+%d stalled) at %.0f Hz | %.2f %% | %.1f µs | %.1f | %.2f ms | %.2f ms |\n", k, t.Clients, t.Stalled, t.RateHz, 100*t.DeliveredRatio, t.ServerCPUUsPerFrame, t.FPS, t.TickP99Ms, t.TickLateP99Ms)
		}
		fmt.Fprintln(w)
	}
	if len(r.GoBenchmarks) > 0 {
		fmt.Fprintf(w, "## Go benchmarks (`go test -bench . -benchmem`)\n\n| Package | Benchmark | ns/op | B/op | allocs/op | other |\n|---|---|---|---|---|---|\n")
		for _, b := range r.GoBenchmarks {
			var other []string
			for _, k := range sortedKeys(b.Metrics) {
				if k != "ns/op" && k != "B/op" && k != "allocs/op" {
					other = append(other, fmt.Sprintf("%.4g %s", b.Metrics[k], k))
				}
			}
			fmt.Fprintf(w, "| %s | %s | %.4g | %.0f | %.0f | %s |\n", strings.TrimPrefix(b.Package, "github.com/spacetime-vr/spacetime/"),
				strings.TrimPrefix(b.Name, "Benchmark"), b.Metrics["ns/op"], b.Metrics["B/op"], b.Metrics["allocs/op"], strings.Join(other, ", "))
		}
		fmt.Fprintln(w)
		if len(r.GoRatios) > 0 {
			fmt.Fprintf(w, "Ratios to the bare sibling, within this run:\n\n| Benchmark | ns/op over bare |\n|---|---|\n")
			for _, q := range r.GoRatios {
				fmt.Fprintf(w, "| %s | %.3f |\n", strings.TrimPrefix(q.Name, "Benchmark"), q.Ratio)
			}
			fmt.Fprintln(w)
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
