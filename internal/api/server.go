package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
)

// Defaults for the zero values of Options.
const (
	DefaultSceneLoadTimeout = 30 * time.Second
	DefaultExecTimeout      = 10 * time.Second
	DefaultHealthStaleAfter = 2 * time.Second
	DefaultMaxBodyBytes     = 1 << 20 // 1 MiB
	DefaultShutdownTimeout  = 10 * time.Second
)

// Options configure a Server. Sim and Scenes are required; every other
// field has a working zero value.
type Options struct {
	Sim     Sim
	Scenes  Scenes
	History History  // nil: NewMemoryHistory(DefaultHistorySize)
	VR      VRStatus // nil: DesktopVR

	Logger *slog.Logger // nil: discard

	Build       buildinfo.Info // what /status and /debug report as the version
	Environment string         // GODOT_ENV: production, staging, development, test

	// Now is the clock for uptime, load times and health (nil: time.Now).
	Now func() time.Time
	// StartTime is when the process started (zero: Now() at New).
	StartTime time.Time
	// TelemetryActive reports whether the telemetry stream is serving
	// (nil: reported as "disabled").
	TelemetryActive func() bool

	SceneLoadTimeout time.Duration // build + swap of one scene (0: DefaultSceneLoadTimeout)
	ExecTimeout      time.Duration // one console command (0: DefaultExecTimeout)
	// HealthStaleAfter: /health is 503 when the engine's last tick is
	// older than this (0: DefaultHealthStaleAfter).
	HealthStaleAfter time.Duration
	// MaxBodyBytes bounds request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64

	// Pprof serves the Go runtime's profiles at GET /debug/pprof/ to
	// admins (monitoring.pprof_enabled; the /debug rate limit applies, 0
	// in production's table). False: 404 like any unknown path.
	Pprof bool

	// RateLimiter reports where rate limits are kept, for /status
	// (nil: "memory").
	RateLimiter func() string
	// Audit reports the audit log's state for /status: "ok", "failing"
	// (records held for retry) or "disabled" (nil: "disabled").
	Audit func() string

	// Telemetry is the stream served at /telemetry and the issuer of
	// POST /telemetry/ticket (nil: both answer 404 telemetry_disabled).
	Telemetry Telemetry

	// Web is the built web client served at GET / and GET /assets/...:
	// index.html and assets/ at its root (the module's web package
	// embeds it). Nil, or without index.html: GET / answers 503 with a
	// page that says how to build the client. Its files must not change
	// while the server runs (they are cached, compressed, on first use).
	Web fs.FS

	// Security wires authentication, sessions, rate limits, bans, the
	// audit log, CORS and the trusted proxies (see SecurityOptions; the
	// zero value serves without any of them).
	Security SecurityOptions

	// Middleware are extra hooks applied in order (the first is
	// outermost), after the request id, security headers, access log,
	// panic recovery, CORS, route matching and the security chain
	// (RouteFromContext tells the route, PrincipalFromContext the caller,
	// RequestID the id), and before the body limit and the handler. Use
	// WriteError to answer with a problem document.
	Middleware []func(http.Handler) http.Handler

	// TLS, when set, makes Serve speak HTTPS with it (certificates
	// loaded by the caller); responses then carry HSTS.
	TLS *tls.Config

	// HTTP sets the *http.Server limits (zero fields: defaults, see
	// HTTPLimits).
	HTTP HTTPLimits
	// ShutdownTimeout bounds the graceful part of Serve's shutdown
	// (0: DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
}

// HTTPLimits protect the server against slow and greedy clients.
type HTTPLimits struct {
	ReadHeaderTimeout time.Duration // 0: 5 s
	ReadTimeout       time.Duration // 0: 15 s
	WriteTimeout      time.Duration // 0: 30 s + the scene load timeout
	IdleTimeout       time.Duration // 0: 120 s
	MaxHeaderBytes    int           // 0: 64 KiB
}

