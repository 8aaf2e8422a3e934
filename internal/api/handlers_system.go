package api

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	httppprof "net/http/pprof"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/procstat"
)

// openAPIDoc is the OpenAPI 3.1 description of Routes(), served as is.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPI: GET /openapi.json.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
	return nil
}

// engineHealth says whether the engine loop is alive: it has ticked, and
// its last tick is no older than Options.HealthStaleAfter. The age is
// clamped at 0 (an injected clock may lag the engine's).
func (s *Server) engineHealth(snap *engine.Snapshot) (ok bool, state string, age time.Duration) {
	if snap.WallTime.IsZero() {
		return false, "not_started", 0
	}
	age = max(s.now().Sub(snap.WallTime), 0)
	if age > s.opts.HealthStaleAfter {
		return false, "stalled", age
	}
	return true, "ticking", age
}

type healthResponse struct {
	Status        string  `json:"status"` // healthy, unhealthy
	Engine        string  `json:"engine"` // ticking, stalled, not_started
	LastTickAgeMS float64 `json:"last_tick_age_ms"`
}

// health: GET /health, liveness of the process and its engine loop. 200
// {"status":"healthy"} while the loop publishes snapshots; 503
// {"status":"unhealthy"} when it has not ticked yet or its last tick is
// older than Options.HealthStaleAfter (a stuck or dead loop). Having no
// scene is healthy: the loop runs an empty world, /status tells the scene.
// The 503 body is plain JSON, not a problem: it answers the question.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	ok, state, age := s.engineHealth(s.opts.Sim.Snapshot())
	resp := healthResponse{Status: "healthy", Engine: state, LastTickAgeMS: msOf(age)}
	status := http.StatusOK
	if !ok {
		resp.Status, status = "unhealthy", http.StatusServiceUnavailable
	}
	return writeJSON(w, status, resp)
}

type buildJSON struct {
	Commit    string `json:"commit"`
	BuildMode string `json:"build_mode"`
}

