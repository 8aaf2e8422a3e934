package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/metrics"
)

func TestEngineGauges(t *testing.T) {
	full := &engine.Snapshot{
		Tick:          900,
		SimTime:       1234.5,
		TimeScale:     10,
		Paused:        true,
		Scene:         engine.SceneInfo{Name: "vr_main", Path: "res://vr_main.tscn"},
		Bodies:        make([]engine.BodyState, 9),
		ParticleCount: 10000,
		Player:        &engine.PlayerState{Lorentz: 1.25},
		Perf: engine.Perf{
			PhysicsFPS: 90, FPS: 89.5,
			TickP50: 2 * time.Millisecond, TickP99: 7 * time.Millisecond, TickMax: 9 * time.Millisecond,
			TickBudget: time.Second / 90,
			Overruns:   3, Skipped: 1, Ticks: 900,
			Quality: 2, MaxQuality: 4, SubSteps: 5,
		},
	}
	empty := &engine.Snapshot{Perf: engine.Perf{PhysicsFPS: 90}}

	type series struct {
		name   string
		labels map[string]string
		want   float64
	}
	tests := []struct {
		name   string
		snap   *engine.Snapshot
		want   []series
		absent []string
	}{
		{
			name: "running scene with a player",
			snap: full,
			want: []series{
				{"spacetime_fps_current", nil, 89.5},
				{"spacetime_physics_fps", nil, 90},
				{"spacetime_tick_duration_seconds", map[string]string{"quantile": "0.5"}, 0.002},
				{"spacetime_tick_duration_seconds", map[string]string{"quantile": "0.99"}, 0.007},
				{"spacetime_tick_duration_max_seconds", nil, 0.009},
				{"spacetime_tick_budget_seconds", nil, (time.Second / 90).Seconds()},
				{"spacetime_ticks_total", nil, 900},
				{"spacetime_tick_overruns_total", nil, 3},
				{"spacetime_ticks_skipped_total", nil, 1},
				{"spacetime_quality_level", nil, 2},
				{"spacetime_quality_level_max", nil, 4},
				{"spacetime_integrator_substeps", nil, 5},
				{"spacetime_particles", nil, 10000},
				{"spacetime_bodies", nil, 9},
				{"spacetime_paused", nil, 1},
				{"spacetime_time_scale", nil, 10},
				{"spacetime_sim_time_seconds", nil, 1234.5},
				{"spacetime_player_lorentz_factor", nil, 1.25},
				{"spacetime_scene_info", map[string]string{"name": "vr_main", "path": "res://vr_main.tscn"}, 1},
			},
		},
		{
			name: "empty world before any scene",
			snap: empty,
			want: []series{
				{"spacetime_fps_current", nil, 0},
				{"spacetime_physics_fps", nil, 90},
				{"spacetime_particles", nil, 0},
				{"spacetime_bodies", nil, 0},
				{"spacetime_paused", nil, 0},
			},
			absent: []string{"spacetime_player_lorentz_factor", "spacetime_scene_info"},
		},
		{
			name: "no snapshot yet",
			snap: nil,
			want: []series{
				{"spacetime_up", nil, 1},
			},
			absent: []string{"spacetime_fps_current", "spacetime_particles", "spacetime_tick_duration_seconds"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeEngine{}
			eng.snap.Store(tc.snap)
			m := metrics.New(metrics.Options{Engine: eng})
			fams := scrape(t, m.Handler())
			for _, s := range tc.want {
				if got := value(t, fams, s.name, s.labels); got != s.want {
					t.Errorf("%s%v = %v, want %v", s.name, s.labels, got, s.want)
				}
			}
			for _, name := range tc.absent {
				if _, ok := fams[name]; ok {
					t.Errorf("%s present, want absent", name)
				}
			}
		})
	}
}

// TestEngineGaugesFollowSnapshot checks the gauges are read at scrape
// time, not at New.
func TestEngineGaugesFollowSnapshot(t *testing.T) {
	eng := &fakeEngine{}
	m := metrics.New(metrics.Options{Engine: eng})
	for _, fps := range []float64{90, 84.2, 60} {
		eng.snap.Store(&engine.Snapshot{Perf: engine.Perf{FPS: fps, PhysicsFPS: 90}})
		if got := value(t, scrape(t, m.Handler()), "spacetime_fps_current", nil); got != fps {
			t.Errorf("spacetime_fps_current = %v, want %v", got, fps)
		}
	}
}

