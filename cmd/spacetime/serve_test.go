package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// server is a real `spacetime serve` run in-process through run(), on a
// port the OS picked, with real engine, scenes, whitelist, API and
// security. Requests go with an admin access token obtained by exchanging
// API_TOKEN at /auth/token, unless a test asks otherwise.
type server struct {
	t         *testing.T
	dir       string // holds data/ and logs/
	base      string
	telemetry string // host:port of the telemetry port ("" when off)
	client    *http.Client
	token     string // admin access token ("" when API_TOKEN is not known)
	stdout    *syncBuffer
	stderr    *syncBuffer
	cancel    context.CancelFunc
	done      chan error
	sent      atomic.Int64 // requests sent, for the audit tests
}

// testAPIToken is the API_TOKEN of the test servers: long enough for
// production.
const testAPIToken = "spacetime-test-token-0123456789-abcdefghij"

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve in a fresh directory; see startServeIn.
func startServe(t *testing.T, vars map[string]string, flags ...string) *server {
	t.Helper()
	return startServeIn(t, t.TempDir(), vars, flags...)
}

// startServeIn runs serve with vars as its environment (API_TOKEN is
// testAPIToken unless vars names it; "" leaves it unset) and extra flags,
// its data and logs in dir, and stops it when the test ends (checking
// that it stopped cleanly). With a known API_TOKEN it logs in as admin.
func startServeIn(t *testing.T, dir string, vars map[string]string, flags ...string) *server {
	t.Helper()
	env := map[string]string{"API_TOKEN": testAPIToken}
	maps.Copy(env, vars)
	args := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--telemetry-addr", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs")}, flags...)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan readyInfo, 1)
	s := &server{t: t, dir: dir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	e := &environment{
		getenv:  func(k string) string { return env[k] },
		stdin:   strings.NewReader(""),
		stdout:  s.stdout,
		stderr:  s.stderr,
		workDir: dir, // no ./config there: the embedded files are used
		onReady: func(r readyInfo) { ready <- r },
	}
	go func() { s.done <- run(ctx, args, e.getenv, e.stdin, e.stdout, e.stderr, withEnv(e)) }()
	tr := &http.Transport{}
	s.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	select {
	case r := <-ready:
		if r.TelemetryAddr != nil {
			s.telemetry = r.TelemetryAddr.String()
		}
		if r.HTTPAddr != nil {
			s.base = "http://" + r.HTTPAddr.String()
			if r.TLS {
				s.base = "https://" + r.HTTPAddr.String()
			}
		}
	case err := <-s.done:
		cancel()
		t.Fatalf("serve exited before it was ready: %v\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve not ready after 30s\n%s", s.stderr)
	}
	t.Cleanup(func() { s.stop() })
	if tok := env["API_TOKEN"]; tok != "" && s.base != "" && !strings.HasPrefix(s.base, "https") {
		s.token = s.login(tok).AccessToken
	}
	return s
}

// stop ends serve as SIGTERM would and checks it returned without error.
func (s *server) stop() {
	s.t.Helper()
	if s.cancel == nil {
		return
	}
	// Connections the client's transport dialed but never used look new
	// to the server, and Shutdown waits up to 5 s for new connections to
	// send a request; a client that is done closes them, as this one does.
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("serve returned %v after shutdown\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("serve did not stop within 30s")
	}
}

// grant is the answer of /auth/token and /auth/refresh.
type grant struct {
	AccessToken     string   `json:"access_token"`
	RefreshToken    string   `json:"refresh_token"`
	TokenType       string   `json:"token_type"`
	ExpiresIn       int      `json:"expires_in"`
	Role            string   `json:"role"`
	EvictedSessions []string `json:"evicted_sessions"`
}

// login exchanges an API key (or the API_TOKEN) at /auth/token.
func (s *server) login(apiKey string) grant {
	s.t.Helper()
	var g grant
	body, _ := json.Marshal(map[string]string{"api_key": apiKey})
	if resp := s.send("POST", "/auth/token", string(body), nil, &g); resp.StatusCode != 200 {
		s.t.Fatalf("POST /auth/token = %d", resp.StatusCode)
	}
	if g.AccessToken == "" || g.TokenType != "Bearer" {
		s.t.Fatalf("POST /auth/token answered %+v", g)
	}
	return g
}