type statusResponse struct {
	Status        string    `json:"status"` // healthy, unhealthy (as /health)
	Version       string    `json:"version"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	HTTPAPI       string    `json:"http_api"`    // always "active": this answer is the API
	Telemetry     string    `json:"telemetry"`   // active, disabled
	Scene         string    `json:"scene"`       // res:// path, "" when none
	Environment   string    `json:"environment"` // production, staging, development, test
	Build         buildJSON `json:"build"`
	// RateLimiter says where rate limits are kept: "memory", "redis", or
	// "memory (redis unreachable)" while a configured Redis is down.
	RateLimiter string `json:"rate_limiter"`
	// Audit is the audit log's state: "ok", "failing" (a sink cannot
	// store records; they are held for retry, see the log and metrics) or
	// "disabled".
	Audit string `json:"audit"`
	// JWTToken is a short-lived developer access token, only in
	// development and only to loopback clients (see devToken).
	JWTToken string `json:"jwt_token,omitempty"`
}

// status: GET /status. Public, so it carries no Go version or runtime
// detail (those are in /debug).
func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	ok, _, _ := s.engineHealth(snap)
	resp := statusResponse{
		Status:        "healthy",
		Version:       s.opts.Build.Version,
		UptimeSeconds: int64(s.uptime() / time.Second),
		HTTPAPI:       "active",
		Telemetry:     "disabled",
		Scene:         snap.Scene.Path,
		Environment:   s.opts.Environment,
		Build:         buildJSON{Commit: s.opts.Build.Commit, BuildMode: s.opts.Build.BuildMode},
		RateLimiter:   "memory",
		Audit:         "disabled",
	}
	if s.opts.RateLimiter != nil {
		resp.RateLimiter = s.opts.RateLimiter()
	}
	if s.opts.Audit != nil {
		resp.Audit = s.opts.Audit()
	}
	if !ok {
		resp.Status = "unhealthy"
	}
	if s.opts.TelemetryActive != nil && s.opts.TelemetryActive() {
		resp.Telemetry = "active"
	}
	resp.JWTToken = s.devToken(r)
	return writeJSON(w, http.StatusOK, resp)
}

// devToken is the jwt_token of /status: a developer access token, for the
// guide's workflow TOKEN=$(curl /status | jq -r .jwt_token). It is handed
// out only when all of these hold, and is "" otherwise:
//   - the environment is development and SecurityOptions.DevTokenOnStatus
//     is set (feature_flags.dev_token_on_status);
//   - the connection's peer is a loopback address (r.RemoteAddr; never
//     X-Forwarded-For) and the request carries no forwarding header, so a
//     reverse proxy on the same host does not make remote clients local.
//
// A failure to issue one is logged; /status still answers.
func (s *Server) devToken(r *http.Request) string {
	sec := s.opts.Security
	if !sec.DevTokenOnStatus || s.opts.Environment != envDevelopment || sec.Sessions == nil || !directLoopback(r) {
		return ""
	}
	g, err := sec.Sessions.DevToken()
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "development token not issued",
			slog.String("request_id", RequestID(r.Context())), slog.String("error", err.Error()))
		return ""
	}
	return g.AccessToken
}

func (s *Server) uptime() time.Duration { return max(s.now().Sub(s.opts.StartTime), 0) }

type metricsResponse struct {
	FPS             float64 `json:"fps"`         // ticks achieved over the last second
	PhysicsFPS      int     `json:"physics_fps"` // configured tick rate
	MemoryMB        float64 `json:"memory_mb"`   // resident set size
	TickP50MS       float64 `json:"tick_p50_ms"`
	TickP99MS       float64 `json:"tick_p99_ms"`
	TickMaxMS       float64 `json:"tick_max_ms"`
	Overruns        uint64  `json:"overruns"`
	QualityLevel    int     `json:"quality_level"` // 0 = full
	MaxQualityLevel int     `json:"max_quality_level"`
	SubSteps        int     `json:"substeps"`
	ParticleStride  int     `json:"particle_stride"`
	Ticks           uint64  `json:"ticks"`
	Goroutines      int     `json:"goroutines"`
	Particles       int     `json:"particles"`
	Bodies          int     `json:"bodies"`
	UptimeSeconds   float64 `json:"uptime_seconds"`
}

// performance: GET /performance/metrics.
func (s *Server) performance(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	p := snap.Perf
	return writeJSON(w, http.StatusOK, metricsResponse{
		FPS:             round3(p.FPS),
		PhysicsFPS:      p.PhysicsFPS,
		MemoryMB:        round3(float64(procstat.ResidentBytes()) / (1 << 20)),
		TickP50MS:       msOf(p.TickP50),
		TickP99MS:       msOf(p.TickP99),
		TickMaxMS:       msOf(p.TickMax),
		Overruns:        p.Overruns,
		QualityLevel:    p.Quality,
		MaxQualityLevel: p.MaxQuality,
		SubSteps:        p.SubSteps,
		ParticleStride:  p.ParticleStride,
		Ticks:           p.Ticks,
		Goroutines:      runtime.NumGoroutine(),
		Particles:       snap.ParticleCount,
		Bodies:          len(snap.Bodies),
		UptimeSeconds:   round3(s.uptime().Seconds()),
	})
}

type gcJSON struct {
	Cycles        uint64  `json:"cycles"`
	HeapObjectsMB float64 `json:"heap_objects_mb"`
	HeapGoalMB    float64 `json:"heap_goal_mb"`
	TotalMemoryMB float64 `json:"total_memory_mb"` // all memory the Go runtime has mapped
}

type engineDebugJSON struct {
	Tick            uint64  `json:"tick"`
	Ticks           uint64  `json:"ticks"`
	Paused          bool    `json:"paused"`
	TimeScale       float64 `json:"time_scale"`
	PhysicsFPS      int     `json:"physics_fps"`
	FPS             float64 `json:"fps"`
	QualityLevel    int     `json:"quality_level"`
	MaxQualityLevel int     `json:"max_quality_level"`
	SubSteps        int     `json:"substeps"`
	ParticleStride  int     `json:"particle_stride"`
	ParticleTick    uint64  `json:"particle_tick"`
	Overruns        uint64  `json:"overruns"`
	Scene           string  `json:"scene"`
	LastTickAgeMS   float64 `json:"last_tick_age_ms"`
}

type debugResponse struct {
	GoVersion     string          `json:"go_version"`
	GOMAXPROCS    int             `json:"gomaxprocs"`
	NumCPU        int             `json:"num_cpu"`
	Goroutines    int             `json:"goroutines"`
	GC            gcJSON          `json:"gc"`
	Engine        engineDebugJSON `json:"engine"`
	Version       string          `json:"version"`
	Commit        string          `json:"commit"`
	BuildMode     string          `json:"build_mode"`
	Platform      string          `json:"platform"`
	Environment   string          `json:"environment"`
	UptimeSeconds float64         `json:"uptime_seconds"`
}

// debugInfo: GET /debug. Runtime figures come from runtime/metrics, which
// does not stop the world (runtime.ReadMemStats would, stalling the
// engine's tick). Nothing here is a secret: no options, no environment.
func (s *Server) debugInfo(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	_, _, age := s.engineHealth(snap)
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/goal:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	metrics.Read(samples)
	u := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	const mb = 1 << 20
	p := snap.Perf
	return writeJSON(w, http.StatusOK, debugResponse{
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		Goroutines: runtime.NumGoroutine(),
		GC: gcJSON{
			Cycles:        u(0),
			HeapObjectsMB: round3(float64(u(1)) / mb),
			HeapGoalMB:    round3(float64(u(2)) / mb),
			TotalMemoryMB: round3(float64(u(3)) / mb),
		},
		Engine: engineDebugJSON{
			Tick: snap.Tick, Ticks: p.Ticks, Paused: snap.Paused, TimeScale: snap.TimeScale,
			PhysicsFPS: p.PhysicsFPS, FPS: round3(p.FPS), QualityLevel: p.Quality,
			MaxQualityLevel: p.MaxQuality, SubSteps: p.SubSteps, ParticleStride: p.ParticleStride,
			ParticleTick: snap.ParticleTick, Overruns: p.Overruns, Scene: snap.Scene.Path,
			LastTickAgeMS: msOf(age),
		},
		Version:       s.opts.Build.Version,
		Commit:        s.opts.Build.Commit,
		BuildMode:     s.opts.Build.BuildMode,
		Platform:      s.opts.Build.Platform,
		Environment:   s.opts.Environment,
		UptimeSeconds: round3(s.uptime().Seconds()),
	})
}

// maxCommandLen bounds a console command.
const maxCommandLen = 1024

type executeRequest struct {
	Command string `json:"command"`
}

type executeResponse struct {
	Command string `json:"command"`
	Result  string `json:"result"`
}

// execute: POST /execute {"command": "warp 1000"}, one command of the
// engine's fixed grammar, never arbitrary code. A command the engine
// refuses is a 400 bad_command with the engine's message.
func (s *Server) execute(w http.ResponseWriter, r *http.Request) error {
	var req executeRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	cmd := strings.TrimSpace(req.Command)
	switch {
	case cmd == "":
		return apiError(ErrInvalid, codeBadCommand, "command is required, e.g. \"help\"", nil)
	case len(cmd) > maxCommandLen:
		return apiError(ErrInvalid, codeBadCommand, fmt.Sprintf("command is longer than %d bytes", maxCommandLen), nil)
	case strings.ContainsFunc(cmd, unicode.IsControl):
		return apiError(ErrInvalid, codeBadCommand, "command must be one line without control characters", nil)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ExecTimeout)
	defer cancel()
	result, err := s.opts.Sim.Exec(ctx, cmd)
	switch {
	case err == nil:
		return writeJSON(w, http.StatusOK, executeResponse{Command: cmd, Result: result})
	case errors.Is(err, ErrInvalid):
		return apiError(ErrInvalid, codeBadCommand, safeDetail(err, "the engine rejected the command"), err)
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		return apiError(ErrTimeout, codeTimeout,
			fmt.Sprintf("the command did not finish within %v", s.opts.ExecTimeout), err)
	}
	return fmt.Errorf("execute %q: %w", cmd, err)
}

// msOf is d in milliseconds, to the microsecond.
func msOf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// round3 rounds to three decimals.
func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }

// pprof serves net/http/pprof under /debug/pprof/: the index, the named
// runtime profiles (heap, goroutine, allocs, ...), and cmdline, profile
// (CPU, ?seconds=, under the server's write timeout), symbol and trace.
func (s *Server) pprof(w http.ResponseWriter, r *http.Request) error {
	switch r.PathValue("name") {
	case "cmdline":
		httppprof.Cmdline(w, r)
	case "profile":
		httppprof.Profile(w, r)
	case "symbol":
		httppprof.Symbol(w, r)
	case "trace":
		httppprof.Trace(w, r)
	default:
		httppprof.Index(w, r) // the index, or the profile the path names
	}
	return nil
}
