// Package supervisor runs the runtime as a child process and keeps it
// alive: it starts the child, waits for its API to answer /health, loads a
// scene through the API and waits for the player to exist, polls health on
// an interval, and restarts the child when it exits or stops answering,
// with exponential backoff and a crash-loop limit. It also serves its own
// /health and proxies /godot/* to the child's API. This is `spacetime
// supervise`, the guide's godot_editor_server.py on port 8090.
//
// The package speaks to the child only over HTTP (routes /health,
// /auth/token, /status, /scene/load, /scene and /state/player), so any
// program with that API can be supervised, not only `spacetime serve`.
//
// Ownership: one goroutine, the one that calls Run, owns the child
// process and the restart decisions. The HTTP handler only reads a copy of
// the state under a mutex. Run returns only after the child has ended and
// its output has been copied.
package supervisor

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"time"
)

// ErrCrashLoop is returned by Run when the child was restarted
// MaxRestarts times within RestartWindow and the supervisor gave up.
var ErrCrashLoop = errors.New("supervisor: crash loop")

// Defaults of the Options left zero.
const (
	DefaultHealthInterval = 2 * time.Second
	DefaultHealthTimeout  = 2 * time.Second
	DefaultFailures       = 3
	DefaultStartTimeout   = 30 * time.Second
	DefaultStopTimeout    = 10 * time.Second
	DefaultBackoff        = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultRestartWindow  = time.Minute
	DefaultSceneAttempts  = 3
	// ServerName is the "server" field of the supervisor's /health.
	ServerName = "spacetime-supervisor"
)

// startPoll is how often a starting child's /health is asked; readiness
// polls /state/player as often.
const startPoll = 25 * time.Millisecond

// readyTimeout bounds the wait for the player after a scene load.
const readyTimeout = 5 * time.Second

// Options configure a Supervisor. Command and API are required; the zero
// value of every other field is a documented default.
type Options struct {
	// Command is the program to run and Args its arguments.
	Command string
	Args    []string
	// Name prefixes the child's output lines ("[Name pid=N] "); default:
	// the base name of Command.
	Name string
	// Env is the child's environment; nil inherits the supervisor's.
	Env []string
	// Dir is the child's working directory; "" inherits the supervisor's.
	Dir string

	// API is the base URL of the child's HTTP API, e.g.
	// http://127.0.0.1:8080.
	API *url.URL
	// RootCAs verify the certificate of an https API (nil: the system's
	// roots). The health checks, scene loads and the /godot/ proxy all
	// use them.
	RootCAs *x509.CertPool
	// Token is the API_TOKEN (or an API key) exchanged at /auth/token for
	// an access token for the routes that need one. Empty: requests go
	// without a credential, and in development the supervisor takes the
	// jwt_token that /status hands to loopback clients.
	Token string

	// AutoLoadScene loads Scene through POST /scene/load once the child
	// answers, and makes a player in it part of being healthy.
	AutoLoadScene bool
	Scene         string
	// SceneAttempts is how many times a scene load (with its readiness
	// check) is tried per child start; default DefaultSceneAttempts.
	SceneAttempts int

	// HealthInterval is the time between health checks of a running
	// child, HealthTimeout the limit of one check, and Failures the number
	// of consecutive failed checks that restart it.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	Failures       int
	// StartTimeout is how long a started child has to answer /health.
	StartTimeout time.Duration
	// StopTimeout is how long a child has to exit after SIGTERM before it
	// is killed.
	StopTimeout time.Duration

	// Backoff is the delay before a restart; it doubles for each start in
	// a row that never became healthy, up to BackoffMax.
	Backoff    time.Duration
	BackoffMax time.Duration
	// MaxRestarts restarts within RestartWindow is the crash-loop limit:
	// when the child ends once more, Run gives up with ErrCrashLoop. 0
	// means no limit.
	MaxRestarts   int
	RestartWindow time.Duration

	// Stdout and Stderr receive the child's output, line by line, each
	// line prefixed; nil discards it.
	Stdout, Stderr io.Writer
	// Logger receives the supervisor's own log; nil discards it.
	Logger *slog.Logger
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Command == "" {
		errs = append(errs, errors.New("no command to run"))
	}
	if o.API == nil || o.API.Host == "" || (o.API.Scheme != "http" && o.API.Scheme != "https") {
		errs = append(errs, fmt.Errorf("child API URL %v: want http://host:port or https://host:port", o.API))
	}
	if o.AutoLoadScene && o.Scene == "" {
		errs = append(errs, errors.New("auto-load-scene needs a scene"))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"health interval", &o.HealthInterval, DefaultHealthInterval},
		{"health timeout", &o.HealthTimeout, DefaultHealthTimeout},
		{"start timeout", &o.StartTimeout, DefaultStartTimeout},
		{"stop timeout", &o.StopTimeout, DefaultStopTimeout},
		{"backoff", &o.Backoff, DefaultBackoff},
		{"backoff max", &o.BackoffMax, DefaultBackoffMax},
		{"restart window", &o.RestartWindow, DefaultRestartWindow},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, *d.v))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if o.BackoffMax < o.Backoff {
		errs = append(errs, fmt.Errorf("backoff max %v is below backoff %v", o.BackoffMax, o.Backoff))
	}
	if o.Failures < 0 {
		errs = append(errs, fmt.Errorf("failures %d is negative", o.Failures))
	} else if o.Failures == 0 {
		o.Failures = DefaultFailures
	}
	if o.MaxRestarts < 0 {
		errs = append(errs, fmt.Errorf("max restarts %d is negative", o.MaxRestarts))
	}
	if o.SceneAttempts < 0 {
		errs = append(errs, fmt.Errorf("scene attempts %d is negative", o.SceneAttempts))
	} else if o.SceneAttempts == 0 {
		o.SceneAttempts = DefaultSceneAttempts
	}
	if o.Name == "" {
		o.Name = filepath.Base(o.Command)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(errs...)
}