// mint has the admin mint an API key of role and returns the raw key and
// its id.
func (s *server) mint(name, role string) (key, id string) {
	s.t.Helper()
	var out struct {
		APIKey string `json:"api_key"`
		Key    struct {
			ID string `json:"id"`
		} `json:"key"`
	}
	body := fmt.Sprintf(`{"name":%q,"role":%q}`, name, role)
	if resp := s.do("POST", "/admin/keys", body, &out); resp.StatusCode != 201 {
		s.t.Fatalf("mint %s key = %d", role, resp.StatusCode)
	}
	return out.APIKey, out.Key.ID
}

// do sends a request as the admin and decodes a JSON answer into out
// (when non-nil).
func (s *server) do(method, path, body string, out any) *http.Response {
	s.t.Helper()
	return s.as(s.token, method, path, body, out)
}

// as sends a request with the bearer token tok ("" sends none).
func (s *server) as(tok, method, path, body string, out any) *http.Response {
	s.t.Helper()
	var hdr http.Header
	if tok != "" {
		hdr = http.Header{"Authorization": {"Bearer " + tok}}
	}
	return s.send(method, path, body, hdr, out)
}

// try sends a request with the bearer token tok and returns the problem
// of an error answer (zero for a success).
func (s *server) try(tok, method, path, body string) (*http.Response, problem) {
	s.t.Helper()
	var hdr http.Header
	if tok != "" {
		hdr = http.Header{"Authorization": {"Bearer " + tok}}
	}
	var raw json.RawMessage
	resp := s.send(method, path, body, hdr, &raw)
	var p problem
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &p); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp, p
}

// send sends a request with the headers hdr and decodes a JSON answer
// into out (when non-nil).
func (s *server) send(method, path, body string, hdr http.Header, out any) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	s.sent.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: status %d, decoding %q: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Line   int    `json:"line"`
	Col    int    `json:"col"`
}

func TestServeEveryRouteWithRealParts(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})

	var health map[string]any
	if resp := s.do("GET", "/health", "", &health); resp.StatusCode != 200 || health["status"] != "healthy" {
		t.Fatalf("GET /health = %d %v, want 200 healthy", resp.StatusCode, health)
	}
	var status map[string]any
	s.do("GET", "/status", "", &status)
	for key, want := range map[string]any{"status": "healthy", "http_api": "active", "scene": "res://vr_main.tscn", "environment": "test"} {
		if status[key] != want {
			t.Errorf("/status %s = %v, want %v", key, status[key], want)
		}
	}
	if _, ok := status["jwt_token"]; ok {
		t.Errorf("/status hands out a jwt_token: %v", status)
	}

	var sc map[string]any
	s.do("GET", "/scene", "", &sc)
	if sc["scene_path"] != "res://vr_main.tscn" || sc["scene_name"] != "vr_main" {
		t.Errorf("GET /scene = %v, want vr_main", sc)
	}

	var state struct {
		Bodies []struct {
			Name string `json:"name"`
		} `json:"bodies"`
		Particles struct {
			Count int `json:"count"`
		} `json:"particles"`
	}
	s.do("GET", "/state/scene", "", &state)
	if len(state.Bodies) != 10 || state.Particles.Count < 20000 {
		t.Errorf("GET /state/scene: %d bodies and %d particles, want the Sun, 8 planets and the Moon and ≥ 20000 particles", len(state.Bodies), state.Particles.Count)
	}

	var player struct {
		Name       string  `json:"name"`
		Status     string  `json:"status"`
		ProperTime float64 `json:"proper_time"`
		Lorentz    float64 `json:"lorentz_factor"`
	}
	s.do("GET", "/state/player", "", &player)
	if player.Status != "flying" || player.Lorentz <= 1 {
		t.Errorf("GET /state/player = %+v, want a flying ship with a Lorentz factor above 1 in Earth orbit", player)
	}

	var vr map[string]any
	s.do("GET", "/state/vr", "", &vr)
	if vr["fallback_mode"] != "desktop" || vr["headset_connected"] != false {
		t.Errorf("GET /state/vr = %v, want the desktop fallback", vr)
	}

	var perf map[string]any
	s.do("GET", "/performance/metrics", "", &perf)
	for _, k := range []string{"fps", "physics_fps", "memory_mb", "tick_p99_ms", "quality_level"} {
		if _, ok := perf[k]; !ok {
			t.Errorf("/performance/metrics lacks %s: %v", k, perf)
		}
	}
	if perf["physics_fps"] != float64(90) {
		t.Errorf("physics_fps = %v, want 90", perf["physics_fps"])
	}

	var scenes struct {
		Scenes []struct {
			Path    string `json:"scene_path"`
			Allowed bool   `json:"allowed"`
		} `json:"scenes"`
	}
	s.do("GET", "/scenes", "", &scenes)
	found := false
	for _, e := range scenes.Scenes {
		found = found || (e.Path == "res://tests/debug.tscn" && e.Allowed)
	}
	if !found {
		t.Errorf("GET /scenes lacks an allowed res://tests/debug.tscn in test: %+v", scenes)
	}

	var dbg map[string]any
	if resp := s.do("GET", "/debug", "", &dbg); resp.StatusCode != 200 {
		t.Errorf("GET /debug = %d", resp.StatusCode)
	}
	var doc map[string]any
	s.do("GET", "/openapi.json", "", &doc)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}

	var validation struct {
		Valid bool `json:"valid"`
	}
	s.do("POST", "/scene/validate", `{"scene_path":"res://tests/integration/two_body.tscn"}`, &validation)
	if !validation.Valid {
		t.Errorf("two_body.tscn does not validate")
	}
	var bad struct {
		Valid  bool        `json:"valid"`
		Errors []api.Issue `json:"errors"`
	}
	s.do("POST", "/scene/validate", `{"scene_path":"res://tests/broken/malformed.tscn"}`, &bad)
	if bad.Valid || len(bad.Errors) == 0 || bad.Errors[0].Line != 15 || bad.Errors[0].Col != 18 {
		t.Errorf("malformed.tscn validation = %+v, want invalid at 15:18", bad)
	}
}

