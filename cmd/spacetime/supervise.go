package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/supervisor"
)

// Crash-loop policies of --on-crash-loop.
const (
	crashLoopStay = "stay" // keep serving /health (503, crash_loop true) until signalled
	crashLoopExit = "exit" // exit with status 1
)

// superviseShutdownTimeout bounds the supervisor's own HTTP shutdown once
// the child has stopped.
const superviseShutdownTimeout = 5 * time.Second

// runSupervise is `spacetime supervise`, the guide's godot_editor_server.py
// (--port 8090 --auto-load-scene): it runs `spacetime serve ARGS...` (or
// --command ARGS...) as a child, keeps it alive, serves its own /health
// and proxies /godot/* to the child's API. SIGTERM/SIGINT stop the child
// gracefully first, then the supervisor, with exit status 0. See
// docs/supervisor.md.
func runSupervise(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "supervise", "supervise [flags] [-- ARGS...]   (ARGS go to `spacetime serve`, or to --command)")
	host := fs.String("host", "127.0.0.1", "`address` the supervisor's own HTTP server listens on")
	port := fs.Int("port", 8090, "`port` of the supervisor's /health and /godot/* proxy (0: any free port, logged)")
	autoLoad := fs.Bool("auto-load-scene", false, "load --scene through the child's API once it answers, and count the player in it as part of healthy")
	scene := fs.String("scene", "res://vr_main.tscn", "res:// `path` of the scene loaded with --auto-load-scene")
	command := fs.String("command", "", "`program` to supervise instead of this binary's serve (it gets ARGS only)")
	apiCA := fs.String("api-ca", "", "PEM `file` of certificates that verify an https child API, besides the system's roots (the child's own --tls-cert is trusted without it)")
	apiURL := fs.String("api", "", "base `URL` of the child's API (default: from ARGS' --http-addr and the config serve would load, else http://127.0.0.1:8080)")
	interval := fs.Duration("health-interval", supervisor.DefaultHealthInterval, "time between health checks of the running child")
	timeout := fs.Duration("health-timeout", supervisor.DefaultHealthTimeout, "limit of one health check")
	failures := fs.Int("failures", supervisor.DefaultFailures, "consecutive failed health checks that restart the child")
	startTimeout := fs.Duration("start-timeout", supervisor.DefaultStartTimeout, "how long a started child has to answer /health")
	stopTimeout := fs.Duration("stop-timeout", supervisor.DefaultStopTimeout, "how long the child has to exit after SIGTERM before SIGKILL")
	backoff := fs.Duration("backoff", supervisor.DefaultBackoff, "delay before a restart; doubles for each start in a row that never answered /health")
	backoffMax := fs.Duration("backoff-max", supervisor.DefaultBackoffMax, "cap of the restart delay")
	maxRestarts := fs.Int("max-restarts", 5, "crash-loop limit: after this many restarts within --restart-window the supervisor gives up (0: never)")
	window := fs.Duration("restart-window", supervisor.DefaultRestartWindow, "window of the crash-loop limit")
	onCrashLoop := fs.String("on-crash-loop", crashLoopStay, "at the crash-loop limit: stay (serve /health 503 with crash_loop true until signalled) or exit (status 1)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	childArgs := fs.Args()

	var bad []error
	if *port < 0 || *port > 65535 {
		bad = append(bad, fmt.Errorf("--port %d: want 0 to 65535", *port))
	}
	if *onCrashLoop != crashLoopStay && *onCrashLoop != crashLoopExit {
		bad = append(bad, fmt.Errorf("--on-crash-loop %q: want stay or exit", *onCrashLoop))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"health-interval", *interval}, {"health-timeout", *timeout}, {"start-timeout", *startTimeout},
		{"stop-timeout", *stopTimeout}, {"backoff", *backoff}, {"backoff-max", *backoffMax}, {"restart-window", *window}} {
		if d.v <= 0 {
			bad = append(bad, fmt.Errorf("--%s %v: want a positive duration", d.name, d.v))
		}
	}
	if *failures < 1 {
		bad = append(bad, fmt.Errorf("--failures %d: want 1 or more", *failures))
	}
	if *maxRestarts < 0 {
		bad = append(bad, fmt.Errorf("--max-restarts %d: want 0 (no limit) or more", *maxRestarts))
	}
	if *autoLoad && *scene == "" {
		bad = append(bad, errors.New("--auto-load-scene needs --scene"))
	}
	level := slog.LevelInfo
	if v := env.getenv("GODOT_LOG_LEVEL"); v != "" {
		l, err := config.ParseLogLevel(v)
		if err != nil {
			bad = append(bad, fmt.Errorf("GODOT_LOG_LEVEL: %w", err))
		}
		level = l
	}
	environment, err := config.ParseEnvironment(env.getenv("GODOT_ENV"))
	if err != nil {
		bad = append(bad, fmt.Errorf("GODOT_ENV: %w", err))
	}

	prog, progArgs, name := *command, childArgs, ""
	if prog == "" {
		exe, err := os.Executable()
		if err != nil {
			bad = append(bad, fmt.Errorf("find this executable to run serve: %w (use --command)", err))
		}
		prog, progArgs, name = exe, append([]string{"serve"}, childArgs...), "serve"
	}
	var api *url.URL
	var trust []string // PEM files trusted for an https child
	if *apiCA != "" {
		trust = append(trust, *apiCA)
	}
	if *apiURL != "" {
		u, err := url.Parse(*apiURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad = append(bad, fmt.Errorf("--api %q: want http://host:port or https://host:port", *apiURL))
		}
		api = u
	} else if *command == "" {
		u, certFile, err := serveAPIURL(env, childArgs)
		if err != nil {
			bad = append(bad, err)
		}
		api = u
		if certFile != "" {
			trust = append(trust, certFile)
		}
	} else {
		api = &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}
	}
	roots, err := childRoots(env, *apiCA, trust)
	if err != nil {
		bad = append(bad, err)
	}
	if len(bad) > 0 {
		fs.Usage()
		return fmt.Errorf("supervise: %w: %w", errUsage, errors.Join(bad...))
	}

	stdout, stderr := &lockedWriter{w: env.stdout}, &lockedWriter{w: env.stderr}
	log := config.NewLogger(level, environment, stderr).With("component", "supervisor")
	token := env.getenv("API_TOKEN")
	if token == "" {
		log.Warn("API_TOKEN is not set: the supervisor calls the child's API without a credential " +
			"(works in development only; scene loads fail elsewhere)")
	}
	sup, err := supervisor.New(supervisor.Options{
		Command:        prog,
		Args:           progArgs,
		Name:           name,
		API:            api,
		RootCAs:        roots,
		Token:          token,
		AutoLoadScene:  *autoLoad,
		Scene:          *scene,
		HealthInterval: *interval,
		HealthTimeout:  *timeout,
		Failures:       *failures,
		StartTimeout:   *startTimeout,
		StopTimeout:    *stopTimeout,
		Backoff:        *backoff,
		BackoffMax:     *backoffMax,
		MaxRestarts:    *maxRestarts,
		RestartWindow:  *window,
		Stdout:         stdout,
		Stderr:         stderr,
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("supervise: %w", err)
	}

	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("supervise: listen on %s: %w (is another supervisor running? choose another --port)", addr, err)
	}
	srv := &http.Server{
		Handler:           sup.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// runCtx ends at the signal, or when the supervisor's server fails:
	// either way the child is stopped.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveDone := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil {
			log.Error("supervisor HTTP server failed", "error", err)
		}
		cancel()
		serveDone <- err
	}()
	log.Info("supervisor listening", "addr", ln.Addr().String(), "child", prog, "args", progArgs,
		"api", api.String(), "auto_load_scene", *autoLoad, "scene", *scene)
	env.ready(readyInfo{HTTPAddr: ln.Addr()})

	runErr := sup.Run(runCtx)
	if errors.Is(runErr, supervisor.ErrCrashLoop) && *onCrashLoop == crashLoopStay && runCtx.Err() == nil {
		log.Error("crash loop: the child stays down; /health reports it until the supervisor is stopped", "error", runErr)
		<-runCtx.Done()
		runErr = nil
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), superviseShutdownTimeout)
	defer scancel()
	shutErr := srv.Shutdown(sctx)
	if errors.Is(shutErr, context.DeadlineExceeded) {
		shutErr = srv.Close()
	}
	serveErr := <-serveDone
	log.Info("supervisor stopped")
	if runErr != nil {
		return fmt.Errorf("supervise: %w", runErr)
	}
	if serveErr != nil {
		return fmt.Errorf("supervise: http server on %s: %w", ln.Addr(), serveErr)
	}
	if shutErr != nil {
		return fmt.Errorf("supervise: http server shutdown: %w", shutErr)
	}
	return nil
}