// Supervisor runs one child process at a time and reports on it. Create it
// with New, serve Handler, and call Run once.
type Supervisor struct {
	opts    Options
	log     *slog.Logger
	client  *apiClient
	proxy   *httputil.ReverseProxy
	started time.Time
	now     func() time.Time

	runOnce sync.Once

	mu sync.Mutex
	st state // guarded by mu
}

// state is what /health reports; the Run goroutine writes it.
type state struct {
	phase     string // see the Phase* constants
	pid       int
	running   bool
	startedAt time.Time
	api       APIStatus
	scene     SceneStatus
	ready     bool // the child answered /health since it started
	restarts  int
	lastExit  *ExitStatus
	crashLoop bool
}

// Phases of the supervisor, the "phase" field of /health.
const (
	PhaseStarting   = "starting"   // the child runs, /health not answered yet
	PhaseLoading    = "loading"    // loading the scene, waiting for the player
	PhaseRunning    = "running"    // the child is up; health checks go on
	PhaseRestarting = "restarting" // the child ended; waiting out the backoff
	PhaseCrashLoop  = "crash_loop" // gave up: too many restarts in the window
	PhaseStopping   = "stopping"   // stopping the child at shutdown
	PhaseStopped    = "stopped"    // Run has returned
)

// New checks opts and returns a Supervisor; nothing runs until Run.
func New(opts Options) (*Supervisor, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s := &Supervisor{
		opts:    o,
		log:     o.Logger,
		client:  newAPIClient(o.API, o.Token, o.RootCAs),
		now:     time.Now,
		started: time.Now(),
	}
	s.st.phase = PhaseStarting
	s.st.api.URL = o.API.String()
	s.st.scene.AutoLoad = o.AutoLoadScene
	s.proxy = newProxy(o.API, o.RootCAs, s.log)
	return s, nil
}

// Run supervises the child until ctx ends, then stops it (SIGTERM, then
// SIGKILL after StopTimeout) and returns nil. It returns ErrCrashLoop
// (wrapped, with the last exit) when the crash-loop limit is reached, and
// an error when the very first start fails (a command that cannot be
// run). It may be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	err := errors.New("supervisor: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Supervisor) run(ctx context.Context) error {
	defer s.client.close()
	defer s.update(func(st *state) { st.phase = PhaseStopped })
	var (
		failedStarts int         // starts in a row that never answered /health
		recent       []time.Time // restarts within the window
		first        = true
	)
	for {
		if ctx.Err() != nil {
			return nil
		}
		res := s.supervise(ctx)
		if first && res.startErr != nil {
			return fmt.Errorf("supervisor: %w", res.startErr)
		}
		first = false
		if ctx.Err() != nil {
			return nil
		}
		if res.ready {
			failedStarts = 0
		} else {
			failedStarts++
		}
		now := s.now()
		recent = pruneBefore(recent, now.Add(-s.opts.RestartWindow))
		if s.opts.MaxRestarts > 0 && len(recent) >= s.opts.MaxRestarts {
			s.update(func(st *state) { st.phase, st.crashLoop = PhaseCrashLoop, true })
			s.log.Error("crash loop: giving up on the child", "restarts_in_window", len(recent),
				"restart_window", s.opts.RestartWindow.String(), "last_exit", res.exit.String())
			return fmt.Errorf("%w: %d restarts within %v, last exit: %s",
				ErrCrashLoop, len(recent), s.opts.RestartWindow, res.exit)
		}
		delay := Backoff(s.opts.Backoff, s.opts.BackoffMax, failedStarts)
		s.update(func(st *state) { st.phase = PhaseRestarting })
		s.log.Warn("restarting the child", "after_ms", ms(delay), "last_exit", res.exit.String(),
			"failed_starts_in_a_row", failedStarts)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		recent = append(recent, s.now())
		s.update(func(st *state) { st.restarts++ })
	}
}

