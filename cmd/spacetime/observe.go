package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/discovery"
	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/metrics"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// observability is what lets operators watch a running server: the
// telemetry stream and Prometheus metrics on the telemetry port, and the
// discovery beacon.
type observability struct {
	metrics *metrics.Metrics
	hub     *telemetry.Hub // nil when telemetry is disabled
	tickets *telemetry.TicketStore
	sender  *discovery.Sender
	// requests is the rolling window of API requests behind the perf
	// topic's http_* figures (fed by requestWindow).
	requests *telemetry.RequestWindow

	server *http.Server // the telemetry port; nil when disabled
	ln     net.Listener
}

// newObservability builds the hub, the metrics registry and the beacon
// sender, and binds the telemetry port (so a port conflict stops the
// start before anything runs).
func newObservability(cfg *config.Config, log *slog.Logger, eng *engine.Engine, sec *security) (*observability, error) {
	o := &observability{requests: telemetry.NewRequestWindow(nil)}
	tn := cfg.Networking.Telemetry
	if tn.Enabled {
		o.tickets = telemetry.NewTicketStore(telemetry.TicketOptions{})
		svc := sec.auth
		o.hub = telemetry.NewHub(telemetry.HubOptions{
			Source: eng,
			Rate:   cfg.Performance.Godot.PhysicsFPS,
			Logger: log.With("component", "telemetry"),
			Auth: telemetry.AuthenticatorFunc(func(_ context.Context, token string) (telemetry.Principal, error) {
				p, err := svc.AuthenticateBearer("Bearer " + token)
				if err != nil {
					return telemetry.Principal{}, err
				}
				return telemetry.Principal{ID: p.ID, Role: p.Role.String(), Session: string(p.SessionID)}, nil
			}),
			AuthRequired: cfg.Environment != config.EnvDevelopment,
			Anonymous:    telemetry.Principal{ID: api.AnonymousID, Role: auth.RoleReadonly.String()},
			Authorize: func(p telemetry.Principal) error {
				r, err := auth.ParseRole(p.Role)
				if err != nil || r < auth.RoleReadonly {
					return fmt.Errorf("telemetry needs the readonly role, %q has %q", p.ID, p.Role)
				}
				return nil
			},
			// Pilot input from the web client flies the ship: developers
			// and admins, or anyone in development (anonymous).
			Pilot: eng.SetInput,
			// Asked on every input message: a session that ended (logout,
			// revocation, expiry) stops piloting at once, though the
			// connection may go on reading.
			AuthorizePilot: func(p telemetry.Principal, anonymous bool) error {
				if anonymous {
					return nil
				}
				r, err := auth.ParseRole(p.Role)
				if err != nil || r < auth.RoleDeveloper {
					return fmt.Errorf("piloting needs the developer role, %q has %q", p.ID, p.Role)
				}
				if p.Session != "" {
					if err := svc.SessionLive(auth.SessionID(p.Session)); err != nil {
						return fmt.Errorf("the session of %q ended: %w", p.ID, err)
					}
				}
				return nil
			},
			// A stream does not outlive its session: logged out, revoked
			// or expired sessions are closed within RevalidateEvery (a
			// store that cannot answer closes nothing).
			Revalidate: func(p telemetry.Principal) error {
				err := svc.SessionLive(auth.SessionID(p.Session))
				if errors.Is(err, auth.ErrUnauthenticated) {
					return err
				}
				return nil
			},
			// Browsers may connect only from the page this server serves
			// (or the configured CORS origins): in development the stream
			// admits anonymous pilots, which a foreign page must not be.
			CheckOrigin:    sameOrigin(cfg.Networking.HTTP.CORSAllowedOrigins),
			Requests:       o.requests,
			Tickets:        o.tickets,
			SendQueue:      tn.SendQueueFrames,
			MaxSubscribers: tn.MaxSubscribers,
			WriteTimeout:   tn.WriteTimeout(),
		})
	}
	var hubStats func() telemetry.Stats
	if o.hub != nil {
		hubStats = o.hub.Stats
	}
	info := buildinfo.Read()
	o.metrics = metrics.New(metrics.Options{
		Engine:              eng,
		Version:             info.Version,
		Commit:              info.Commit,
		BuildMode:           info.BuildMode,
		RateLimitViolations: sec.policy.Violations,
		BansIssued:          sec.policy.BansIssued,
		AuditDropped:        sec.audit.Dropped, // nil-safe: a disabled audit log drops nothing
		AuditFailing:        sec.auditFailing,
		AuditPending:        func() int { return sec.audit.Stats().Pending },
		AuditSinkErrors:     func() uint64 { return sec.audit.Stats().SinkErrors },
		RateLimitDegraded:   sec.limiterDegraded,
		TelemetrySubscribers: func() int {
			if hubStats == nil {
				return 0
			}
			return hubStats().Subscribers
		},
		TelemetryDisconnects: func() uint64 {
			if hubStats == nil {
				return 0
			}
			return hubStats().Disconnects
		},
		TelemetryFramesDropped: func() uint64 {
			if hubStats == nil {
				return 0
			}
			return hubStats().FramesDropped
		},
		Logger: log.With("component", "metrics"),
	})

	if tn.Enabled {
		mux := http.NewServeMux()
		mux.Handle("GET /telemetry", o.hub)
		if cfg.Monitoring.MetricsEnabled {
			mux.Handle("GET "+cfg.Monitoring.MetricsPath, o.metrics.Handler())
		}
		ln, err := net.Listen("tcp", tn.Addr())
		if err != nil {
			return nil, fmt.Errorf("telemetry: listen on %s: %w (is another process using the port?)", tn.Addr(), err)
		}
		o.ln = ln
		o.server = &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       5 * time.Second, // a body that never comes (upgrades clear it)
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return o, nil
}

// telemetryAddr is where the telemetry port listens (nil when disabled).
func (o *observability) telemetryAddr() net.Addr {
	if o.ln == nil {
		return nil
	}
	return o.ln.Addr()
}

// startDiscovery prepares the beacon sender once the ports are known.
func (o *observability) startDiscovery(cfg *config.Config, log *slog.Logger, eng *engine.Engine, httpAddr net.Addr) error {
	d := cfg.Networking.Discovery
	addr := discovery.Off
	if d.Enabled {
		addr = d.Addr()
	}
	var key []byte
	if d.Key.IsSet() {
		key = []byte(d.Key.Reveal())
	}
	host, _ := os.Hostname()
	info := buildinfo.Read()
	started := time.Now()
	httpPort, telemetryPort := portOf(httpAddr), portOf(o.telemetryAddr())
	s, err := discovery.NewSender(discovery.SenderOptions{
		Addr:     addr,
		Interval: d.Interval(),
		Key:      key,
		Info: func() discovery.Beacon {
			return discovery.Beacon{
				Version: info.Version, Environment: cfg.Environment,
				HTTPPort: httpPort, TelemetryPort: telemetryPort,
				Scene: eng.Snapshot().Scene.Path, StartedAt: started, Host: host,
			}
		},
		Logger: log.With("component", "discovery"),
	})
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	o.sender = s
	return nil
}

func portOf(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// run serves the telemetry port, runs the hub and sends beacons until ctx
// ends, then closes every stream and joins its goroutines.
func (o *observability) run(ctx context.Context, log *slog.Logger) error {
	errc := make(chan error, 3)
	n := 0
	if o.hub != nil {
		n++
		go func() { errc <- o.hub.Run(ctx) }()
	}
	if o.server != nil {
		n++
		go func() {
			err := o.server.Serve(o.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
		log.Info("telemetry listening", "addr", o.ln.Addr().String())
	}
	if o.sender != nil {
		n++
		go func() { errc <- o.sender.Run(ctx) }()
	}
	<-ctx.Done()
	if o.server != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = o.server.Shutdown(sctx) // WebSocket connections are hijacked: the hub closes them
		cancel()
	}
	var errs []error
	for range n {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sameOrigin returns a WebSocket origin check that admits requests
// without an Origin header (tools, native clients), from the host they
// were sent to, and from the allowed origins.
func sameOrigin(allowed []string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		for _, a := range allowed {
			if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
				return true
			}
		}
		u, err := url.Parse(origin)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
	}
}

// requestWindow feeds the API's requests to the perf topic's rolling
// window: one observation per request, its time to the answer. The
// telemetry WebSocket is left out (its handler returns when the stream
// ends).
func (o *observability) requestWindow(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := api.RouteFromContext(r.Context()); ok && rt.Path == "/telemetry" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		next.ServeHTTP(w, r)
		o.requests.Observe(time.Since(start))
	})
}

// vrStatus is what /state/vr reports: the hub's live state of the WebXR
// clients, or the desktop fallback when telemetry is off (browsers report
// over the stream).
func (o *observability) vrStatus() api.VRStatus {
	if o.hub == nil {
		return api.DesktopVR{}
	}
	return hubVR{o.hub}
}

// hubVR adapts the hub's VR state to the API's.
type hubVR struct{ hub *telemetry.Hub }

var _ api.VRStatus = hubVR{}

func (h hubVR) VR() api.VRState {
	v := h.hub.VR()
	out := api.VRState{
		VREnabled: v.VREnabled, HeadsetConnected: v.HeadsetConnected, Runtime: v.Runtime,
		HeadsetType: v.HeadsetType, FallbackMode: v.FallbackMode,
		RenderFPS: v.RenderFPS, RenderScale: v.RenderScale, Clients: v.Clients,
	}
	if v.Headset != nil {
		p := vrPose(*v.Headset)
		out.Headset = &p
	}
	if len(v.Controllers) > 0 {
		out.Controllers = make([]api.VRController, len(v.Controllers))
		for i, c := range v.Controllers {
			out.Controllers[i] = api.VRController{Hand: c.Hand, Connected: c.Connected, Pose: vrPose(c.Pose)}
		}
	}
	return out
}

func vrPose(p telemetry.Pose) api.VRPose {
	return api.VRPose{
		Position:    api.VRVec{X: p.Position.X, Y: p.Position.Y, Z: p.Position.Z},
		Orientation: api.VRQuat{W: p.Orientation.W, X: p.Orientation.X, Y: p.Orientation.Y, Z: p.Orientation.Z},
	}
}

// apiTelemetry is the stream and its tickets as the API port serves them.
type apiTelemetry struct {
	hub     *telemetry.Hub
	tickets *telemetry.TicketStore
}

var _ api.Telemetry = apiTelemetry{}

func (t apiTelemetry) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.hub.ServeHTTP(w, r) }

