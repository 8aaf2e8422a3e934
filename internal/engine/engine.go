package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMinFPS is the tick rate below which dynamic quality steps down
// (the deployment guide's alert threshold).
const DefaultMinFPS = 85

// defaultQueueSize is the depth of the command queue.
const defaultQueueSize = 64

// Options configure an Engine. The zero value gives the defaults.
type Options struct {
	// PhysicsFPS is the tick rate (default DefaultPhysicsFPS, 90).
	PhysicsFPS int
	// Clock drives the loop (default RealClock).
	Clock Clock
	// Logger receives load, reset and quality events (default: discard).
	Logger *slog.Logger
	// Workers is the number of goroutines sharing the particle work, the
	// loop's own included (default 1).
	Workers int
	// MaxSubSteps caps the integrator sub-steps per tick (default
	// DefaultMaxSubSteps).
	MaxSubSteps int
	// MaxStep is the longest body/vessel step in simulated seconds
	// (default DefaultMaxStep).
	MaxStep float64
	// MaxParticleSubSteps caps the particle steps per tick (default
	// DefaultMaxParticleSubSteps).
	MaxParticleSubSteps int
	// DynamicQuality lets the engine lower its quality level when ticks
	// overrun their budget and raise it again with headroom.
	DynamicQuality bool
	// MinFPS is the achieved rate under which dynamic quality steps down
	// (default DefaultMinFPS).
	MinFPS float64
	// QueueSize is the depth of the command queue (default 64).
	QueueSize int
}

