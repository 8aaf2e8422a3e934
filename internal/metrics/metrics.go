package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/procstat"
)

// Namespace prefixes every SpaceTime metric name.
const Namespace = "spacetime"

// Scene load statuses for [Metrics.ObserveSceneLoad]; they match the
// status words of the scene history (GET /scene/history).
const (
	SceneLoaded  = "loaded"
	SceneFailed  = "failed"
	SceneTimeout = "timeout"
	SceneRefused = "refused"
)

// SnapshotSource is where the engine's gauges come from: the engine
// itself in production, a fake in tests. Snapshot is called once per
// scrape from the scraping goroutine; it must be safe for concurrent use
// and may return nil (no gauges are reported then).
type SnapshotSource interface {
	Snapshot() *engine.Snapshot
}

// Options configures New. Every field is optional. A nil counter function
// reports 0, so each series exists from the first scrape and alert rules
// that use increase() see it start.
type Options struct {
	// Registry receives every collector; nil means a new one. It must not
	// already hold the Go runtime or process collector. Never pass the
	// global default registry.
	Registry *prometheus.Registry
	// Engine supplies the engine gauges at scrape time; nil reports none.
	Engine SnapshotSource

	// Version, Commit and BuildMode label spacetime_build_info.
	Version, Commit, BuildMode string

	// ResidentBytes returns the process's resident set size; the default
	// reads /proc/self/statm and falls back to the memory the Go runtime
	// has mapped.
	ResidentBytes func() uint64

	// RateLimitViolations is ratelimit.Policy.Violations.
	RateLimitViolations func() uint64
	// BansIssued is ratelimit.Policy.BansIssued.
	BansIssued func() uint64
	// TelemetrySubscribers is the number of connected telemetry clients.
	TelemetrySubscribers func() int
	// RateLimitDegraded reports whether a configured shared limiter
	// backend (Redis) is unreachable and limits fell back to this process.
	RateLimitDegraded func() bool
	// TelemetryDisconnects counts telemetry clients disconnected for any
	// reason (the guide's telemetry_disconnects).
	TelemetryDisconnects func() uint64
	// TelemetryFramesDropped counts frames dropped from slow subscribers'
	// queues.
	TelemetryFramesDropped func() uint64
	// AuditDropped is audit.Logger.Dropped: records lost to a full queue
	// or shutdown.
	AuditDropped func() uint64
	// AuditFailing reports whether the audit log is not keeping up: a
	// sink fails to store records (held for retry) or the queue overflows.
	AuditFailing func() bool
	// AuditPending is the largest number of audit records a failing sink
	// holds for retry.
	AuditPending func() int
	// AuditSinkErrors counts failed audit sink writes.
	AuditSinkErrors func() uint64

	// Logger logs scrape errors; nil discards them.
	Logger *slog.Logger
}

// Metrics holds SpaceTime's collectors and the registry they live in. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	sceneLoads        *prometheus.CounterVec
	sceneLoadErrors   prometheus.Counter
	sceneLoadDuration prometheus.Histogram

	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge
}

// httpBuckets are the bucket bounds, in seconds, of
// spacetime_http_request_duration_seconds: fine below a millisecond where
// the API lives, and up to the guide's 500 ms p95 ceiling and beyond.
func httpBuckets() []float64 {
	return []float64{
		0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
		0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	}
}

// sceneLoadBuckets are the bucket bounds, in seconds, of
// spacetime_scene_load_duration_seconds, around the guide's 2-3 s target.
func sceneLoadBuckets() []float64 {
	return []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30}
}