func (t apiTelemetry) IssueTicket(p api.Principal) (string, time.Duration, error) {
	ticket, ttl, err := t.tickets.Issue(telemetry.Principal{ID: p.ID, Role: p.Role.String(), Session: p.SessionID})
	if errors.Is(err, telemetry.ErrTooManyTickets) {
		return "", 0, &api.Error{Kind: api.ErrUnavailable, Code: "tickets_exhausted", Detail: "too many outstanding telemetry tickets; retry shortly", Err: err}
	}
	return ticket, ttl, err
}

// observedHistory records scene loads in the history and also counts
// them in metrics and announces them on the telemetry events topic.
type observedHistory struct {
	api.History
	metrics *metrics.Metrics
	hub     *telemetry.Hub
}

func (h observedHistory) Append(ctx context.Context, e api.HistoryEntry) error {
	h.metrics.ObserveSceneLoad(e.Status, time.Duration(e.LoadTimeMS*float64(time.Millisecond)))
	if h.hub != nil {
		kind := telemetry.EventSceneLoaded
		if e.Status != api.HistoryLoaded {
			kind = telemetry.EventSceneFailed
		}
		h.hub.Publish(telemetry.Event{Kind: kind, Data: e})
	}
	return h.History.Append(ctx, e)
}

// close releases what newObservability bound when run will not be called.
func (o *observability) close() {
	if o.ln != nil {
		_ = o.ln.Close()
	}
}
