package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/engine"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		snap       func() *engine.Snapshot
		wantStatus int
		want       map[string]any
	}{
		{name: "ticking", snap: func() *engine.Snapshot { return snapshotOf(mainSpec(), t0.Add(-40*time.Millisecond)) },
			wantStatus: 200, want: map[string]any{"status": "healthy", "engine": "ticking", "last_tick_age_ms": 40.0}},
		{name: "ticking without a scene", snap: func() *engine.Snapshot { return &engine.Snapshot{WallTime: t0} },
			wantStatus: 200, want: map[string]any{"status": "healthy", "engine": "ticking", "last_tick_age_ms": 0.0}},
		{name: "stalled", snap: func() *engine.Snapshot { return snapshotOf(mainSpec(), t0.Add(-5*time.Second)) },
			wantStatus: 503, want: map[string]any{"status": "unhealthy", "engine": "stalled", "last_tick_age_ms": 5000.0}},
		{name: "never ticked", snap: func() *engine.Snapshot { return &engine.Snapshot{} },
			wantStatus: 503, want: map[string]any{"status": "unhealthy", "engine": "not_started", "last_tick_age_ms": 0.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.setSnapshot(tt.snap())
			r := h.do("GET", "/health", "")
			if r.status != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.status, tt.wantStatus)
			}
			if got := decode[map[string]any](t, r); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("body = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		telemetry func() bool
		want      string
		limiter   func() string
		wantLim   string
		audit     func() string
		wantAudit string
	}{
		{name: "telemetry on", telemetry: func() bool { return true }, want: "active", wantLim: "memory"},
		{name: "telemetry off", telemetry: func() bool { return false }, want: "disabled", wantLim: "memory"},
		{name: "no telemetry", want: "disabled", wantLim: "memory"},
		{name: "redis limits", want: "disabled", limiter: func() string { return "redis" }, wantLim: "redis"},
		{name: "redis down", want: "disabled", limiter: func() string { return "memory (redis unreachable)" }, wantLim: "memory (redis unreachable)"},
		{name: "audit ok", want: "disabled", wantLim: "memory", audit: func() string { return "ok" }, wantAudit: "ok"},
		{name: "audit failing", want: "disabled", wantLim: "memory", audit: func() string { return "failing" }, wantAudit: "failing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *api.Options) { o.TelemetryActive = tt.telemetry; o.RateLimiter = tt.limiter; o.Audit = tt.audit })
			if tt.wantAudit == "" {
				tt.wantAudit = "disabled"
			}
			got := decode[map[string]any](t, h.do("GET", "/status", ""))
			want := map[string]any{
				"status": "healthy", "version": "1.2.3", "uptime_seconds": 120.0, "http_api": "active",
				"telemetry": tt.want, "scene": sceneMenu, "environment": "staging",
				"build": map[string]any{"commit": "abc123", "build_mode": "debug"}, "rate_limiter": tt.wantLim,
				"audit": tt.wantAudit,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("GET /status = %v, want %v", got, want)
			}
			if _, leaked := got["jwt_token"]; leaked {
				t.Error("status hands out a jwt_token")
			}
		})
	}
}