func TestServeSceneLoadOutcomes(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"missing scene", `{"scene_path":"res://nowhere.tscn"}`, 404, "scene_not_found"},
		{"malformed scene", `{"scene_path":"res://tests/broken/malformed.tscn"}`, 422, "scene_malformed"},
		{"instancing cycle", `{"scene_path":"res://tests/broken/cycle_a.tscn"}`, 422, "scene_invalid"},
		{"traversal", `{"scene_path":"res://tests/../../etc/passwd.tscn"}`, 400, "invalid_path"},
		{"not a scene", `{"scene_path":"res://tests/broken/not_a_scene.txt"}`, 400, "invalid_path"},
		{"user scheme", `{"scene_path":"user://save.tscn"}`, 400, "invalid_path"},
		{"malformed json", `{"scene_path":`, 400, "malformed_json"},
		{"unknown field", `{"scene_path":"res://vr_main.tscn","x":1}`, 400, "malformed_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p problem
			resp := s.do("POST", "/scene/load", tc.body, &p)
			if resp.StatusCode != tc.wantStatus || p.Code != tc.wantCode {
				t.Errorf("status %d code %q (%s), want %d %q", resp.StatusCode, p.Code, p.Detail, tc.wantStatus, tc.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var sc map[string]any
			s.do("GET", "/scene", "", &sc)
			if sc["scene_path"] != "res://vr_main.tscn" {
				t.Errorf("after a failed load the scene is %v, want vr_main still running", sc["scene_path"])
			}
		})
	}

	var p problem
	s.do("POST", "/scene/load", `{"scene_path":"res://tests/broken/malformed.tscn"}`, &p)
	if p.Line != 15 || p.Col != 18 {
		t.Errorf("malformed scene reported at %d:%d, want 15:18 (content/README.md)", p.Line, p.Col)
	}

	big := `{"scene_path":"` + strings.Repeat("a", 1<<20) + `"}`
	if resp := s.do("POST", "/scene/load", big, &p); resp.StatusCode != 413 || p.Code != "body_too_large" {
		t.Errorf("1 MiB body: %d %q, want 413 body_too_large", resp.StatusCode, p.Code)
	}

	var loaded struct {
		ScenePath  string  `json:"scene_path"`
		LoadTimeMS float64 `json:"load_time_ms"`
	}
	if resp := s.do("POST", "/scene/load", `{"scene_path":"res://tests/integration/instancing.tscn"}`, &loaded); resp.StatusCode != 200 {
		t.Fatalf("load instancing.tscn = %d", resp.StatusCode)
	}
	if loaded.ScenePath != "res://tests/integration/instancing.tscn" || loaded.LoadTimeMS <= 0 {
		t.Errorf("load answer = %+v", loaded)
	}
	var state struct {
		Scene string `json:"scene_path"`
	}
	s.do("GET", "/state/scene", "", &state)
	if state.Scene != "res://tests/integration/instancing.tscn" {
		t.Errorf("/state/scene runs %q after the load, want instancing.tscn", state.Scene)
	}
	if resp := s.do("POST", "/scene/reload", "", &loaded); resp.StatusCode != 200 || loaded.ScenePath != "res://tests/integration/instancing.tscn" {
		t.Errorf("reload = %d %+v", resp.StatusCode, loaded)
	}

	var history []api.HistoryEntry
	s.do("GET", "/scene/history", "", &history)
	if len(history) < 3 {
		t.Fatalf("history has %d entries, want the start scene, failures and loads", len(history))
	}
	first, last := history[0], history[len(history)-1]
	if first.ScenePath != "res://vr_main.tscn" || first.Status != api.HistoryLoaded {
		t.Errorf("history starts with %+v, want the start scene loaded", first)
	}
	if last.ScenePath != "res://tests/integration/instancing.tscn" || last.Status != api.HistoryLoaded {
		t.Errorf("history ends with %+v, want the reload", last)
	}
	failed := 0
	for _, h := range history {
		if h.Status == api.HistoryFailed {
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("no failed loads in history: %+v", history)
	}
}