// New registers SpaceTime's metrics, the Go runtime collector and the
// process collector on opts.Registry (or a new registry). Like
// prometheus.MustRegister it panics when a collector is already
// registered there: a wiring mistake, not a runtime condition.
func New(opts Options) *Metrics {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	resident := opts.ResidentBytes
	if resident == nil {
		resident = procstat.ResidentBytes
	}

	m := &Metrics{
		reg: reg,
		sceneLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "scene_loads_total",
			Help: "Scene load attempts by status (loaded, failed, timeout, refused).",
		}, []string{"status"}),
		sceneLoadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "scene_load_errors_total",
			Help: "Scene load attempts that did not load (the guide's scene_load_errors).",
		}),
		sceneLoadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "scene_load_duration_seconds",
			Help:    "Time from a scene load request to the new world's first tick or the failure.",
			Buckets: sceneLoadBuckets(),
		}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request durations by route pattern, method and status code.",
			Buckets: httpBuckets(),
		}, []string{"route", "method", "status"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	// Known statuses start at 0 so rate() and increase() work from the
	// first scrape.
	for _, s := range []string{SceneLoaded, SceneFailed, SceneTimeout, SceneRefused} {
		m.sceneLoads.WithLabelValues(s)
	}

	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{
			"version":    orUnknown(opts.Version),
			"commit":     orUnknown(opts.Commit),
			"build_mode": orUnknown(opts.BuildMode),
		},
	})
	buildInfo.Set(1)
	up := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "up",
		Help: "Always 1 while the process serves metrics.",
	})
	up.Set(1)

	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newEngineCollector(opts.Engine),
		m.sceneLoads, m.sceneLoadErrors, m.sceneLoadDuration,
		m.httpDuration, m.httpInFlight,
		buildInfo, up,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "memory_mb",
			Help: "Resident memory of the process in MiB (the guide's memory_mb).",
		}, func() float64 { return float64(resident()) / (1 << 20) }),
		counterFunc("rate_limit_violations_total",
			"Requests refused by the rate limiter (the guide's rate_limit_violations).",
			opts.RateLimitViolations),
		counterFunc("bans_total", "Clients banned for repeated rate-limit violations.",
			opts.BansIssued),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "rate_limit_backend_degraded",
			Help: "1 while the shared rate-limit backend (Redis) is unreachable and this process limits on its own.",
		}, func() float64 {
			if opts.RateLimitDegraded != nil && opts.RateLimitDegraded() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "telemetry_subscribers",
			Help: "Connected telemetry stream clients.",
		}, func() float64 {
			if opts.TelemetrySubscribers == nil {
				return 0
			}
			return float64(opts.TelemetrySubscribers())
		}),
		counterFunc("telemetry_disconnects_total",
			"Telemetry clients disconnected for any reason (the guide's telemetry_disconnects).",
			opts.TelemetryDisconnects),
		counterFunc("telemetry_frames_dropped_total",
			"Telemetry frames dropped from slow subscribers' send queues.",
			opts.TelemetryFramesDropped),
		counterFunc("audit_dropped_total",
			"Audit records dropped (queue full, or unwritten at shutdown).",
			opts.AuditDropped),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "audit_sink_failing",
			Help: "1 while the audit log is not keeping up: a sink (file or database) fails to store records (held for retry) or its queue overflows (records dropped).",
		}, func() float64 {
			if opts.AuditFailing != nil && opts.AuditFailing() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "audit_records_pending",
			Help: "Audit records held for retry by the most behind sink.",
		}, func() float64 {
			if opts.AuditPending == nil {
				return 0
			}
			return float64(opts.AuditPending())
		}),
		counterFunc("audit_sink_errors_total",
			"Failed audit sink writes (each is retried).",
			opts.AuditSinkErrors),
	)

	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // counts promhttp_metric_handler_errors_total
		// A scrape is cheap; more than a few at once is a misbehaving client.
		MaxRequestsInFlight: 8,
	})
	m.handler = promhttp.InstrumentMetricHandler(reg, h)
	return m
}

// Registry returns the registry every metric lives in, so other packages
// can register their own collectors next to SpaceTime's.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or OpenMetrics
// or protobuf when the scraper asks). A collector that fails is logged
// and left out; the rest of the scrape is still served.
func (m *Metrics) Handler() http.Handler { return m.handler }

// ObserveSceneLoad records one scene load attempt that took d. status is
// one of SceneLoaded, SceneFailed, SceneTimeout or SceneRefused; any
// other value counts as SceneFailed, which keeps the label's values
// bounded. Every status but SceneLoaded also counts in
// spacetime_scene_load_errors_total.
func (m *Metrics) ObserveSceneLoad(status string, d time.Duration) {
	switch status {
	case SceneLoaded, SceneFailed, SceneTimeout, SceneRefused:
	default:
		status = SceneFailed
	}
	m.sceneLoads.WithLabelValues(status).Inc()
	if status != SceneLoaded {
		m.sceneLoadErrors.Inc()
	}
	m.sceneLoadDuration.Observe(d.Seconds())
}

// counterFunc is a CounterFunc named spacetime_<name> reading f (0 when f
// is nil).
func counterFunc(name, help string, f func() uint64) prometheus.CounterFunc {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: name, Help: help,
	}, func() float64 {
		if f == nil {
			return 0
		}
		return float64(f())
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