func TestStateScene(t *testing.T) {
	h := newHarness(t)
	snap := snapshotOf(mainSpec(), t0)
	snap.Tick, snap.SimTime, snap.TimeScale, snap.Paused = 42, 86400.5, 1000, true
	h.sim.setSnapshot(snap)
	r := h.do("GET", "/state/scene", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decode[sceneState](t, r)
	if got.Tick != 42 || got.SimTime != 86400.5 || got.TimeScale != 1000 || !got.Paused || got.SpeedOfLight != engine.SpeedOfLight {
		t.Errorf("time fields = %+v", got)
	}
	if want := "2000-01-02T11:58:56.316Z"; got.SimDate != want {
		t.Errorf("sim_date = %q, want %q", got.SimDate, want)
	}
	if len(got.Bodies) != 2 || got.Bodies[1].Name != "Earth" || got.Bodies[1].GM != 3.986004418e14 ||
		got.Bodies[1].Radius != 6.371e6 || got.Bodies[1].Position.X != 1.496e11 || got.Bodies[1].Velocity.Y != 29780 {
		t.Errorf("bodies = %+v", got.Bodies)
	}
	if got.Particles.Count != 5 || len(got.Particles.Groups) != 1 || got.Particles.Groups[0].Name != "Belt" || got.Particles.Groups[0].Count != 5 {
		t.Errorf("particles = %+v", got.Particles)
	}
	if !got.HasPlayer || got.Status != "paused" || got.SceneName != "vr_main" || got.ScenePath != sceneMain {
		t.Errorf("has_player = %v, status = %q, scene = %q %q", got.HasPlayer, got.Status, got.SceneName, got.ScenePath)
	}
	if strings.Contains(string(r.body), "particle_pos") {
		t.Error("state/scene carries particle positions")
	}
}

type vec3 struct{ X, Y, Z float64 }

// sceneState is the body of GET /state/scene.
type sceneState struct {
	SceneName    string `json:"scene_name"`
	ScenePath    string `json:"scene_path"`
	Status       string
	Tick         uint64
	SimTime      float64 `json:"sim_time"`
	SimDate      string  `json:"sim_date"`
	TimeScale    float64 `json:"time_scale"`
	Paused       bool
	SpeedOfLight float64 `json:"speed_of_light"`
	Bodies       []struct {
		Name     string
		GM       float64
		Radius   float64
		Position vec3
		Velocity vec3
	}
	Particles struct {
		Count  int
		Groups []struct {
			Name         string
			Start, Count int
		}
	}
	HasPlayer bool `json:"has_player"`
}

func TestStatePlayer(t *testing.T) {
	h := newHarness(t)
	snap := snapshotOf(mainSpec(), t0)
	snap.Tick, snap.SimTime = 7, 100
	snap.Player = &engine.PlayerState{
		Name: "Ship", Pos: engine.Vec3{X: 1, Y: 2, Z: 3}, Vel: engine.Vec3{X: 4, Y: 5, Z: 6},
		Attitude: engine.Quat{W: 0.5, X: 0.5, Y: 0.5, Z: 0.5}, Status: engine.PlayerLanded, Body: "Earth",
		ProperTime: 99.9, Lorentz: 1.25, Gamma: 1.2, Speed: 8.77,
		Input: engine.Input{Throttle: engine.Vec3{Z: -1}, Rotation: engine.Vec3{Y: 0.1}},
	}
	h.sim.setSnapshot(snap)
	r := h.do("GET", "/state/player", "")
	got := decode[map[string]any](t, r)
	want := map[string]any{
		"name": "Ship", "position": map[string]any{"x": 1.0, "y": 2.0, "z": 3.0},
		"velocity": map[string]any{"x": 4.0, "y": 5.0, "z": 6.0},
		"attitude": map[string]any{"w": 0.5, "x": 0.5, "y": 0.5, "z": 0.5},
		"speed":    8.77, "status": "landed", "body": "Earth", "proper_time": 99.9,
		"lorentz_factor": 1.25, "gamma": 1.2,
		"input": map[string]any{"throttle": map[string]any{"x": 0.0, "y": 0.0, "z": -1.0},
			"rotation": map[string]any{"x": 0.0, "y": 0.1, "z": 0.0}},
		"tick": 7.0, "sim_time": 100.0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GET /state/player =\n%v\nwant\n%v", got, want)
	}
}

func TestStatePlayerWithoutPlayer(t *testing.T) {
	h := newHarness(t) // the menu scene has no player
	problem(t, h.do("GET", "/state/player", ""), http.StatusNotFound, "no_player")
}

type headsetVR struct{}

func (headsetVR) VR() api.VRState {
	return api.VRState{VREnabled: true, HeadsetConnected: true, Runtime: "WebXR", HeadsetType: "Quest 3",
		Headset:     &api.VRPose{Position: api.VRVec{Y: 1.6}, Orientation: api.VRQuat{W: 1}},
		Controllers: []api.VRController{{Hand: "left", Connected: true, Pose: api.VRPose{Orientation: api.VRQuat{W: 1}}}},
		RenderFPS:   72, RenderScale: 0.75, Clients: 2}
}

func TestStateVR(t *testing.T) {
	tests := []struct {
		name string
		vr   api.VRStatus
		want string
	}{
		{name: "default desktop fallback", want: `{"vr_enabled":false,"headset_connected":false,"fallback_mode":"desktop","clients":0}`},
		{name: "headset", vr: headsetVR{},
			want: `{"vr_enabled":true,"headset_connected":true,"runtime":"WebXR","headset_type":"Quest 3",` +
				`"headset":{"position":{"x":0,"y":1.6,"z":0},"orientation":{"w":1,"x":0,"y":0,"z":0}},` +
				`"controllers":[{"hand":"left","connected":true,"pose":{"position":{"x":0,"y":0,"z":0},"orientation":{"w":1,"x":0,"y":0,"z":0}}}],` +
				`"render_fps":72,"render_scale":0.75,"clients":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *api.Options) { o.VR = tt.vr })
			r := h.do("GET", "/state/vr", "")
			if got := strings.TrimSpace(string(r.body)); r.status != 200 || got != tt.want {
				t.Errorf("GET /state/vr = %d %s, want 200 %s", r.status, got, tt.want)
			}
		})
	}
}

func TestPerformanceMetrics(t *testing.T) {
	h := newHarness(t)
	snap := snapshotOf(mainSpec(), t0)
	snap.Perf = engine.Perf{PhysicsFPS: 90, FPS: 89.5, TickP50: 1500 * time.Microsecond, TickP99: 7 * time.Millisecond,
		TickMax: 12 * time.Millisecond, Overruns: 3, Quality: 1, MaxQuality: 4, SubSteps: 2, ParticleStride: 2, Ticks: 9000}
	h.sim.setSnapshot(snap)
	got := decode[map[string]any](t, h.do("GET", "/performance/metrics", ""))
	want := map[string]any{
		"fps": 89.5, "physics_fps": 90.0, "tick_p50_ms": 1.5, "tick_p99_ms": 7.0, "tick_max_ms": 12.0,
		"overruns": 3.0, "quality_level": 1.0, "max_quality_level": 4.0, "substeps": 2.0, "particle_stride": 2.0,
		"ticks": 9000.0, "particles": 5.0, "bodies": 2.0, "uptime_seconds": 120.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if mem, _ := got["memory_mb"].(float64); mem <= 0 {
		t.Errorf("memory_mb = %v, want > 0", got["memory_mb"])
	}
	if g, _ := got["goroutines"].(float64); g < 1 {
		t.Errorf("goroutines = %v", got["goroutines"])
	}
}

func TestDebug(t *testing.T) {
	h := newHarness(t)
	got := decode[map[string]any](t, h.do("GET", "/debug", ""))
	if got["go_version"] != runtime.Version() || got["gomaxprocs"] != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("runtime fields = %v", got)
	}
	eng, _ := got["engine"].(map[string]any)
	if eng["scene"] != sceneMenu || eng["physics_fps"] != 90.0 {
		t.Errorf("engine = %v", eng)
	}
	gc, _ := got["gc"].(map[string]any)
	if v, _ := gc["total_memory_mb"].(float64); v <= 0 {
		t.Errorf("gc = %v", gc)
	}
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		hook       func(context.Context, string) (string, error)
		wantStatus int
		wantCode   string
		want       string // result, or part of the problem detail
	}{
		{name: "ok", body: `{"command":"warp 1000"}`, wantStatus: 200, want: "ok: warp 1000"},
		{name: "trimmed", body: `{"command":"  pause  "}`, wantStatus: 200, want: "ok: pause"},
		{name: "empty", body: `{"command":"  "}`, wantStatus: 400, wantCode: "bad_command", want: "required"},
		{name: "two lines", body: `{"command":"pause\nresume"}`, wantStatus: 400, wantCode: "bad_command", want: "one line"},
		{name: "too long", body: `{"command":"` + strings.Repeat("a", 1025) + `"}`, wantStatus: 400, wantCode: "bad_command", want: "longer"},
		{name: "engine rejects with message", body: `{"command":"warp fast"}`, wantStatus: 400, wantCode: "bad_command",
			hook: func(context.Context, string) (string, error) {
				return "", &api.Error{Kind: api.ErrInvalid, Detail: `warp: "fast" is not a number`}
			}, want: `"fast" is not a number`},
		{name: "engine rejects bare", body: `{"command":"x"}`, wantStatus: 400, wantCode: "bad_command",
			hook: func(context.Context, string) (string, error) {
				return "", fmt.Errorf("engine: %w", api.ErrInvalid)
			}, want: "rejected"},
		{name: "engine stopped", body: `{"command":"pause"}`, wantStatus: 503, wantCode: "unavailable",
			hook: func(context.Context, string) (string, error) { return "", api.ErrUnavailable }},
		{name: "internal", body: `{"command":"pause"}`, wantStatus: 500, wantCode: "internal",
			hook: func(context.Context, string) (string, error) { return "", errors.New("secret internals") }},
		{name: "unknown field", body: `{"command":"pause","code":"os.exit"}`, wantStatus: 400, wantCode: "malformed_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.execHook = tt.hook
			r := h.do("POST", "/execute", tt.body)
			if tt.wantCode == "" {
				got := decode[map[string]any](t, r)
				if r.status != tt.wantStatus || got["result"] != tt.want || got["command"] == "" {
					t.Errorf("POST /execute = %d %v, want result %q", r.status, got, tt.want)
				}
				return
			}
			p := problem(t, r, tt.wantStatus, tt.wantCode)
			if !strings.Contains(p.Detail, tt.want) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.want)
			}
			if strings.Contains(string(r.body), "secret internals") {
				t.Errorf("problem leaks the cause: %s", r.body)
			}
		})
	}
}

func TestExecuteTimeout(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.ExecTimeout = 10 * time.Millisecond })
	h.sim.execHook = func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done()
		return "", fmt.Errorf("engine exec: %w", ctx.Err())
	}
	problem(t, h.do("POST", "/execute", `{"command":"step 1"}`), http.StatusGatewayTimeout, "timeout")
}