func TestServeExecute(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	var out struct {
		Result string `json:"result"`
	}
	if resp := s.do("POST", "/execute", `{"command":"warp 1000"}`, &out); resp.StatusCode != 200 {
		t.Fatalf("warp 1000 = %d", resp.StatusCode)
	}
	var st struct {
		TimeScale float64 `json:"time_scale"`
	}
	s.do("GET", "/state/scene", "", &st)
	if st.TimeScale != 1000 {
		t.Errorf("time_scale after warp 1000 = %v", st.TimeScale)
	}
	var p problem
	if resp := s.do("POST", "/execute", `{"command":"os.exit(1)"}`, &p); resp.StatusCode != 400 || p.Code != "bad_command" {
		t.Errorf("arbitrary code: %d %q, want 400 bad_command", resp.StatusCode, p.Code)
	}
}

// The guide's whitelist verification: in production, res://tests/debug.tscn
// is refused with 403 and the running scene is untouched.
func TestServeProductionWhitelist(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "production"})
	var p problem
	resp := s.do("POST", "/scene/load", `{"scene_path":"res://tests/debug.tscn"}`, &p)
	if resp.StatusCode != 403 || p.Code != "scene_forbidden" {
		t.Fatalf("production load of tests/debug.tscn: %d %q, want 403 scene_forbidden", resp.StatusCode, p.Code)
	}
	s.do("POST", "/scene/load", `{"scene_path":"res://scenes/menu.tscn"}`, &p)
	if p.Status != 403 {
		t.Errorf("production load of scenes/menu.tscn: %d, want 403 (only vr_main is whitelisted)", p.Status)
	}
	var status map[string]any
	s.do("GET", "/status", "", &status)
	if status["environment"] != "production" || status["scene"] != "res://vr_main.tscn" {
		t.Errorf("/status = %v", status)
	}
	if !strings.Contains(s.stderr.String(), `"level":"INFO"`) {
		t.Errorf("production logs are not JSON:\n%s", s.stderr)
	}
}