// Server is the HTTP API. Build it with New; serve Handler() on any
// server, or Listen and Serve.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	routes  []Route
	byPat   map[string]*Route // mux pattern -> route
	mux     *http.ServeMux
	handler http.Handler
	web     *webFiles
	loading chan struct{} // one scene load at a time

	mu     sync.Mutex
	ln     net.Listener
	hs     *http.Server
	stop   context.CancelFunc // cancels in-flight requests after a failed graceful shutdown
	closed bool               // Shutdown was called
}

// New checks opts, fills in defaults and builds the handler stack.
func New(opts Options) (*Server, error) {
	var problems []error
	if opts.Sim == nil {
		problems = append(problems, errors.New("Sim is required"))
	}
	if opts.Scenes == nil {
		problems = append(problems, errors.New("Scenes is required"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"SceneLoadTimeout", opts.SceneLoadTimeout}, {"ExecTimeout", opts.ExecTimeout},
		{"HealthStaleAfter", opts.HealthStaleAfter}, {"ShutdownTimeout", opts.ShutdownTimeout},
		{"HTTP.ReadHeaderTimeout", opts.HTTP.ReadHeaderTimeout}, {"HTTP.ReadTimeout", opts.HTTP.ReadTimeout},
		{"HTTP.WriteTimeout", opts.HTTP.WriteTimeout}, {"HTTP.IdleTimeout", opts.HTTP.IdleTimeout},
	} {
		if d.d < 0 {
			problems = append(problems, fmt.Errorf("%s must not be negative, got %v", d.name, d.d))
		}
	}
	if opts.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Errorf("MaxBodyBytes must not be negative, got %d", opts.MaxBodyBytes))
	}
	if opts.HTTP.MaxHeaderBytes < 0 {
		problems = append(problems, fmt.Errorf("HTTP.MaxHeaderBytes must not be negative, got %d", opts.HTTP.MaxHeaderBytes))
	}
	for i, m := range opts.Middleware {
		if m == nil {
			problems = append(problems, fmt.Errorf("Middleware[%d] is nil", i))
		}
	}
	if opts.Environment == envProduction && opts.Security.Authenticator == nil {
		problems = append(problems, errors.New("production requires Security.Authenticator"))
	}
	if opts.TLS != nil && len(opts.TLS.Certificates) == 0 && opts.TLS.GetCertificate == nil {
		problems = append(problems, errors.New("TLS has no certificate"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("api: options: %w", err)
	}

	if opts.History == nil {
		opts.History = NewMemoryHistory(DefaultHistorySize)
	}
	if opts.VR == nil {
		opts.VR = DesktopVR{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StartTime.IsZero() {
		opts.StartTime = opts.Now()
	}
	if opts.Build == (buildinfo.Info{}) {
		opts.Build = buildinfo.Read()
	}
	opts.SceneLoadTimeout = orDefault(opts.SceneLoadTimeout, DefaultSceneLoadTimeout)
	opts.ExecTimeout = orDefault(opts.ExecTimeout, DefaultExecTimeout)
	opts.HealthStaleAfter = orDefault(opts.HealthStaleAfter, DefaultHealthStaleAfter)
	opts.ShutdownTimeout = orDefault(opts.ShutdownTimeout, DefaultShutdownTimeout)
	opts.MaxBodyBytes = orDefault(opts.MaxBodyBytes, DefaultMaxBodyBytes)
	opts.HTTP.ReadHeaderTimeout = orDefault(opts.HTTP.ReadHeaderTimeout, 5*time.Second)
	opts.HTTP.ReadTimeout = orDefault(opts.HTTP.ReadTimeout, 15*time.Second)
	opts.HTTP.WriteTimeout = orDefault(opts.HTTP.WriteTimeout, 30*time.Second+opts.SceneLoadTimeout)
	opts.HTTP.IdleTimeout = orDefault(opts.HTTP.IdleTimeout, 120*time.Second)
	opts.HTTP.MaxHeaderBytes = orDefault(opts.HTTP.MaxHeaderBytes, 64<<10)

	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("component", "api"),
		now:     opts.Now,
		routes:  Routes(),
		mux:     http.NewServeMux(),
		loading: make(chan struct{}, 1),
		web:     newWebFiles(opts.Web),
	}
	if opts.Environment == envProduction { // absent: 404 like any unknown path
		s.routes = slices.DeleteFunc(s.routes, func(rt Route) bool { return rt.OffInProduction })
	}
	if !opts.Pprof {
		s.routes = slices.DeleteFunc(s.routes, func(rt Route) bool { return rt.Pprof })
	}
	s.byPat = make(map[string]*Route, len(s.routes))
	for i := range s.routes {
		rt := &s.routes[i]
		rt.pattern = rt.Pattern()
		s.byPat[rt.pattern] = rt
		s.mux.Handle(rt.Pattern(), s.adapt(rt))
	}
	s.handler = s.stack()
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// adapt turns a route's error-returning handler into an http.Handler.
func (s *Server) adapt(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.handle(s, w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// The environments that change what the API serves.
const (
	envProduction  = "production"
	envDevelopment = "development"
)

// stack composes the middleware, outermost first. This is the one place
// that decides the order (see the package documentation).
func (s *Server) stack() http.Handler {
	var h http.Handler = s.problemMux(s.mux)
	h = s.limitBody(h)
	for i := len(s.opts.Middleware) - 1; i >= 0; i-- {
		h = s.opts.Middleware[i](h)
	}
	// The security chain (middleware_security.go), innermost first:
	// audit → identify → rateLimit → authorize → hooks.
	h = s.authorize(h)
	h = s.rateLimit(h)
	h = s.identify(h)
	h = s.audit(h)
	h = s.matchRoute(h)
	h = s.cors(h)
	h = s.recoverPanics(h)
	h = s.accessLog(h)
	h = securityHeaders(h)
	h = requestID(h)
	return h
}

// Handler returns the API with its full middleware stack.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns the routes the server serves (a copy): Routes() less
// those that are off in its environment.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// WriteError answers r with the problem document for err, exactly as a
// handler's error is answered. For middleware given in Options.Middleware.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// HTTPServer returns an *http.Server for the handler with the limits of
// Options.HTTP. Its BaseContext is ctx, so cancelling ctx cancels every
// request in flight.
func (s *Server) HTTPServer(ctx context.Context, addr string) *http.Server {
	l := s.opts.HTTP
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         s.opts.TLS.Clone(),
	}
}

// Listen binds addr ("127.0.0.1:0" picks a free port) and returns the
// bound address. Serve then serves on it.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.closed {
		return nil, errors.New("api: already listening or shut down")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen %s: %w", addr, err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Serve serves on the listener bound by Listen until ctx ends or Shutdown
// is called, then shuts down gracefully: it stops accepting, waits up to
// Options.ShutdownTimeout for requests in flight, then cancels them and
// closes every connection. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if s.ln == nil || s.hs != nil {
		s.mu.Unlock()
		return errors.New("api: Serve needs one Listen first")
	}
	hs := s.HTTPServer(reqCtx, s.ln.Addr().String())
	s.hs, s.stop = hs, cancel
	ln := s.ln
	s.mu.Unlock()

	done := make(chan error, 1)
	useTLS := hs.TLSConfig != nil // read before ServeTLS configures it
	if useTLS {
		go func() { done <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { done <- hs.Serve(ln) }()
	}
	s.log.Info("http api listening", "addr", ln.Addr().String(), "tls", useTLS)

	select {
	case err := <-done: // Serve failed, or Shutdown was called
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer scancel()
	err := s.Shutdown(sctx)
	<-done
	return err
}

// Shutdown stops the server gracefully: no new connections, requests in
// flight finish until ctx ends; then they are cancelled and connections
// closed. Safe to call before Serve (it releases the listener; Serve then
// returns nil at once) and more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	hs, stop, ln := s.hs, s.stop, s.ln
	s.mu.Unlock()
	if hs == nil {
		if ln != nil {
			_ = ln.Close()
		}
		return nil
	}
	err := hs.Shutdown(ctx)
	if err != nil {
		stop()
		_ = hs.Close()
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}