func (o Options) withDefaults() Options {
	if o.PhysicsFPS <= 0 {
		o.PhysicsFPS = DefaultPhysicsFPS
	}
	if o.Clock == nil {
		o.Clock = RealClock{Spin: DefaultSpin}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.MinFPS <= 0 {
		o.MinFPS = DefaultMinFPS
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	return o
}

func (o Options) worldOptions() WorldOptions {
	return WorldOptions{
		PhysicsFPS: o.PhysicsFPS, Workers: o.Workers, MaxSubSteps: o.MaxSubSteps,
		MaxStep: o.MaxStep, MaxParticleSubSteps: o.MaxParticleSubSteps,
	}.withDefaults()
}

// Engine runs a World in a fixed-step loop. Exactly one goroutine (the one
// in Run) owns the world; every other goroutine talks to it through the
// command queue (Load, Exec), an atomic input slot (SetInput), and reads it
// only through the immutable Snapshot published after every tick. All
// methods are safe for concurrent use.
type Engine struct {
	opts  Options
	log   *slog.Logger
	clock Clock
	wopts WorldOptions
	dt    time.Duration

	cmds    chan *request
	input   atomic.Pointer[Input]
	snap    atomic.Pointer[Snapshot]
	started atomic.Bool
	stopped chan struct{}

	// Owned by the loop goroutine.
	world     *World
	scene     SceneInfo
	paused    bool
	ticks     uint64
	perf      *perfStats
	qc        *qualityController
	level     int // pending quality level, applied at the next tick
	partPos   []float32
	partTick  uint64
	partForce bool
	replies   []*request
	tickSubs  int
	tickPSubs int
	tickHook  func(tick uint64, end time.Time, d time.Duration) // RunBench only
}

// request is one queued command with its reply slot.
type request struct {
	ctx   context.Context
	world *World // Load: the world to swap in
	cmd   consoleCmd
	taken atomic.Bool // set by whoever (loop or caller) disposes of it
	text  string
	err   error
	reply chan struct{} // closed when text/err are set
}

// New builds an engine, not yet running, holding an empty world (no
// scene). Its Snapshot is valid at once.
func New(opts Options) *Engine {
	opts = opts.withDefaults()
	e := &Engine{
		opts:    opts,
		log:     opts.Logger.With("component", "engine"),
		clock:   opts.Clock,
		wopts:   opts.worldOptions(),
		dt:      time.Second / time.Duration(opts.PhysicsFPS),
		cmds:    make(chan *request, opts.QueueSize),
		stopped: make(chan struct{}),
		perf:    newPerfStats(opts.PhysicsFPS, durationWindow),
		qc:      newQualityController(opts.DynamicQuality, opts.PhysicsFPS, opts.MinFPS),
		level:   -1,
	}
	e.input.Store(&Input{})
	w, err := NewWorld(&Spec{}, e.wopts)
	if err != nil {
		panic("engine: empty world refused: " + err.Error()) // cannot happen
	}
	e.world = w
	s := e.buildSnapshot()
	s.Perf = e.perfSnapshot()
	e.snap.Store(s)
	return e
}

// Snapshot returns the latest published snapshot; never nil. It is shared
// and immutable: do not modify it.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// SetInput sets the pilot input (clamped, see ClampInput), applied from
// the next tick on.
func (e *Engine) SetInput(in Input) {
	in = ClampInput(in)
	e.input.Store(&in)
}

// Load validates spec, builds its world (on the caller's goroutine) and
// queues the swap. It returns nil once the new world has run its first tick
// (and that tick's snapshot is published), an error wrapping
// ErrInvalidSpec when the spec is refused (the old world keeps running),
// ErrStopped when the engine is not running any more, or ctx's error
// (the swap may then still happen). Before Run starts, Load waits for it.
// Loading clears pause; the quality level and the pilot input carry over.
func (e *Engine) Load(ctx context.Context, spec *Spec) error {
	w, err := NewWorld(spec, e.wopts)
	if err != nil {
		return fmt.Errorf("load %q: %w", specName(spec), err)
	}
	r := &request{ctx: ctx, world: w, reply: make(chan struct{})}
	_, err = e.submit(ctx, r)
	return err
}

func specName(s *Spec) string {
	if s == nil {
		return ""
	}
	if s.Path != "" {
		return s.Path
	}
	return s.Name
}

// Exec parses one console line (ConsoleHelp), runs it at the next tick
// boundary and returns its text once that tick's snapshot is published.
// Parse and validation failures wrap ErrBadCommand; ErrStopped and ctx
// errors as for Load.
func (e *Engine) Exec(ctx context.Context, line string) (string, error) {
	c, err := parseCommand(line)
	if err != nil {
		return "", err
	}
	if c.kind == cmdHelp {
		return ConsoleHelp, nil
	}
	return e.submit(ctx, &request{ctx: ctx, cmd: c, reply: make(chan struct{})})
}

// submit queues r and waits for its reply.
func (e *Engine) submit(ctx context.Context, r *request) (string, error) {
	select {
	case e.cmds <- r:
	case <-e.stopped:
		r.dispose()
		return "", ErrStopped
	case <-ctx.Done():
		r.dispose()
		return "", ctx.Err()
	}
	select {
	case <-r.reply:
		return r.text, r.err
	case <-ctx.Done():
		r.dispose() // a no-op if the loop took it
		return "", ctx.Err()
	case <-e.stopped:
		if r.dispose() {
			return "", ErrStopped
		}
		<-r.reply // taken by the loop, which replies before it stops
		return r.text, r.err
	}
}

// dispose claims r for its caller and releases its world; false when the
// loop had already taken it.
func (r *request) dispose() bool {
	if !r.taken.CompareAndSwap(false, true) {
		return false
	}
	if r.world != nil {
		r.world.Close()
	}
	return true
}

// Run drives the fixed-step loop until ctx ends, then returns nil (or
// ErrRunning if the engine runs or ran already). Deadlines are fixed
// (tick k is due at start + k/PhysicsFPS): a late tick is followed at once
// by the next, and when the loop falls more than two ticks behind it
// skips the missed deadlines (counted in Perf.Skipped) instead of
// spiralling.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer e.shutdown()
	fps := int64(e.opts.PhysicsFPS)
	t0 := e.clock.Now()
	var k int64
	deadline := func(k int64) time.Time {
		return t0.Add(time.Duration(k/fps)*time.Second + time.Duration(k%fps)*time.Second/time.Duration(fps))
	}
	for {
		if err := e.clock.SleepUntil(ctx, deadline(k)); err != nil || ctx.Err() != nil {
			return nil
		}
		end := e.tick(deadline(k))
		k++
		if behind := end.Sub(deadline(k)); behind > 2*e.dt {
			skip := int64(behind / e.dt)
			k += skip
			e.perf.skipped += uint64(skip)
		}
	}
}

// shutdown marks the engine stopped, refuses what is still queued and
// closes the world.
func (e *Engine) shutdown() {
	close(e.stopped)
	for {
		select {
		case r := <-e.cmds:
			if r.taken.CompareAndSwap(false, true) {
				if r.world != nil {
					r.world.Close()
				}
				r.err = ErrStopped
				close(r.reply)
			}
		default:
			e.world.Close()
			return
		}
	}
}

// tick runs one loop iteration, scheduled for deadline, and returns its
// end time.
func (e *Engine) tick(deadline time.Time) time.Time {
	start := e.clock.Now()
	e.ticks++
	if e.level >= 0 {
		e.world.SetQuality(e.level)
		e.level = -1
	}
	e.tickSubs, e.tickPSubs = 0, 0
	e.replies = e.replies[:0]
	for n := len(e.cmds); n > 0; n-- {
		r := <-e.cmds
		if !r.taken.CompareAndSwap(false, true) {
			continue // the caller gave up and released it
		}
		if err := r.ctx.Err(); err != nil {
			if r.world != nil {
				r.world.Close()
			}
			r.err = err
		} else {
			e.handle(r, start)
		}
		e.replies = append(e.replies, r)
	}
	e.world.SetInput(*e.input.Load())
	if !e.paused {
		e.world.Step()
		e.tickSubs += e.world.lastSub
		e.tickPSubs += e.world.lastPSub
	}
	s := e.buildSnapshot()
	end := e.clock.Now()
	d := e.perf.observe(deadline, start, end)
	if level, changed := e.qc.observe(d, e.perf.fps); changed {
		e.level = level
		e.log.Info("quality level changed", "level", level, "tick_p99", e.perf.p99, "fps", e.perf.fps)
	}
	s.WallTime = end
	s.Perf = e.perfSnapshot()
	e.snap.Store(s)
	for i, r := range e.replies {
		close(r.reply)
		e.replies[i] = nil
	}
	if e.tickHook != nil {
		e.tickHook(e.ticks, end, d)
	}
	return end
}

// handle carries out one request on the loop goroutine.
func (e *Engine) handle(r *request, now time.Time) {
	if r.world != nil {
		e.swap(r.world, now)
		e.log.Info("scene loaded", "scene", r.world.spec.Name, "path", r.world.spec.Path,
			"bodies", len(r.world.bodies), "particles", r.world.ParticleCount())
		return
	}
	r.text, r.err = e.execute(r.cmd, now)
}

// swap makes w the running world.
func (e *Engine) swap(w *World, now time.Time) {
	e.world.Close()
	w.SetQuality(e.world.Quality())
	e.world = w
	e.scene = SceneInfo{Name: w.spec.Name, Path: w.spec.Path, LoadedAt: now, Epoch: w.spec.Epoch}
	e.paused = false
	e.partPos, e.partForce = nil, true
}

func wrapBad(err error) error {
	return fmt.Errorf("%w: %w", ErrBadCommand, err)
}

// execute runs one console command.
func (e *Engine) execute(c consoleCmd, now time.Time) (string, error) {
	w := e.world
	switch c.kind {
	case cmdStatus:
		return e.status(), nil
	case cmdPause:
		e.paused = true
		return fmt.Sprintf("paused at t=%.3f s", w.Time()), nil
	case cmdResume:
		e.paused = false
		return fmt.Sprintf("resumed at t=%.3f s", w.Time()), nil
	case cmdStep:
		if !e.paused {
			return "", fmt.Errorf("%w: step: only while paused (pause first)", ErrBadCommand)
		}
		for range c.n {
			w.Step()
			e.tickSubs += w.lastSub
			e.tickPSubs += w.lastPSub
		}
		return fmt.Sprintf("stepped %d tick(s) to t=%.3f s", c.n, w.Time()), nil
	case cmdWarp:
		if err := w.SetTimeScale(c.f); err != nil {
			return "", wrapBad(err)
		}
		return fmt.Sprintf("time scale %g", c.f), nil
	case cmdTeleport:
		if err := w.Teleport(c.pos); err != nil {
			return "", wrapBad(err)
		}
		return fmt.Sprintf("player at (%g, %g, %g) m", c.pos.X, c.pos.Y, c.pos.Z), nil
	case cmdTeleportBody:
		if err := w.TeleportOrbit(c.name, c.f); err != nil {
			return "", wrapBad(err)
		}
		p := w.Player()
		return fmt.Sprintf("player in circular orbit about %s at (%g, %g, %g) m, speed %g m/s",
			c.name, p.Pos.X, p.Pos.Y, p.Pos.Z, p.Speed), nil
	case cmdSpawn:
		if err := w.Spawn(c.body); err != nil {
			return "", wrapBad(err)
		}
		return fmt.Sprintf("spawned %s (%d bodies)", c.body.Name, len(w.bodies)), nil
	case cmdRemove:
		if err := w.Remove(c.name); err != nil {
			return "", wrapBad(err)
		}
		return fmt.Sprintf("removed %s (%d bodies)", c.name, len(w.bodies)), nil
	case cmdReset:
		nw, err := NewWorld(w.spec, e.wopts)
		if err != nil { // cannot happen: the spec was valid when loaded
			return "", fmt.Errorf("reset: %w", err)
		}
		e.swap(nw, now)
		e.log.Info("scene reset", "scene", nw.spec.Name)
		return fmt.Sprintf("reset %s to t=%.3f s", sceneLabel(nw.spec), nw.Time()), nil
	case cmdHelp:
		return ConsoleHelp, nil
	}
	return "", fmt.Errorf("%w: unhandled command", ErrBadCommand)
}

func sceneLabel(s *Spec) string {
	if s.Name == "" {
		return "(empty scene)"
	}
	return s.Name
}

// status is the text of the status command.
func (e *Engine) status() string {
	w := e.world
	var b strings.Builder
	fmt.Fprintf(&b, "scene: %s", sceneLabel(w.spec))
	if w.spec.Path != "" {
		fmt.Fprintf(&b, " (%s)", w.spec.Path)
	}
	fmt.Fprintf(&b, "\ntick: %d  sim time: %.3f s since J2000  time scale: %g  paused: %t\n",
		e.ticks, w.Time(), w.TimeScale(), e.paused)
	fmt.Fprintf(&b, "bodies: %d  particles: %d  speed of light: %g m/s\n", len(w.bodies), w.ParticleCount(), w.c)
	if p := w.Player(); p != nil {
		fmt.Fprintf(&b, "player: %s %s", p.Name, p.Status)
		if p.Body != "" {
			fmt.Fprintf(&b, " (%s)", p.Body)
		}
		fmt.Fprintf(&b, "  speed: %.6g m/s  proper time: %.6f s  lorentz: %.9g\n", p.Speed, p.ProperTime, p.Lorentz)
	} else {
		b.WriteString("player: none\n")
	}
	fmt.Fprintf(&b, "fps: %.1f  tick p50: %s  p99: %s  overruns: %d  quality: %d/%d",
		e.perf.fps, e.perf.p50, e.perf.p99, e.perf.overruns, w.Quality(), MaxQualityLevel)
	return b.String()
}

// buildSnapshot copies the world into a fresh snapshot (WallTime and Perf
// are filled in by the caller).
func (e *Engine) buildSnapshot() *Snapshot {
	w := e.world
	s := &Snapshot{
		Tick: e.ticks, SimTime: w.Time(), Paused: e.paused, TimeScale: w.TimeScale(),
		SpeedOfLight: w.SpeedOfLight(), Scene: e.scene, Bodies: w.Bodies(), Player: w.Player(),
		ParticleCount: w.ParticleCount(), ParticleGroups: w.ParticleGroups(),
	}
	if s.ParticleCount > 0 {
		stale := w.particlesChanged && e.ticks-e.partTick >= uint64(w.q.snapshotStride)
		if e.partPos == nil || e.partForce || stale {
			e.partPos = w.particlePositions() // fresh: published arrays are never written again
			e.partTick, e.partForce = e.ticks, false
		}
		s.ParticlePos, s.ParticleTick = e.partPos, e.partTick
	}
	return s
}

func (e *Engine) perfSnapshot() Perf {
	w := e.world
	return Perf{
		PhysicsFPS: e.opts.PhysicsFPS, FPS: e.perf.fps,
		TickP50: e.perf.p50, TickP99: e.perf.p99, TickMax: e.perf.max, TickLateP99: e.perf.lateP99,
		Overruns: e.perf.overruns, Quality: w.Quality(), MaxQuality: MaxQualityLevel,
		SubSteps: e.tickSubs, ParticleStride: w.q.particleEvery, Ticks: e.ticks,
		TickBudget: e.dt, Skipped: e.perf.skipped, ParticleSubSteps: e.tickPSubs,
		SnapshotStride: w.q.snapshotStride,
	}
}
