package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// BenchOptions configure RunBench.
type BenchOptions struct {
	// Clients is the number of reading subscribers (default 100).
	Clients int
	// RateHz of every subscribed topic (default 90).
	RateHz float64
	// Seconds of the measured window (default 5).
	Seconds float64
	// Particles of the default world, engine.BenchSpec (default 20 000,
	// the sample scene's belt).
	Particles int
	// Spec replaces the default world.
	Spec *engine.Spec
	// Workers is the engine's particle goroutines (default 1).
	Workers int
	// Topics of the reading clients (default perf and player).
	Topics []string
	// Decimate is the particle decimation of bodies subscriptions.
	Decimate int
	// Stalled adds subscribers that never read (see LoadOptions.Stalled).
	Stalled int
	// Baseline is how long the engine and the idle hub are measured
	// alone before the clients connect (default 1 s).
	Baseline time.Duration
	// LoadCommand, when set, runs the load generator as a child process:
	// the command and its leading arguments; RunBench appends the
	// LoadMain flags. The server's CPU is then measured without the
	// clients in it. Nil: clients run in this process.
	LoadCommand []string
	// Logger receives the hub's and engine's events (default: discard).
	Logger *slog.Logger
}

// BenchResult is what RunBench measured (JSON for `spacetime bench
// telemetry --json`).
type BenchResult struct {
	Clients       int      `json:"clients"`
	Stalled       int      `json:"stalled_clients"`
	RateHz        float64  `json:"rate_hz"`
	Topics        []string `json:"topics"`
	Seconds       float64  `json:"seconds"` // measured window
	Scene         string   `json:"scene"`   // the world's path: a res:// scene, or bench://10-bodies
	Particles     int      `json:"particles"`
	LoadGenerator string   `json:"load_generator"` // "in-process" or "child-process"

	FramesExpected  uint64  `json:"frames_expected"`  // clients × topics × rate × window
	FramesDelivered uint64  `json:"frames_delivered"` // received by the reading clients in the window
	DeliveredRatio  float64 `json:"delivered_ratio"`
	FramesDropped   uint64  `json:"frames_dropped"` // by the hub in the window (all clients)
	Disconnects     uint64  `json:"disconnects"`    // in the window
	SlowDisconnects uint64  `json:"slow_disconnects"`
	ClientFailures  int     `json:"client_failures"` // reading clients that lost their connection
	MBPerSec        float64 `json:"mb_per_sec"`      // payload sent by the hub

	// ServerCPUUsPerFrame is (process CPU in the window − the engine
	// baseline's CPU for as long) / frames delivered. With an in-process
	// load generator the process CPU includes the clients' reads, so the
	// figure is an upper bound; see CPUMethod.
	ServerCPUUsPerFrame float64 `json:"server_cpu_us_per_frame"`
	CPUMethod           string  `json:"cpu_method"`
	ProcessCPUSeconds   float64 `json:"process_cpu_seconds"`         // in the window
	BaselineCPUPerSec   float64 `json:"baseline_cpu_per_sec"`        // engine + idle hub, CPU s per s
	LoadGenCPUSeconds   float64 `json:"load_gen_cpu_seconds"`        // child process, whole run
	EncodeUsPerTick     float64 `json:"encode_us_per_tick"`          // hub encode time per tick
	FanoutUsPerTick     float64 `json:"fanout_us_per_tick"`          // hub Step time per tick (encode + enqueue)
	TicksMissedByPoll   uint64  `json:"ticks_missed_by_poll"`        // ticks the hub never saw
	FPS                 float64 `json:"fps"`                         // engine ticks per second in the window
	TickP99Ms           float64 `json:"tick_p99_ms"`                 // worst engine tick p99 sampled in the window
	TickJitterP99Ms     float64 `json:"tick_interval_jitter_p99_ms"` // p99 of |tick end interval − budget|
	TickLateP99Ms       float64 `json:"tick_start_late_p99_ms"`      // worst p99 of how late ticks started against their schedule (the loop's own jitter)
}