// serveAPIURL works out where a `spacetime serve ARGS...` child will
// listen: ARGS' --http-addr (and TLS flags) over the configuration serve
// would load from the same environment and directory, and the
// certificate file it will serve when TLS is on (the supervisor trusts
// it, as the guide's certificate is self-signed). When that configuration
// does not load, serve will report why; the default address is assumed
// meanwhile.
func serveAPIURL(env *environment, args []string) (u *url.URL, certFile string, err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var flags config.Flags
	flags.Register(fs)
	_ = fs.Parse(args) // serve reports bad flags itself
	addr, scheme := "127.0.0.1:8080", "http"
	if cfg, err := config.Load(config.Options{Getenv: env.getenv, Flags: flags, WorkDir: env.workDir}); err == nil {
		addr = cfg.Networking.HTTP.Addr()
		if cfg.Networking.HTTP.TLS.Enabled() {
			scheme, certFile = "https", cfg.Networking.HTTP.TLS.CertFile
		}
	} else if flags.HTTPAddr != "" {
		addr = flags.HTTPAddr
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("child --http-addr %q: %w", addr, err)
	}
	if p == "0" {
		return nil, "", fmt.Errorf("child --http-addr %s: the supervisor must know the child's port; give a fixed one (or --api)", addr)
	}
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		h = "127.0.0.1" // listening everywhere: loopback reaches it
		if ip != nil && ip.To4() == nil {
			h = "::1"
		}
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(h, p)}, certFile, nil
}

// childRoots is the pool that verifies an https child: the system's roots
// plus the certificates of files (relative paths from env's directory).
// Nil when there are no files. An unreadable or certificate-less apiCA
// (the --api-ca flag) is an error; the child's own certificate file is
// trusted when it reads (serve reports a bad one itself).
func childRoots(env *environment, apiCA string, files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		path := f
		if !filepath.IsAbs(path) && env.workDir != "" {
			path = filepath.Join(env.workDir, path)
		}
		b, err := os.ReadFile(path)
		switch {
		case err != nil && f == apiCA:
			return nil, fmt.Errorf("--api-ca: %w", err)
		case err != nil:
			continue
		case !pool.AppendCertsFromPEM(b) && f == apiCA:
			return nil, fmt.Errorf("--api-ca %s: no PEM certificate in it", f)
		}
	}
	return pool, nil
}

// lockedWriter serializes writes, so the supervisor's log records and
// the child's passed-through lines never interleave mid-line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