func TestServeStartFailures(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"unknown environment", map[string]string{"GODOT_ENV": "prod"}, nil, "GODOT_ENV"},
		{"start scene not whitelisted", map[string]string{"GODOT_ENV": "production"}, []string{"--scene", "res://tests/debug.tscn"}, "res://tests/debug.tscn"},
		{"start scene malformed", map[string]string{"GODOT_ENV": "test"}, []string{"--scene", "res://tests/broken/malformed.tscn"}, "15:18"},
		{"missing project", nil, []string{"--project", "/nonexistent/project"}, "/nonexistent/project"},
		{"bad log level", map[string]string{"GODOT_LOG_LEVEL": "loud"}, nil, "GODOT_LOG_LEVEL"},
		{"placeholder API_TOKEN in production", map[string]string{"GODOT_ENV": "production", "API_TOKEN": "REPLACE_WITH_SECURE_TOKEN"}, nil, "placeholder"},
		{"short API_TOKEN in production", map[string]string{"GODOT_ENV": "production", "API_TOKEN": "tooShort-123"}, nil, "shorter than 32"},
		{"placeholder API_TOKEN in development", map[string]string{"API_TOKEN": "changeme"}, nil, "placeholder"},
		{"TLS certificate missing", map[string]string{"GODOT_ENV": "test"}, []string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, "/nonexistent/cert.pem"},
		{"TLS key without certificate", map[string]string{"GODOT_ENV": "test"}, []string{"--tls-key", "/nonexistent/key.pem"}, "cert_file and key_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"serve", "--http-addr", "127.0.0.1:0", "--telemetry-addr", "127.0.0.1:0", "--data-dir", dir, "--log-dir", filepath.Join(dir, "logs")}, tc.args...)
			var stderr syncBuffer
			env := &environment{getenv: func(k string) string { return tc.vars[k] }, stdout: io.Discard, stderr: &stderr, workDir: dir}
			err := run(context.Background(), args, env.getenv, nil, io.Discard, &stderr, withEnv(env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestServeProjectDirectory(t *testing.T) {
	dir := t.TempDir()
	scene := `[gd_scene format=3]

[node name="Lab" type="Node3D"]

[node name="Star" type="Node3D" parent="."]
metadata/gm = 1.0e20
metadata/radius = 7.0e8

[node name="XROrigin3D" type="XROrigin3D" parent="."]
position = Vector3(1.0e11, 0, 0)
metadata/velocity = Vector3(0, 31622.7766, 0)
`
	if err := os.WriteFile(filepath.Join(dir, "lab.tscn"), []byte(scene), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--project", dir, "--scene", "res://lab.tscn")
	var player struct {
		Position struct{ X float64 } `json:"position"`
	}
	s.do("GET", "/state/player", "", &player)
	if player.Position.X < 0.99e11 || player.Position.X > 1.01e11 {
		t.Errorf("player x = %g, want about 1e11 from lab.tscn", player.Position.X)
	}
	var p problem
	if resp := s.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, &p); resp.StatusCode != 404 {
		t.Errorf("vr_main in a project without it: %d, want 404", resp.StatusCode)
	}
}

func TestServeHelpAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, nil, &out, &errOut); err != nil {
		t.Fatalf("help: %v", err)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("help does not list %s", c.name)
		}
	}
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, &out, &errOut)
	if err == nil || exitCodeFor(err) != 2 {
		t.Errorf("unknown command: err %v (exit %d), want a usage error", err, exitCodeFor(err))
	}
	err = run(context.Background(), []string{"serve", "--no-such-flag"}, func(string) string { return "" }, nil, &out, &errOut)
	if err == nil || exitCodeFor(err) != 2 {
		t.Errorf("bad flag: err %v, want a usage error", err)
	}
}

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version", "--json"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("version --json: %v: %s", err, out.String())
	}
	for _, k := range []string{"version", "commit", "build_mode"} {
		if v[k] == nil || v[k] == "" {
			t.Errorf("version --json lacks %s: %v", k, v)
		}
	}
	if v["build_mode"] != "debug" {
		t.Errorf("build_mode = %v, want debug in a test binary", v["build_mode"])
	}
}

// withEnv makes run use test's working directory and ready hook.
func withEnv(test *environment) func(*environment) {
	return func(e *environment) {
		e.workDir = test.workDir
		e.onReady = test.onReady
	}
}

// A request in flight when the signal comes is drained with the engine
// still running: the engine stops only after the API has.
func TestServeDrainsRequestsBeforeStoppingTheEngine(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"command":"pause"}`
	fmt.Fprintf(conn, "POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		s.token, len(body), body[:5])
	time.Sleep(100 * time.Millisecond) // let the server start reading the request (no assertion on timing)
	s.cancel()                         // the signal
	if _, err := conn.Write([]byte(body[5:])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer of the drained request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("request in flight at the signal = %d, want 200 from a still-running engine", resp.StatusCode)
	}
	s.cancel = func() {} // already signalled; stop() still waits for serve
	s.stop()
}
