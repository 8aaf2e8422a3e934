package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// checkAPI: GET /health answers 200 "healthy" within the timeout, with
// the engine loop ticking.
func checkAPI(ctx context.Context, t *Target) Result {
	u, err := t.endpoint("/health")
	if err != nil {
		return fail(err.Error())
	}
	h, took, err := t.serverHealth()
	if err != nil {
		msg := "no answer: " + err.Error()
		if cfg := t.opts.Config; cfg != nil && !cfg.HTTPAPIEnabled(t.opts.Build.BuildMode == "release") {
			msg += " (this configuration keeps the API off: a release build needs GODOT_ENABLE_HTTP_API=true)"
		}
		return fail(msg, detailf("url", "%s", u), detailf("timeout", "%s", t.opts.Timeout))
	}
	detail := []string{
		detailf("url", "%s", u),
		detailf("answer", "HTTP %d in %s", h.httpStatus, took.Round(10*time.Microsecond)),
		detailf("engine", "%s, last tick %.1f ms ago", h.Engine, h.LastTickAgeMS),
	}
	if h.httpStatus != http.StatusOK || h.Status != "healthy" {
		return fail(fmt.Sprintf("GET /health answered %d %s: engine %s", h.httpStatus, h.Status, h.Engine), detail...)
	}
	return pass(fmt.Sprintf("GET /health 200 in %s, engine %s", took.Round(10*time.Microsecond), h.Engine), detail...)
}

// engineFigures is what the engine check reads, from either source.
type engineFigures struct {
	source     string
	fps        float64
	physicsFPS float64
	tickP99MS  float64 // -1 when unknown
	overruns   float64
	quality    float64
}

// engineFiguresOf reads /performance/metrics (developer role) or, without
// the role, the telemetry port's Prometheus metrics.
func (t *Target) engineFiguresOf(ctx context.Context) (engineFigures, error) {
	var m struct {
		FPS        float64 `json:"fps"`
		PhysicsFPS float64 `json:"physics_fps"`
		TickP99MS  float64 `json:"tick_p99_ms"`
		Overruns   float64 `json:"overruns"`
		Quality    float64 `json:"quality_level"`
	}
	apiErr := t.getJSON(ctx, "/performance/metrics", true, &m)
	if apiErr == nil {
		return engineFigures{source: "GET /performance/metrics", fps: m.FPS, physicsFPS: m.PhysicsFPS,
			tickP99MS: m.TickP99MS, overruns: m.Overruns, quality: m.Quality}, nil
	}
	fams, src, err := t.scrape(ctx)
	if err != nil {
		return engineFigures{}, fmt.Errorf("%w; and %w", apiErr, err)
	}
	f := engineFigures{source: src, tickP99MS: -1}
	var ok1, ok2 bool
	f.fps, ok1 = gauge(fams, "spacetime_fps_current")
	f.physicsFPS, ok2 = gauge(fams, "spacetime_physics_fps")
	f.overruns, _ = gauge(fams, "spacetime_tick_overruns_total")
	if !ok1 || !ok2 {
		return engineFigures{}, fmt.Errorf("%w; and %s has no spacetime_fps_current or spacetime_physics_fps", apiErr, src)
	}
	return f, nil
}

// checkEngine: the engine ticks at its configured rate; below the guide's
// threshold (min_fps_threshold, 85 of 90) is a warning, not ticking a
// failure.
func checkEngine(ctx context.Context, t *Target) Result {
	f, err := t.engineFiguresOf(ctx)
	if err != nil {
		return fail("no engine figures: " + err.Error())
	}
	want, minFPS, target := f.physicsFPS, 0.0, f.physicsFPS
	if cfg := t.opts.Config; cfg != nil {
		want = float64(cfg.Performance.Godot.PhysicsFPS)
		minFPS = cfg.Performance.Optimization.MinFPSThreshold
		target = float64(cfg.Performance.Godot.TargetFPS)
	}
	r := JudgeRate(f.fps, f.physicsFPS, want, minFPS, target)
	r.Detail = append([]string{detailf("source", "%s", f.source)}, r.Detail...)
	if f.tickP99MS >= 0 {
		r.Detail = append(r.Detail, detailf("tick p99", "%.3f ms", f.tickP99MS))
	}
	r.Detail = append(r.Detail, detailf("overruns", "%.0f", f.overruns), detailf("quality level", "%.0f", f.quality))
	return r
}

