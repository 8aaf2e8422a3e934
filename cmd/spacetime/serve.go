package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spacetime-vr/spacetime/content"
	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/catalog"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/scene"
	"github.com/spacetime-vr/spacetime/internal/store"
	"github.com/spacetime-vr/spacetime/web"
)

// runServe is `spacetime serve`: the engine loop plus the HTTP API, until
// signalled ends (SIGINT/SIGTERM in main), then a graceful shutdown: the
// API drains its requests first, and only then do the telemetry, the
// security loops and the engine stop, so a request in flight at the
// signal still finds the engine running.
func runServe(signalled context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "serve", "serve [flags]")
	var flags config.Flags
	flags.Register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("serve: unexpected arguments %q: %w", fs.Args(), errUsage)
	}

	cfg, err := config.Load(config.Options{Getenv: env.getenv, Flags: flags, WorkDir: env.workDir})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := cfg.Logger(env.stderr)
	info := buildinfo.Read()
	log.Info("starting", "version", info.Version, "commit", info.Commit, "build_mode", info.BuildMode,
		"environment", cfg.Environment, "config_dir", cfg.ConfigDir)

	project, err := openProject(cfg.Runtime.Project)
	if err != nil {
		return err
	}
	defer project.Close()
	scenes := catalog.New(project, cfg.SceneWhitelist)

	eng := engine.New(engine.Options{
		PhysicsFPS:     cfg.Performance.Godot.PhysicsFPS,
		Logger:         log,
		Workers:        cfg.Performance.Simulation.Workers,
		MaxSubSteps:    cfg.Performance.Simulation.MaxSubSteps,
		DynamicQuality: cfg.Performance.Optimization.DynamicQualityEnabled,
		MinFPS:         cfg.Performance.Optimization.MinFPSThreshold,
	})

	// ctx runs the background parts; it ends when serve is done with them,
	// not at the signal.
	ctx, cancel := context.WithCancel(context.WithoutCancel(signalled))
	defer cancel()
	engineDone := make(chan error, 1)
	go func() { engineDone <- eng.Run(ctx) }()
	// stopEngine ends the loop and waits for it; every return path below
	// goes through it so no goroutine outlives serve.
	stopEngine := func() error {
		cancel()
		if err := <-engineDone; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("engine: %w", err)
		}
		return nil
	}

	sopts := store.FromConfig(cfg.Database, cfg.Runtime.DataDir)
	sopts.Logger = log.With("component", "store")
	st, err := store.Open(signalled, sopts)
	if err != nil {
		return errors.Join(fmt.Errorf("store: %w", err), stopEngine())
	}
	log.Info("store open", "backend", st.String())
	// The store closes last: the audit log writes its queue into it.
	defer st.Close()

	sec, err := newSecurity(cfg, log, securityDeps{store: st})
	if err != nil {
		_ = stopEngine()
		return err
	}
	securityDone := make(chan error, 1)
	go func() { securityDone <- sec.run(ctx) }()
	// stopSecurity ends the auth maintenance loop and writes out the audit
	// queue; it runs after the API has stopped, so no record is lost.
	stopSecurity := func() error {
		cancel()
		err := <-securityDone
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), auditCloseTimeout)
		defer ccancel()
		return errors.Join(err, sec.close(cctx, log))
	}

	obs, err := newObservability(cfg, log, eng, sec)
	if err != nil {
		return errors.Join(err, stopSecurity(), stopEngine())
	}
	history := observedHistory{History: st.History(), metrics: obs.metrics, hub: obs.hub}
	if err := loadStartScene(signalled, log, scenes, engineSim{eng}, history, cfg.Runtime.Scene, cfg.Performance.Timeouts.SceneLoad()); err != nil {
		obs.close()
		return errors.Join(err, stopSecurity(), stopEngine())
	}

	apiOn := cfg.HTTPAPIEnabled(buildinfo.Release)
	var (
		srv     *api.Server
		tlsConf *tls.Config
		addr    net.Addr
	)
	if apiOn {
		srv, tlsConf, addr, err = newAPI(cfg, log, eng, scenes, history, sec, obs)
		if err != nil {
			obs.close()
			return errors.Join(err, stopSecurity(), stopEngine())
		}
		log.Info("security", "bootstrap_token", sec.auth.Bootstrap(), "rate_limiting", sec.policy.Enabled(),
			"audit", sec.audit != nil, "tls", tlsConf != nil, "cors_origins", len(cfg.Networking.HTTP.CORSAllowedOrigins))
	} else {
		log.Warn("HTTP API disabled in release builds", "hint", "set GODOT_ENABLE_HTTP_API=true to enable it")
	}
	if err := obs.startDiscovery(cfg, log, eng, addr); err != nil {
		if srv != nil {
			_ = srv.Shutdown(ctx) // not serving yet: releases the bound port
		}
		obs.close()
		return errors.Join(err, stopSecurity(), stopEngine())
	}
	obsDone := make(chan error, 1)
	go func() { obsDone <- obs.run(ctx, log) }()
	if apiOn {
		announceBootstrap(env.stdout, sec.auth.Bootstrap())
	}
	env.ready(readyInfo{HTTPAddr: addr, TLS: tlsConf != nil, TelemetryAddr: obs.telemetryAddr()})

	var serveErr error
	if apiOn {
		serveErr = srv.Serve(signalled) // returns after the signal and the graceful shutdown
		if errors.Is(serveErr, context.Canceled) {
			serveErr = nil
		}
	} else {
		<-signalled.Done()
	}
	log.Info("shutting down")
	cancel()
	obsErr := <-obsDone
	secErr := stopSecurity()
	engErr := stopEngine()
	if serveErr != nil {
		serveErr = fmt.Errorf("http api: %w", serveErr)
	}
	return errors.Join(serveErr, obsErr, secErr, engErr)
}

