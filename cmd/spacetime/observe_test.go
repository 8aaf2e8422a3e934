package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/discovery"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// nextEvent reads stream messages until one of topic arrives.
func nextEvent(t *testing.T, c *telemetry.Client, topic string) telemetry.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for a %s event: %v", topic, err)
		}
		if m.Type == "event" && m.Event == topic {
			return m
		}
	}
}

func TestServeTelemetryStream(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	if s.telemetry == "" {
		t.Fatal("serve reported no telemetry address")
	}
	ctx := context.Background()

	// On the telemetry port with the bearer token in the subprotocol.
	c, err := telemetry.Dial(ctx, "ws://"+s.telemetry+"/telemetry", s.token, []string{"perf", "player"}, 30)
	if err != nil {
		t.Fatalf("dial the telemetry port: %v", err)
	}
	defer c.Close()
	var perf struct {
		FPS        float64 `json:"fps"`
		PhysicsFPS float64 `json:"physics_fps"`
		MemoryMB   float64 `json:"memory_mb"`
	}
	if err := json.Unmarshal(nextEvent(t, c, "perf").Data, &perf); err != nil {
		t.Fatal(err)
	}
	if perf.PhysicsFPS != 90 || perf.MemoryMB <= 0 {
		t.Errorf("perf event = %+v, want physics_fps 90 and a memory figure", perf)
	}
	var player struct {
		Lorentz float64 `json:"lorentz_factor"`
	}
	if err := json.Unmarshal(nextEvent(t, c, "player").Data, &player); err != nil {
		t.Fatal(err)
	}
	if player.Lorentz <= 1 {
		t.Errorf("player event Lorentz factor = %v, want > 1 in Earth orbit", player.Lorentz)
	}

	// Without a token outside development the stream refuses.
	if c2, err := telemetry.Dial(ctx, "ws://"+s.telemetry+"/telemetry", "", []string{"perf"}, 1); err == nil {
		c2.Close()
		t.Error("an anonymous connection was accepted in the test environment")
	}

	// Through the API port with a ticket, which works once.
	var ticket struct {
		Ticket string `json:"ticket"`
		URL    string `json:"url"`
	}
	if resp := s.do("POST", "/telemetry/ticket", "", &ticket); resp.StatusCode != http.StatusCreated || ticket.Ticket == "" {
		t.Fatalf("POST /telemetry/ticket = %d %+v", resp.StatusCode, ticket)
	}
	wsAPI := strings.Replace(s.base, "http://", "ws://", 1)
	c3, err := telemetry.Dial(ctx, wsAPI+ticket.URL, "", []string{"perf"}, 30)
	if err != nil {
		t.Fatalf("dial the API port with a ticket: %v", err)
	}
	nextEvent(t, c3, "perf")
	c3.Close()
	if c4, err := telemetry.Dial(ctx, wsAPI+ticket.URL, "", []string{"perf"}, 30); err == nil {
		c4.Close()
		t.Error("a ticket was accepted twice")
	}

	var status map[string]any
	s.do("GET", "/status", "", &status)
	if status["telemetry"] != "active" {
		t.Errorf("/status telemetry = %v, want active", status["telemetry"])
	}
}

func TestServeMetrics(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	var p problem
	s.do("POST", "/scene/load", `{"scene_path":"res://tests/broken/malformed.tscn"}`, &p)
	s.do("GET", "/state/player", "", nil)
	s.do("GET", "/nowhere", "", nil)

	resp, err := http.Get("http://" + s.telemetry + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f, ok := families[name]
		if !ok {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == k && lp.GetValue() == v)
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
		return 0, false
	}
	checks := []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
	}{
		{"spacetime_fps_current", nil, func(v float64) bool { return v > 0 && v <= 100 }},
		{"spacetime_memory_mb", nil, func(v float64) bool { return v > 1 }},
		{"spacetime_physics_fps", nil, func(v float64) bool { return v == 90 }},
		{"spacetime_particles", nil, func(v float64) bool { return v >= 20000 }},
		{"spacetime_scene_loads_total", map[string]string{"status": "loaded"}, func(v float64) bool { return v == 1 }},
		{"spacetime_scene_load_errors_total", nil, func(v float64) bool { return v == 1 }},
		{"spacetime_http_request_duration_seconds", map[string]string{"route": "/state/player", "status": "200"}, func(v float64) bool { return v == 1 }},
		{"spacetime_http_request_duration_seconds", map[string]string{"route": "/scene/load", "status": "422"}, func(v float64) bool { return v == 1 }},
		{"spacetime_rate_limit_violations_total", nil, func(v float64) bool { return v == 0 }},
		{"spacetime_telemetry_disconnects_total", nil, func(v float64) bool { return v >= 0 }},
		{"go_goroutines", nil, func(v float64) bool { return v > 0 }},
		{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 0 }},
	}
	for _, c := range checks {
		v, ok := value(c.name, c.labels)
		if !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present %v)", c.name, c.labels, v, ok)
		}
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" && strings.Contains(lp.GetValue(), "nowhere") {
					t.Errorf("raw path %q became a route label: unbounded cardinality", lp.GetValue())
				}
			}
		}
	}
}