// Backoff is the delay before a restart after failed consecutive starts
// that never became healthy: base doubled that many times, at most limit.
func Backoff(base, limit time.Duration, failed int) time.Duration {
	d := base
	for i := 0; i < failed && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// ms is d in milliseconds, for logs.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pruneBefore drops the times before cut (ts is in order).
func pruneBefore(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

// result is how one child's life ended.
type result struct {
	ready    bool  // it answered /health
	startErr error // it could not be started at all
	exit     *ExitStatus
}

// supervise starts one child and watches it until it ends (on its own,
// or stopped by the supervisor after failed checks or at ctx's end).
func (s *Supervisor) supervise(ctx context.Context) result {
	s.update(func(st *state) {
		st.phase, st.ready = PhaseStarting, false
		st.api.Reachable, st.api.Healthy, st.api.ConsecutiveFailures, st.api.Error = false, false, 0, ""
		st.scene.Loaded, st.scene.Player, st.scene.Path, st.scene.Error = false, false, "", ""
	})
	s.client.reset()
	startedAt := s.now()
	c, err := startChild(s.opts, s.log)
	if err != nil {
		s.log.Error("cannot start the child", "command", s.opts.Command, "error", err)
		ex := &ExitStatus{Status: -1, Reason: ReasonStartFailed, Error: err.Error(), At: s.now()}
		s.update(func(st *state) { st.lastExit = ex })
		return result{startErr: err, exit: ex}
	}
	s.update(func(st *state) { st.pid, st.running, st.startedAt = c.pid, true, startedAt })
	s.log.Info("child started", "pid", c.pid, "command", s.opts.Command, "args", s.opts.Args)

	// childCtx ends with the child, so no request to it outlives it.
	childCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-childCtx.Done():
		}
	}()

	reason := s.watch(childCtx, c, startedAt)
	if reason != "" { // the supervisor ends it
		if ctx.Err() != nil {
			s.update(func(st *state) { st.phase = PhaseStopping })
		}
		s.log.Info("stopping the child", "pid", c.pid, "reason", reason)
		c.stop(s.opts.StopTimeout, s.log)
	} else {
		reason = ReasonExited
	}
	<-c.done
	ex := c.exitStatus(reason, s.now())
	var ready bool
	s.update(func(st *state) {
		st.running, st.lastExit = false, ex
		st.api.Reachable, st.api.Healthy = false, false
		st.scene.Loaded, st.scene.Player = false, false
		ready = st.ready
	})
	level := slog.LevelWarn
	if ctx.Err() != nil {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "child ended", "pid", c.pid, "exit", ex.String(),
		"ran_for_ms", ms(s.now().Sub(startedAt)))
	return result{ready: ready, exit: ex}
}