// JudgeRate judges an engine's achieved rate fps against the rate it runs
// at (physicsFPS), the configured one (want) and the threshold minFPS
// given for a targetFPS (scaled to physicsFPS when they differ; 85 of 90
// by default; 0 means 85/90 of physicsFPS).
func JudgeRate(fps, physicsFPS, want, minFPS, targetFPS float64) Result {
	threshold := physicsFPS * 85 / 90
	if minFPS > 0 && targetFPS > 0 {
		threshold = physicsFPS * minFPS / targetFPS
	}
	detail := []string{
		detailf("fps", "%.1f", fps),
		detailf("physics_fps", "%.0f (configured %.0f)", physicsFPS, want),
		detailf("threshold", "%.1f", threshold),
	}
	switch {
	case physicsFPS <= 0 || math.IsNaN(fps):
		return fail(fmt.Sprintf("the engine reports no tick rate (physics_fps %.0f)", physicsFPS), detail...)
	case fps <= 0:
		return fail(fmt.Sprintf("the engine is not ticking (0 of %.0f fps)", physicsFPS), detail...)
	case physicsFPS != want:
		return warn(fmt.Sprintf("%.1f fps, but the server ticks at %.0f Hz where the configuration says %.0f", fps, physicsFPS, want), detail...)
	case fps < threshold:
		return warn(fmt.Sprintf("%.1f fps, below the threshold of %.1f (target %.0f)", fps, threshold, physicsFPS), detail...)
	}
	return pass(fmt.Sprintf("%.1f fps at physics_fps %.0f (threshold %.1f)", fps, physicsFPS, threshold), detail...)
}

// metricsURL is the telemetry port's Prometheus endpoint.
func (t *Target) metricsURL() (string, error) {
	u, err := parseBase(t.opts.TelemetryURL, "--telemetry-url")
	if err != nil {
		return "", err
	}
	path := "/metrics"
	if cfg := t.opts.Config; cfg != nil {
		path = cfg.Monitoring.MetricsPath
	}
	return u.String() + path, nil
}