func TestServeDiscoveryBeacon(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan discovery.Result, 16)
	l, err := discovery.Listen(ctx, discovery.ListenerOptions{Addr: "127.0.0.1:0", OnResult: func(r discovery.Result) {
		select {
		case got <- r:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--discovery-addr", l.Addr().String())
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no beacon within 10s")
	}
	var found bool
	for _, in := range l.Instances() {
		found = found || (in.Scene == "res://vr_main.tscn" && strings.HasSuffix(s.base, ":"+strconv.Itoa(in.HTTPPort)) && strings.HasSuffix(s.telemetry, ":"+strconv.Itoa(in.TelemetryPort)))
	}
	if !found {
		t.Errorf("no beacon names this server (api %s, telemetry %s): %+v", s.base, s.telemetry, l.Instances())
	}
}

func TestTelemetryCommand(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"telemetry", "--url", "ws://" + s.telemetry + "/telemetry", "--token", s.token, "--rate", "20", "--count", "3"},
		func(string) string { return "" }, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("telemetry: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{"Connected to telemetry stream", "FPS: ", "Physics: 90.0", "VR Headset: "} {
		if !strings.Contains(text, want) {
			t.Errorf("telemetry output lacks %q:\n%s", want, text)
		}
	}
}

// Scene history and the audit log live in the store (SQLite under
// --data-dir by default), so a restart keeps them.
func TestServeHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServeIn(t, dir, map[string]string{"GODOT_ENV": "test"})
	if resp := s.do("POST", "/scene/load", `{"scene_path":"res://scenes/menu.tscn"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("load menu = %d", resp.StatusCode)
	}
	s.stop()

	s2 := startServeIn(t, dir, map[string]string{"GODOT_ENV": "test"})
	var history []struct {
		ScenePath string `json:"scene_path"`
		Status    string `json:"status"`
	}
	s2.do("GET", "/scene/history", "", &history)
	var paths []string
	for _, h := range history {
		paths = append(paths, h.ScenePath)
	}
	want := []string{"res://vr_main.tscn", "res://scenes/menu.tscn", "res://vr_main.tscn"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("history after a restart = %v, want %v (first run's start scene and load, then the second start)", paths, want)
	}
	var q struct {
		Records []json.RawMessage `json:"records"`
	}
	s2.do("GET", "/admin/audit?limit=1000", "", &q)
	if len(q.Records) < 3 {
		t.Errorf("audit after a restart has %d records, want the first run's too", len(q.Records))
	}
}

// Two serve processes sharing one Redis enforce one rate limit together,
// not one each.
func TestServeReplicasShareRateLimitsThroughRedis(t *testing.T) {
	u := testRedis(t)
	// A small /status limit in a config dir of the test's own, and a key
	// prefix of its own so tests side by side do not share buckets.
	vars := map[string]string{"GODOT_ENV": "test", "REDIS_HOST": u.Hostname(), "REDIS_PORT": u.Port()}
	prefix := "st-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	cfgDir := t.TempDir()
	writeTestConfig(t, cfgDir, prefix)
	a := startServe(t, vars, "--config-dir", cfgDir)
	b := startServe(t, vars, "--config-dir", cfgDir)

	// /status: 10 per minute × burst 1.2 = a bucket of 12 per client,
	// shared by both replicas for the same principal.
	if admitted := burstAcross(a, b, 30); admitted != 12 {
		t.Errorf("two replicas admitted %d of 30 requests, want exactly the shared bucket of 12", admitted)
	}
	var status map[string]any
	a.as("", "GET", "/status", "", &status) // anonymous: its own bucket
	if status["rate_limiter"] != "redis" {
		t.Errorf("/status rate_limiter = %v, want redis", status["rate_limiter"])
	}
}

// With Redis configured but unreachable, the API keeps serving on
// per-process limits and says so in /status and the metrics.
func TestServeRedisDownFallsBackToLocalLimits(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1"})
	var status map[string]any
	if resp := s.do("GET", "/status", "", &status); resp.StatusCode != 200 {
		t.Fatalf("GET /status with Redis down = %d, want 200", resp.StatusCode)
	}
	if status["rate_limiter"] != "memory (redis unreachable)" {
		t.Errorf("/status rate_limiter = %v, want the fallback named", status["rate_limiter"])
	}
	resp, err := http.Get("http://" + s.telemetry + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "spacetime_rate_limit_backend_degraded 1") {
		t.Errorf("metrics do not report the degraded limiter:\n%s", body)
	}
}

// testRedis returns the URL of the test Redis (SPACETIME_TEST_REDIS_URL);
// it skips without the variable.
func testRedis(t *testing.T) *neturl.URL {
	t.Helper()
	raw := os.Getenv("SPACETIME_TEST_REDIS_URL")
	if raw == "" {
		missing(t, "needs Redis: SPACETIME_TEST_REDIS_URL=redis://127.0.0.1:6379/0 (scripts/services.sh starts one)")
	}
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// burstAcross sends n GET /status alternately to a and b and returns how
// many were admitted (200).
func burstAcross(a, b *server, n int) int {
	admitted := 0
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		if resp := s.do("GET", "/status", "", nil); resp.StatusCode == 200 {
			admitted++
		}
	}
	return admitted
}

// writeTestConfig writes the shipped config files into dir with the test
// environment's /status limit lowered to 10 per minute (burst 1.2) and
// the Redis key prefix set to prefix.
func writeTestConfig(t *testing.T, dir, prefix string) {
	t.Helper()
	entries, err := configfiles.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string][][2]string{
		"test.json":          {{`"key_prefix": "spacetime-test:"`, `"key_prefix": "` + prefix + `"`}},
		"security_test.json": {{`"/status": 60000`, `"/status": 10`}, {`"burst_multiplier": 2.0`, `"burst_multiplier": 1.2`}},
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := configfiles.FS.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, ed := range edits[e.Name()] {
			if !strings.Contains(text, ed[0]) {
				t.Fatalf("%s no longer contains %s", e.Name(), ed[0])
			}
			text = strings.Replace(text, ed[0], ed[1], 1)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Two replicas on one store and one Redis: a token minted by one works on
// the other, and after a signing-key rotation on one, tokens signed with
// the new key verify on the other at once (the rotation is announced over
// Redis; without the notice the other replica would not know the kid).
func TestServeReplicasShareKeysAndRotations(t *testing.T) {
	u := testRedis(t)
	prefix := "st-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	cfgDir := t.TempDir()
	writeTestConfig(t, cfgDir, prefix)
	dir := t.TempDir() // one SQLite store shared by both
	vars := map[string]string{"GODOT_ENV": "test", "REDIS_HOST": u.Hostname(), "REDIS_PORT": u.Port()}
	a := startServeIn(t, dir, vars, "--config-dir", cfgDir)
	b := startServeIn(t, dir, vars, "--config-dir", cfgDir)

	tokA := a.login(testAPIToken).AccessToken
	if resp := b.as(tokA, "GET", "/scene", "", nil); resp.StatusCode != 200 {
		t.Fatalf("a token minted by replica A on replica B = %d, want 200", resp.StatusCode)
	}
	if resp := a.do("POST", "/admin/keys/rotate", "", nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("rotate on A = %d", resp.StatusCode)
	}
	fresh := a.login(testAPIToken).AccessToken // signed with the new key
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp := b.as(fresh, "GET", "/scene", "", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B still refuses a token of A's rotated key after 3 s: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp := b.as(tokA, "GET", "/scene", "", nil); resp.StatusCode != 200 {
		t.Errorf("the old key's token stopped working on B after the rotation: %d", resp.StatusCode)
	}
}