// newAPI builds the HTTP API server and binds its port.
func newAPI(cfg *config.Config, log *slog.Logger, eng *engine.Engine, scenes api.Scenes, history api.History, sec *security, obs *observability) (*api.Server, *tls.Config, net.Addr, error) {
	tlsConf, err := loadTLS(cfg.Networking.HTTP.TLS)
	if err != nil {
		return nil, nil, nil, err
	}
	var stream api.Telemetry
	if obs.hub != nil {
		stream = apiTelemetry{hub: obs.hub, tickets: obs.tickets}
	}
	srv, err := api.New(api.Options{
		Sim:              engineSim{eng},
		Scenes:           scenes,
		History:          history,
		VR:               obs.vrStatus(),
		Web:              web.Assets(),
		Logger:           log,
		Build:            buildinfo.Read(),
		Environment:      cfg.Environment,
		TelemetryActive:  func() bool { return obs.hub != nil && obs.hub.Active() },
		RateLimiter:      sec.limiterState,
		Audit:            sec.auditState,
		Telemetry:        stream,
		SceneLoadTimeout: cfg.Performance.Timeouts.SceneLoad(),
		MaxBodyBytes:     cfg.Networking.HTTP.MaxBodyBytes,
		Pprof:            cfg.Monitoring.PprofEnabled,
		HTTP: api.HTTPLimits{
			ReadHeaderTimeout: cfg.Networking.HTTP.ReadHeaderTimeout(),
			ReadTimeout:       cfg.Networking.HTTP.ReadTimeout(),
			WriteTimeout:      cfg.Networking.HTTP.WriteTimeout(),
			IdleTimeout:       cfg.Networking.HTTP.IdleTimeout(),
			MaxHeaderBytes:    cfg.Networking.HTTP.MaxHeaderBytes,
		},
		ShutdownTimeout: cfg.Networking.HTTP.ShutdownTimeout(),
		Security:        sec.opts,
		Middleware: []func(http.Handler) http.Handler{
			obs.metrics.Middleware(func(r *http.Request) string {
				if rt, ok := api.RouteFromContext(r.Context()); ok {
					return rt.Path
				}
				return ""
			}),
			obs.requestWindow,
		},
		TLS: tlsConf,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("http api: %w", err)
	}
	addr, err := srv.Listen(cfg.Networking.HTTP.Addr())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("http api: listen on %s: %w (is another process using the port? see docs/operations.md)", cfg.Networking.HTTP.Addr(), err)
	}
	return srv, tlsConf, addr, nil
}

// auditCloseTimeout bounds the writing of queued audit records at
// shutdown.
const auditCloseTimeout = 10 * time.Second

// readyInfo tells a test harness where serve listens.
type readyInfo struct {
	HTTPAddr      net.Addr // nil when the API is off
	TLS           bool     // the API speaks HTTPS
	TelemetryAddr net.Addr // nil when telemetry is off
}

// openProject opens the content root that res:// names: a directory, or
// the sample project embedded in the binary.
func openProject(dir string) (*scene.Project, error) {
	if dir == "" {
		return scene.NewProject("embedded", content.FS), nil
	}
	p, err := scene.OpenProject(dir)
	if err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	return p, nil
}

// loadStartScene loads the configured start scene; a start scene that
// cannot load stops the start, with the reason.
func loadStartScene(ctx context.Context, log *slog.Logger, scenes api.Scenes, sim api.Sim, history api.History, path string, timeout time.Duration) error {
	start := time.Now()
	canonical, err := scenes.Check(path)
	if err != nil {
		return fmt.Errorf("start scene %s: %w", path, err)
	}
	spec, err := scenes.Build(ctx, canonical)
	if err == nil {
		lctx, cancel := context.WithTimeout(ctx, timeout)
		err = sim.Load(lctx, spec)
		cancel()
	}
	entry := api.HistoryEntry{ScenePath: canonical, LoadedAt: time.Now(), LoadTimeMS: float64(time.Since(start).Microseconds()) / 1000, Status: api.HistoryLoaded}
	if err != nil {
		entry.Status, entry.Error = api.HistoryFailed, err.Error()
	}
	if herr := history.Append(ctx, entry); herr != nil {
		log.Error("record scene history", "err", herr)
	}
	if err != nil {
		return fmt.Errorf("start scene %s: %w", canonical, err)
	}
	log.Info("scene loaded", "scene", canonical, "load_time_ms", entry.LoadTimeMS,
		"bodies", len(spec.Bodies), "particles", spec.Particles.Len())
	return nil
}

// engineSim adapts the engine to api.Sim, mapping its errors onto the
// API's kinds.
type engineSim struct{ *engine.Engine }

func (s engineSim) Load(ctx context.Context, spec *engine.Spec) error {
	return mapEngineErr(s.Engine.Load(ctx, spec))
}

func (s engineSim) Exec(ctx context.Context, line string) (string, error) {
	out, err := s.Engine.Exec(ctx, line)
	return out, mapEngineErr(err)
}

func mapEngineErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrBadCommand):
		return &api.Error{Kind: api.ErrInvalid, Code: "bad_command", Detail: err.Error(), Err: err}
	case errors.Is(err, engine.ErrInvalidSpec):
		return &api.Error{Kind: api.ErrUnprocessable, Code: "scene_invalid", Detail: err.Error(), Err: err}
	case errors.Is(err, engine.ErrStopped):
		return &api.Error{Kind: api.ErrUnavailable, Detail: "the engine is shutting down", Err: err}
	}
	return err
}