// scrape fetches and parses the telemetry port's Prometheus metrics.
func (t *Target) scrape(ctx context.Context) (map[string]*dto.MetricFamily, string, error) {
	u, err := t.metricsURL()
	if err != nil {
		return nil, "", err
	}
	src := "GET " + u
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, src, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, src, fmt.Errorf("%s: %w", src, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, src, fmt.Errorf("%s: read: %w", src, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, src, fmt.Errorf("%s: HTTP %d", src, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, src, fmt.Errorf("%s: the scrape does not parse: %w", src, err)
	}
	return fams, src, nil
}

// gauge returns the value of the first sample of a gauge or counter.
func gauge(fams map[string]*dto.MetricFamily, name string) (float64, bool) {
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) == 0 {
		return 0, false
	}
	m := f.GetMetric()[0]
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue(), true
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue(), true
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// checkTelemetry: the stream accepts a WebSocket with the token
// (subprotocol spacetime.v1 and bearer.<token>), says auth_success and
// answers a ping; the Prometheus scrape parses.
func checkTelemetry(ctx context.Context, t *Target) Result {
	cfg := t.opts.Config
	if cfg != nil && !cfg.Networking.Telemetry.Enabled {
		return pass("disabled by configuration (networking.telemetry.enabled is false)")
	}
	base, err := parseBase(t.opts.TelemetryURL, "--telemetry-url")
	if err != nil {
		return fail(err.Error())
	}
	wsURL, err := telemetry.WebSocketURL(base.String() + "/telemetry")
	if err != nil {
		return fail(err.Error())
	}
	detail := []string{detailf("stream", "%s", wsURL)}
	token, tokErr := t.accessToken()
	start := time.Now()
	c, err := telemetry.Dial(ctx, wsURL, token, nil, 0)
	if err != nil {
		if errors.Is(err, telemetry.ErrUnauthorized) && tokErr != nil {
			err = fmt.Errorf("%w (no access token: %w)", err, tokErr)
		}
		return fail("stream refused or unreachable: "+err.Error(), detail...)
	}
	defer c.Close()
	detail = append(detail, detailf("authenticated as", "%s (%s) in %s", c.Principal.ID, c.Principal.Role, time.Since(start).Round(10*time.Microsecond)))
	pingAt := time.Now()
	if err := c.Send(map[string]string{"type": telemetry.MsgPing, "id": "health"}); err != nil {
		return fail("ping: "+err.Error(), detail...)
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return fail("no pong: "+err.Error(), detail...)
		}
		if m.Type == telemetry.MsgError {
			return fail(fmt.Sprintf("ping answered with error %s: %s", m.Code, m.Message), detail...)
		}
		if m.Type == telemetry.MsgPong {
			detail = append(detail, detailf("ping", "pong at tick %d in %s", m.Tick, time.Since(pingAt).Round(10*time.Microsecond)))
			break
		}
	}
	summary := fmt.Sprintf("stream authenticated as %s, ping answered", c.Principal.Role)
	if cfg != nil && !cfg.Monitoring.MetricsEnabled {
		return pass(summary+"; metrics disabled by configuration", detail...)
	}
	fams, src, err := t.scrape(ctx)
	if err != nil {
		return fail(summary+", but "+err.Error(), detail...)
	}
	up, ok := gauge(fams, "spacetime_up")
	if !ok {
		return fail(summary+", but "+src+" has no spacetime_up: not a SpaceTime scrape", detail...)
	}
	detail = append(detail, detailf("metrics", "%s: %d families, spacetime_up %g", src, len(fams), up))
	if subs, ok := gauge(fams, "spacetime_telemetry_subscribers"); ok {
		detail = append(detail, detailf("subscribers", "%.0f", subs))
	}
	return pass(fmt.Sprintf("%s; %d metric families scraped", summary, len(fams)), detail...)
}

// checkScene: a scene is loaded and running and it has the player (the
// readiness the supervisor waits for too).
func checkScene(ctx context.Context, t *Target) Result {
	st, err := t.serverStatus()
	if err != nil {
		return fail("the server's scene is unknown: " + err.Error())
	}
	if st.Scene == "" {
		return fail("no scene is loaded (GET /status scene is empty)")
	}
	detail := []string{detailf("scene", "%s", st.Scene)}
	var sc struct {
		SceneName string `json:"scene_name"`
		Status    string `json:"status"`
		LoadedAt  string `json:"loaded_at"`
	}
	if err := t.getJSON(ctx, "/scene", true, &sc); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.Unauthorized() {
			return warn(fmt.Sprintf("%s is loaded; its state and player are not checked: %v", st.Scene, err), detail...)
		}
		return fail("GET /scene: "+err.Error(), detail...)
	}
	detail = append(detail, detailf("status", "%s", sc.Status), detailf("loaded at", "%s", sc.LoadedAt))
	var p struct {
		Name     string `json:"name"`
		Status   string `json:"status"`
		Body     string `json:"body"`
		Position struct {
			X float64 `json:"x"`
			Y float64 `json:"y"`
			Z float64 `json:"z"`
		} `json:"position"`
	}
	if err := t.getJSON(ctx, "/state/player", true, &p); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
			return fail(fmt.Sprintf("%s has no player: %s", st.Scene, orDefault(he.Detail, he.Code)), detail...)
		}
		return fail("GET /state/player: "+err.Error(), detail...)
	}
	detail = append(detail, detailf("player", "%s, %s, at (%.4g, %.4g, %.4g) m", p.Name, p.Status, p.Position.X, p.Position.Y, p.Position.Z))
	switch sc.Status {
	case "running":
		return pass(fmt.Sprintf("%s running, player %s %s", st.Scene, p.Name, p.Status), detail...)
	case "paused":
		return warn(fmt.Sprintf("%s is loaded but paused", st.Scene), detail...)
	}
	return fail(fmt.Sprintf("%s is in state %q", st.Scene, sc.Status), detail...)
}