func TestCounterFuncs(t *testing.T) {
	var violations, bans, disconnects, dropped, audit atomic.Uint64
	var subscribers atomic.Int64
	m := metrics.New(metrics.Options{
		RateLimitViolations:    violations.Load,
		BansIssued:             bans.Load,
		TelemetrySubscribers:   func() int { return int(subscribers.Load()) },
		TelemetryDisconnects:   disconnects.Load,
		TelemetryFramesDropped: dropped.Load,
		AuditDropped:           audit.Load,
		ResidentBytes:          func() uint64 { return 300 << 20 },
	})
	violations.Store(51)
	bans.Store(2)
	subscribers.Store(7)
	disconnects.Store(11)
	dropped.Store(1234)
	audit.Store(5)

	fams := scrape(t, m.Handler())
	tests := []struct {
		name string
		want float64
	}{
		{"spacetime_rate_limit_violations_total", 51},
		{"spacetime_bans_total", 2},
		{"spacetime_telemetry_subscribers", 7},
		{"spacetime_telemetry_disconnects_total", 11},
		{"spacetime_telemetry_frames_dropped_total", 1234},
		{"spacetime_audit_dropped_total", 5},
		{"spacetime_memory_mb", 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(t, fams, tc.name, nil); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNilFuncsReportZero checks every series exists from the start, so
// alert rules with increase() see the counters begin.
func TestNilFuncsReportZero(t *testing.T) {
	fams := scrape(t, metrics.New(metrics.Options{}).Handler())
	for _, name := range []string{
		"spacetime_rate_limit_violations_total", "spacetime_bans_total",
		"spacetime_telemetry_subscribers", "spacetime_telemetry_disconnects_total",
		"spacetime_telemetry_frames_dropped_total", "spacetime_audit_dropped_total",
		"spacetime_scene_load_errors_total", "spacetime_http_requests_in_flight",
	} {
		if got := value(t, fams, name, nil); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	for _, s := range []string{metrics.SceneLoaded, metrics.SceneFailed, metrics.SceneTimeout, metrics.SceneRefused} {
		if got := value(t, fams, "spacetime_scene_loads_total", map[string]string{"status": s}); got != 0 {
			t.Errorf("spacetime_scene_loads_total{status=%q} = %v, want 0", s, got)
		}
	}
	// The default resident-memory reader finds something on any platform.
	if got := value(t, fams, "spacetime_memory_mb", nil); got <= 0 {
		t.Errorf("spacetime_memory_mb = %v, want > 0", got)
	}
}

func TestObserveSceneLoad(t *testing.T) {
	type load struct {
		status string
		d      time.Duration
	}
	tests := []struct {
		name       string
		loads      []load
		wantLoads  map[string]float64
		wantErrors float64
		wantSum    float64
	}{
		{
			name:       "one success",
			loads:      []load{{metrics.SceneLoaded, 250 * time.Millisecond}},
			wantLoads:  map[string]float64{"loaded": 1, "failed": 0},
			wantErrors: 0,
			wantSum:    0.25,
		},
		{
			name: "failures of each kind count as errors",
			loads: []load{
				{metrics.SceneLoaded, time.Second},
				{metrics.SceneFailed, 10 * time.Millisecond},
				{metrics.SceneTimeout, 3 * time.Second},
				{metrics.SceneRefused, 0},
			},
			wantLoads:  map[string]float64{"loaded": 1, "failed": 1, "timeout": 1, "refused": 1},
			wantErrors: 3,
			wantSum:    4.01,
		},
		{
			name:       "unknown status is a failure, not a new label value",
			loads:      []load{{"exploded", time.Millisecond}, {"", time.Millisecond}},
			wantLoads:  map[string]float64{"loaded": 0, "failed": 2},
			wantErrors: 2,
			wantSum:    0.002,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New(metrics.Options{})
			for _, l := range tc.loads {
				m.ObserveSceneLoad(l.status, l.d)
			}
			fams := scrape(t, m.Handler())
			for status, want := range tc.wantLoads {
				if got := value(t, fams, "spacetime_scene_loads_total", map[string]string{"status": status}); got != want {
					t.Errorf("scene_loads_total{status=%q} = %v, want %v", status, got, want)
				}
			}
			if n := len(fams["spacetime_scene_loads_total"].GetMetric()); n != 4 {
				t.Errorf("scene_loads_total has %d series, want 4", n)
			}
			if got := value(t, fams, "spacetime_scene_load_errors_total", nil); got != tc.wantErrors {
				t.Errorf("scene_load_errors_total = %v, want %v", got, tc.wantErrors)
			}
			h := fams["spacetime_scene_load_duration_seconds"].GetMetric()[0].GetHistogram()
			if got, want := h.GetSampleCount(), uint64(len(tc.loads)); got != want {
				t.Errorf("scene_load_duration_seconds count = %d, want %d", got, want)
			}
			if got := h.GetSampleSum(); !near(got, tc.wantSum) {
				t.Errorf("scene_load_duration_seconds sum = %v, want %v", got, tc.wantSum)
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		opts metrics.Options
		want map[string]string
	}{
		{
			name: "set",
			opts: metrics.Options{Version: "1.2.3", Commit: "abc123", BuildMode: "release"},
			want: map[string]string{"version": "1.2.3", "commit": "abc123", "build_mode": "release"},
		},
		{
			name: "unset",
			want: map[string]string{"version": "unknown", "commit": "unknown", "build_mode": "unknown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fams := scrape(t, metrics.New(tc.opts).Handler())
			if got := value(t, fams, "spacetime_build_info", tc.want); got != 1 {
				t.Errorf("spacetime_build_info%v = %v, want 1", tc.want, got)
			}
		})
	}
}

// TestRuntimeCollectors checks the Go runtime and process collectors are
// on, and that nothing lands in the global default registry.
func TestRuntimeCollectors(t *testing.T) {
	m := metrics.New(metrics.Options{})
	fams := scrape(t, m.Handler())
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gather default registry: %v", err)
	}
	for _, f := range global {
		if strings.HasPrefix(f.GetName(), "spacetime_") {
			t.Errorf("%s registered in the global default registry", f.GetName())
		}
	}
}

func TestExplicitRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(metrics.Options{Registry: reg})
	if m.Registry() != reg {
		t.Fatalf("Registry() is not the registry passed in")
	}
	// Others register next to SpaceTime's metrics and are scraped too.
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "spacetime_extra_total", Help: "test"})
	reg.MustRegister(extra)
	extra.Add(4)
	if got := value(t, scrape(t, m.Handler()), "spacetime_extra_total", nil); got != 4 {
		t.Errorf("spacetime_extra_total = %v, want 4", got)
	}

	defer func() {
		if recover() == nil {
			t.Errorf("a second New on the same registry did not panic")
		}
	}()
	metrics.New(metrics.Options{Registry: reg})
}

// TestScrapeAfterTraffic is the acceptance test: a live server with
// the middleware and /metrics, some API traffic and scene loads, then a
// scrape over HTTP that parses and holds the guide's names with sensible
// values.
func TestScrapeAfterTraffic(t *testing.T) {
	eng := &fakeEngine{}
	eng.snap.Store(&engine.Snapshot{
		Bodies:        make([]engine.BodyState, 3),
		ParticleCount: 500,
		Perf:          engine.Perf{PhysicsFPS: 90, FPS: 90, TickP50: time.Millisecond, TickP99: 3 * time.Millisecond},
	})
	var violations atomic.Uint64
	m := metrics.New(metrics.Options{Engine: eng, RateLimitViolations: violations.Load})

	api := http.NewServeMux()
	api.HandleFunc("GET /scene/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "limited" {
			violations.Add(1)
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(m.Middleware(nil)(api))
	defer srv.Close()
	tel := httptest.NewServer(m.Handler())
	defer tel.Close()

	get := func(path string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
	}
	for range 5 {
		get("/scene/vr_main")
	}
	get("/scene/limited")
	get("/scene/limited")
	get("/no/such/path")
	m.ObserveSceneLoad(metrics.SceneLoaded, 40*time.Millisecond)
	m.ObserveSceneLoad(metrics.SceneFailed, 5*time.Millisecond)

	fams := scrapeURL(t, tel.URL)
	checks := []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
		want   string
	}{
		{"spacetime_fps_current", nil, func(v float64) bool { return v == 90 }, "90"},
		{"spacetime_memory_mb", nil, func(v float64) bool { return v > 1 && v < 1<<20 }, "between 1 MB and 1 TB"},
		{"spacetime_scene_load_errors_total", nil, func(v float64) bool { return v == 1 }, "1"},
		{"spacetime_rate_limit_violations_total", nil, func(v float64) bool { return v == 2 }, "2"},
		{"spacetime_telemetry_disconnects_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{"spacetime_http_request_duration_seconds", map[string]string{"route": "/scene/{name}", "method": "GET", "status": "200"},
			func(v float64) bool { return v == 5 }, "5 requests"},
		{"spacetime_http_request_duration_seconds", map[string]string{"route": "/scene/{name}", "method": "GET", "status": "429"},
			func(v float64) bool { return v == 2 }, "2 requests"},
		{"spacetime_http_request_duration_seconds", map[string]string{"route": metrics.UnmatchedRoute, "status": "404"},
			func(v float64) bool { return v == 1 }, "1 request"},
		{"spacetime_http_requests_in_flight", nil, func(v float64) bool { return v == 0 }, "0"},
		{"spacetime_up", nil, func(v float64) bool { return v == 1 }, "1"},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); !c.ok(got) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, got, c.want)
		}
	}
	// Durations are positive and, on any machine, far below 10 s.
	for _, s := range fams["spacetime_http_request_duration_seconds"].GetMetric() {
		h := s.GetHistogram()
		if sum := h.GetSampleSum(); sum <= 0 || sum > 10*float64(h.GetSampleCount()) {
			t.Errorf("request duration sum %v for %d requests", sum, h.GetSampleCount())
		}
	}
	if f := fams["spacetime_http_request_duration_seconds"]; f.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("spacetime_http_request_duration_seconds is a %v, want a histogram", f.GetType())
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