// RunBench measures the telemetry fan-out: an engine on the benchmark world
// at 90 Hz on the real clock, a hub on a loopback listener, and Clients
// subscribers to Topics at RateHz (plus Stalled ones that never read). It
// first measures the engine and the idle hub alone (Baseline), then the
// loaded window of Seconds, and reports frames expected and delivered,
// the server's CPU per delivered frame and the engine's tick figures.
func RunBench(ctx context.Context, opts BenchOptions) (BenchResult, error) {
	if opts.Clients <= 0 {
		opts.Clients = 100
	}
	if !(opts.RateHz > 0) {
		opts.RateHz = DefaultRate
	}
	if !(opts.Seconds > 0) {
		opts.Seconds = 5
	}
	if opts.Particles <= 0 && opts.Spec == nil {
		opts.Particles = 20_000
	}
	if len(opts.Topics) == 0 {
		opts.Topics = []string{TopicPerf, TopicPlayer}
	}
	if opts.Baseline <= 0 {
		opts.Baseline = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	spec := opts.Spec
	if spec == nil {
		spec = engine.BenchSpec(opts.Particles, 1)
	}
	res := BenchResult{
		Clients: opts.Clients, Stalled: opts.Stalled, RateHz: opts.RateHz, Topics: opts.Topics,
		Seconds: opts.Seconds, Scene: spec.Path, Particles: spec.Particles.Len(), LoadGenerator: "in-process",
	}
	if len(opts.LoadCommand) > 0 {
		res.LoadGenerator = "child-process"
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	eng := engine.New(engine.Options{Workers: opts.Workers, Logger: opts.Logger})
	wg.Go(func() { _ = eng.Run(runCtx) })
	if err := eng.Load(ctx, spec); err != nil {
		return res, fmt.Errorf("bench telemetry: load world: %w", err)
	}
	rec := &recordingSource{src: eng}
	hub := NewHub(HubOptions{
		Source: rec, Logger: opts.Logger, MaxSubscribers: opts.Clients + opts.Stalled + 8,
	})
	wg.Go(func() { _ = hub.Run(runCtx) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("bench telemetry: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/telemetry", hub)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() { _ = srv.Serve(ln) })
	defer func() { _ = srv.Close() }()
	url := "ws://" + ln.Addr().String() + "/telemetry"

	// Baseline: the engine and an idle hub.
	cpuA, okA := processCPU()
	if err := sleepCtx(ctx, opts.Baseline); err != nil {
		return res, err
	}
	cpuB, okB := processCPU()
	baseRate := (cpuB - cpuA).Seconds() / opts.Baseline.Seconds()
	res.BaselineCPUPerSec = baseRate

	// Load.
	lo := LoadOptions{URL: url, Clients: opts.Clients, Stalled: opts.Stalled, Topics: opts.Topics,
		RateHz: opts.RateHz, Decimate: opts.Decimate}
	var gen loadGen
	if len(opts.LoadCommand) > 0 {
		gen, err = startChildLoad(ctx, opts.LoadCommand, lo)
	} else {
		gen, err = startLocalLoad(ctx, lo)
	}
	if err != nil {
		return res, fmt.Errorf("bench telemetry: %w", err)
	}
	genStopped := false
	defer func() {
		if !genStopped {
			_, _ = gen.stop()
		}
	}()
	if err := sleepCtx(ctx, min(500*time.Millisecond, opts.Baseline)); err != nil { // let the connection burst settle
		return res, err
	}

	type mark struct {
		at     time.Time
		cpu    time.Duration
		stats  Stats
		tick   uint64
		frames uint64
	}
	take := func() (mark, error) {
		f, err := gen.frames()
		if err != nil {
			return mark{}, err
		}
		cpu, _ := processCPU()
		return mark{at: time.Now(), cpu: cpu, stats: hub.Stats(), tick: eng.Snapshot().Tick, frames: f}, nil
	}
	m0, err := take()
	if err != nil {
		return res, fmt.Errorf("bench telemetry: %w", err)
	}
	rec.start(m0.tick)
	var p99, late time.Duration
	window := time.Duration(opts.Seconds * float64(time.Second))
	for end := m0.at.Add(window); ; {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		if err := sleepCtx(ctx, min(left, time.Second)); err != nil {
			return res, err
		}
		perf := eng.Snapshot().Perf
		p99, late = max(p99, perf.TickP99), max(late, perf.TickLateP99)
	}
	m1, err := take()
	if err != nil {
		return res, fmt.Errorf("bench telemetry: %w", err)
	}
	jitter := rec.stop()
	lr, genCPU := gen.stop()
	genStopped = true

	el := m1.at.Sub(m0.at).Seconds()
	res.Seconds = el
	rate := min(opts.RateHz, DefaultRate)
	for _, t := range opts.Topics {
		if t != TopicEvents {
			res.FramesExpected += uint64(float64(opts.Clients)*rate*el + 0.5)
		}
	}
	res.FramesDelivered = m1.frames - m0.frames
	if res.FramesExpected > 0 {
		res.DeliveredRatio = float64(res.FramesDelivered) / float64(res.FramesExpected)
	}
	res.FramesDropped = m1.stats.FramesDropped - m0.stats.FramesDropped
	res.Disconnects = m1.stats.Disconnects - m0.stats.Disconnects
	res.SlowDisconnects = m1.stats.SlowDisconnects - m0.stats.SlowDisconnects
	res.ClientFailures = lr.Failures
	res.MBPerSec = float64(m1.stats.BytesSent-m0.stats.BytesSent) / el / 1e6
	res.LoadGenCPUSeconds = genCPU.Seconds()
	if ticks := m1.stats.Ticks - m0.stats.Ticks; ticks > 0 {
		res.EncodeUsPerTick = float64(m1.stats.EncodeTime-m0.stats.EncodeTime) / float64(time.Microsecond) / float64(ticks)
		res.FanoutUsPerTick = float64(m1.stats.FanoutTime-m0.stats.FanoutTime) / float64(time.Microsecond) / float64(ticks)
	}
	res.TicksMissedByPoll = m1.stats.TicksMissed - m0.stats.TicksMissed
	res.FPS = float64(m1.tick-m0.tick) / el
	res.TickP99Ms = ms(p99)
	res.TickLateP99Ms = ms(late)
	res.TickJitterP99Ms = ms(jitter)
	if okA && okB {
		proc := (m1.cpu - m0.cpu).Seconds()
		res.ProcessCPUSeconds = proc
		if res.FramesDelivered > 0 {
			res.ServerCPUUsPerFrame = (proc - baseRate*el) * 1e6 / float64(res.FramesDelivered)
		}
		if res.LoadGenerator == "child-process" {
			res.CPUMethod = "getrusage of the server process (engine, hub, sockets; the clients run in a child process) over the window, minus the engine-and-idle-hub baseline rate times the window, divided by the frames the clients received in the window"
		} else {
			res.CPUMethod = "getrusage of this process over the window, minus the engine-and-idle-hub baseline rate times the window, divided by the frames the clients received; the in-process clients' CPU is included, so this is an upper bound on the server's share"
		}
	} else {
		res.CPUMethod = "unavailable on this platform"
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recordingSource passes snapshots through and, between start and stop,
// records the interval between the end times of consecutive ticks it sees.
type recordingSource struct {
	src       SnapshotSource
	mu        sync.Mutex
	on        bool
	last      *engine.Snapshot
	intervals []time.Duration
	budget    time.Duration
}

func (r *recordingSource) Snapshot() *engine.Snapshot {
	s := r.src.Snapshot()
	r.mu.Lock()
	if r.on && s != r.last {
		if r.last != nil && s.Tick == r.last.Tick+1 {
			r.intervals = append(r.intervals, s.WallTime.Sub(r.last.WallTime))
		}
		r.last = s
		r.budget = s.Perf.TickBudget
	}
	r.mu.Unlock()
	return s
}

func (r *recordingSource) start(uint64) {
	r.mu.Lock()
	r.on = true
	r.mu.Unlock()
}

// stop ends the recording and returns the p99 of |interval − budget|.
func (r *recordingSource) stop() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	dev := make([]time.Duration, 0, len(r.intervals))
	for _, d := range r.intervals {
		x := d - r.budget
		if x < 0 {
			x = -x
		}
		dev = append(dev, x)
	}
	if len(dev) == 0 {
		return 0
	}
	slices.Sort(dev)
	return dev[min(len(dev)-1, int(float64(len(dev))*0.99))]
}

// loadGen is a running load generator, here or in a child process.
type loadGen interface {
	frames() (uint64, error)
	stop() (LoadResult, time.Duration)
}

type localLoad struct{ l *Load }

func startLocalLoad(ctx context.Context, o LoadOptions) (loadGen, error) {
	l, err := StartLoad(ctx, o)
	if err != nil {
		return nil, err
	}
	return localLoad{l}, nil
}

func (g localLoad) frames() (uint64, error) {
	f, _ := g.l.Frames()
	return f, nil
}

func (g localLoad) stop() (LoadResult, time.Duration) { return g.l.Stop(), 0 }

type childLoad struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *strings.Builder
}

func startChildLoad(ctx context.Context, command []string, o LoadOptions) (loadGen, error) {
	args := append(slices.Clone(command[1:]),
		"--url", o.URL, "--clients", strconv.Itoa(o.Clients), "--stalled", strconv.Itoa(o.Stalled),
		"--topics", strings.Join(o.Topics, ","), "--rate", strconv.FormatFloat(o.RateHz, 'g', -1, 64),
		"--decimate", strconv.Itoa(max(o.Decimate, 1)))
	if o.Token != "" {
		args = append(args, "--token", o.Token)
	}
	cmd := exec.CommandContext(ctx, command[0], args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load generator: start %s: %w", command[0], err)
	}
	g := &childLoad{cmd: cmd, in: in, out: bufio.NewScanner(outPipe), stderr: &stderr}
	g.out.Buffer(make([]byte, 64<<10), 1<<20)
	var ready struct {
		Ready bool `json:"ready"`
	}
	if err := g.line(&ready); err != nil || !ready.Ready {
		g.stop()
		return nil, fmt.Errorf("load generator did not get ready: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	return g, nil
}

// line decodes the next stdout line of the child into v.
func (g *childLoad) line(v any) error {
	if !g.out.Scan() {
		if err := g.out.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: unexpected end of output", errLoadProtocol)
	}
	if err := json.Unmarshal(g.out.Bytes(), v); err != nil {
		return fmt.Errorf("%w: %q: %v", errLoadProtocol, g.out.Text(), err)
	}
	return nil
}

func (g *childLoad) frames() (uint64, error) {
	if _, err := io.WriteString(g.in, "mark\n"); err != nil {
		return 0, fmt.Errorf("load generator: %w", err)
	}
	var m struct {
		Frames uint64 `json:"frames"`
	}
	if err := g.line(&m); err != nil {
		return 0, err
	}
	return m.Frames, nil
}

func (g *childLoad) stop() (LoadResult, time.Duration) {
	_ = g.in.Close()
	var r LoadResult
	if err := g.line(&r); err != nil && !errors.Is(err, errLoadProtocol) {
		r.LastError = err.Error()
	}
	_ = g.cmd.Wait()
	var cpu time.Duration
	if ps := g.cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	return r, cpu
}