// watch follows a running child until the supervisor must stop it (the
// reason is returned) or it ends on its own (""). ctx ends with the child.
func (s *Supervisor) watch(ctx context.Context, c *child, startedAt time.Time) string {
	// Wait for /health.
	deadline := time.NewTimer(s.opts.StartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(startPoll)
	var lastErr error // why the last check failed: the log of a timeout says it
	for healthy := false; !healthy; {
		select {
		case <-c.done:
			poll.Stop()
			return ""
		case <-ctx.Done():
			poll.Stop()
			return s.endReason(c)
		case <-deadline.C:
			poll.Stop()
			s.log.Error("the child did not answer /health in time", "pid", c.pid, "start_timeout", s.opts.StartTimeout.String(),
				"last_error", errText(lastErr))
			return ReasonStartTimeout
		case <-poll.C:
			lastErr = s.check(ctx)
			healthy = lastErr == nil
		}
	}
	poll.Stop()
	s.update(func(st *state) { st.ready = true })
	s.log.Info("child answers /health", "pid", c.pid, "after_ms", ms(s.now().Sub(startedAt)))

	// The scene.
	s.update(func(st *state) { st.phase = PhaseLoading })
	s.prepareScene(ctx)
	if ctx.Err() != nil {
		return s.endReason(c)
	}
	s.update(func(st *state) { st.phase = PhaseRunning })
	var sc SceneStatus
	s.read(func(st *state) { sc = st.scene })
	s.log.Info("child ready", "pid", c.pid, "scene", sc.Path, "player", sc.Player,
		"after_ms", ms(s.now().Sub(startedAt)))

	// Health checks.
	tick := time.NewTicker(s.opts.HealthInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-c.done:
			return ""
		case <-ctx.Done():
			return s.endReason(c)
		case <-tick.C:
			err := s.check(ctx)
			if err == nil {
				if failures > 0 {
					s.log.Info("child healthy again", "pid", c.pid, "after_failures", failures)
				}
				failures = 0
				continue
			}
			if ctx.Err() != nil {
				return s.endReason(c)
			}
			failures++
			s.log.Warn("health check failed", "pid", c.pid, "consecutive", failures, "limit", s.opts.Failures, "error", err)
			if failures >= s.opts.Failures {
				return ReasonHealthChecks
			}
		}
	}
}

// endReason is why the watch ends when its context has: the child ended
// (""), or the supervisor is shutting down.
func (s *Supervisor) endReason(c *child) string {
	select {
	case <-c.done:
		return ""
	default:
		return ReasonShutdown
	}
}

// check asks the child's /health once and records the outcome.
func (s *Supervisor) check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.opts.HealthTimeout)
	defer cancel()
	reachable, err := s.client.health(cctx)
	at := s.now()
	s.update(func(st *state) {
		st.api.Reachable, st.api.Healthy, st.api.LastCheck = reachable, err == nil, &at
		if err != nil {
			st.api.ConsecutiveFailures++
			st.api.Error = err.Error()
		} else {
			st.api.ConsecutiveFailures, st.api.Error = 0, ""
		}
	})
	return err
}

// prepareScene loads the configured scene (with AutoLoadScene, up to
// SceneAttempts times, each attempt waiting for the player) or, without
// it, notes which scene the child runs.
func (s *Supervisor) prepareScene(ctx context.Context) {
	if !s.opts.AutoLoadScene {
		cctx, cancel := context.WithTimeout(ctx, s.opts.HealthTimeout)
		defer cancel()
		path, player, err := s.client.sceneState(cctx)
		s.setScene(path, player, err)
		return
	}
	var err error
	for attempt := 1; attempt <= s.opts.SceneAttempts; attempt++ {
		var path string
		path, err = s.loadAndWait(ctx)
		if err == nil {
			s.setScene(path, true, nil)
			s.log.Info("scene loaded", "scene_path", path, "attempt", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("scene load failed", "scene", s.opts.Scene, "attempt", attempt, "of", s.opts.SceneAttempts, "error", err)
		s.setScene("", false, err)
		if attempt < s.opts.SceneAttempts {
			t := time.NewTimer(time.Duration(attempt) * 250 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
	s.log.Error("scene not loaded; the child keeps running, reported unhealthy", "scene", s.opts.Scene,
		"attempts", s.opts.SceneAttempts, "error", err)
}

// loadAndWait is one attempt: POST /scene/load, then GET /state/player
// until the player exists (readyTimeout).
func (s *Supervisor) loadAndWait(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, max(s.opts.HealthTimeout, 30*time.Second))
	path, err := s.client.loadScene(lctx, s.opts.Scene)
	cancel()
	if err != nil {
		return "", err
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	for {
		present, err := s.client.playerPresent(rctx)
		if err != nil {
			return "", err
		}
		if present {
			return path, nil
		}
		select {
		case <-rctx.Done():
			return "", fmt.Errorf("scene %s loaded but no player in it after %v (GET /state/player)", path, readyTimeout)
		case <-tick.C:
		}
	}
}

func (s *Supervisor) setScene(path string, player bool, err error) {
	s.update(func(st *state) {
		st.scene.Path, st.scene.Player = path, player
		st.scene.Loaded = path != "" && player && err == nil
		st.scene.Error = ""
		if err != nil {
			st.scene.Error = err.Error()
		}
	})
}

func (s *Supervisor) update(f func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

func (s *Supervisor) read(f func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

// Handler serves the supervisor's GET /health and proxies /godot/* to
// the child's API with the prefix stripped.
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.serveHealth)
	mux.Handle("/godot/", http.StripPrefix("/godot", s.proxy))
	return mux
}

// errText is err's message, or "none".
func errText(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
