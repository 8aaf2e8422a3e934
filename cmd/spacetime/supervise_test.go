package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSupervise runs `spacetime supervise` as a real process over a real
// `spacetime serve` child (or a crashing /bin/sh), built once for all its
// subtests. The subtests run one after another so the figures they log
// (SIGKILL to healthy, cold start) are not measured under each other's
// load.
func TestSupervise(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as processes; run without -short")
	}
	bin := sharedBinary(t)
	t.Run("SIGKILLedChildComesBackWithScene", func(t *testing.T) { testSuperviseSIGKILL(t, bin) })
	t.Run("CrashLoopStays", func(t *testing.T) { testSuperviseCrashLoop(t, bin, "stay") })
	t.Run("CrashLoopExits", func(t *testing.T) { testSuperviseCrashLoop(t, bin, "exit") })
	t.Run("Proxy", func(t *testing.T) { testSuperviseProxy(t, bin) })
	t.Run("HTTPSChild", func(t *testing.T) { testSuperviseTLS(t, bin) })
	t.Run("SIGTERMStopsBoth", func(t *testing.T) { testSuperviseSIGTERM(t, bin) })
	t.Run("SIGKILLedSupervisorTakesChildAlong", func(t *testing.T) { testSuperviseKilled(t, bin) })
	t.Run("ServeColdStart", func(t *testing.T) { testServeColdStart(t, bin) })
}

// TestSuperviseUsage checks flag errors in-process: no child starts.
func TestSuperviseUsage(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad port", []string{"--port", "70000"}, "--port 70000"},
		{"bad policy", []string{"--on-crash-loop", "retry"}, `--on-crash-loop "retry"`},
		{"zero failures", []string{"--failures", "0"}, "--failures 0"},
		{"bad api", []string{"--api", "ftp://x"}, `--api "ftp://x"`},
		{"child port 0", []string{"--", "--http-addr", "127.0.0.1:0"}, "must know the child's port"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"missing api-ca", []string{"--api-ca", filepath.Join(t.TempDir(), "none.pem")}, "--api-ca: open "},
		{"api-ca without a certificate", []string{"--api-ca", notPEM}, "no PEM certificate in it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), append([]string{"supervise"}, tc.args...), func(string) string { return "" },
				strings.NewReader(""), io.Discard, &stderr)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

// supervised is a `spacetime supervise` process.
type supervised struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://host:port of the supervisor
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when it has exited
	err    error         // Wait's error, set before done closes
	client *http.Client
}

// childEnv is the environment of a test process: this one's without the
// variables that configure serve, plus vars.
func supChildEnv(vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GODOT_") || strings.HasPrefix(k, "DB_") || strings.HasPrefix(k, "REDIS_") ||
			k == "API_TOKEN" || k == "SPACETIME_TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, vars...)
}

// serveArgs are the serve flags of a child on httpAddr, its files in dir.
func supServeArgs(httpAddr, dir string) []string {
	return []string{"--http-addr", httpAddr, "--telemetry-addr", "127.0.0.1:0", "--discovery-addr", "off",
		"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs")}
}

var supListeningRE = regexp.MustCompile(`supervisor listening.*?\baddr"?[=:]"?([0-9.]+:[0-9]+)`)

// startSupervised runs `bin supervise --port 0 ARGS...` with env vars and
// waits until it listens (it reads the address from the log).
func startSupervised(t *testing.T, bin string, vars []string, args ...string) *supervised {
	t.Helper()
	return startSupervisedAt(t, bin, "", vars, args...)
}

// startSupervisedAt runs `bin supervise` listening on addr (when "", on
// port 0, the address read from the log) with env vars and ARGS. At the
// test's end it is stopped (SIGTERM, then SIGKILL) if it still runs.
func startSupervisedAt(t *testing.T, bin, addr string, vars []string, args ...string) *supervised {
	t.Helper()
	s := &supervised{t: t, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}}
	host, port := "127.0.0.1", "0"
	if addr != "" {
		var err error
		if host, port, err = net.SplitHostPort(addr); err != nil {
			t.Fatal(err)
		}
		s.base = "http://" + addr
	}
	s.cmd = exec.Command(bin, append([]string{"supervise", "--host", host, "--port", port}, args...)...)
	s.cmd.Env = supChildEnv(vars...)
	s.cmd.Dir = t.TempDir() // no ./config: the embedded files
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
				t.Error("supervise did not stop within 20 s of SIGTERM")
			}
		}
		if t.Failed() {
			t.Logf("supervise stderr:\n%s\nstdout:\n%s", s.stderr, s.stdout)
		}
	})
	if s.base != "" {
		return s
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := supListeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.base = "http://" + m[1]
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("supervise exited before listening: %v\n%s", s.err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervise not listening after 20 s:\n%s", s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// supHealth is the part of the supervisor's /health the tests read.
type supHealth struct {
	Server       string `json:"server"`
	GodotProcess struct {
		Running bool `json:"running"`
		PID     int  `json:"pid"`
	} `json:"godot_process"`
	GodotAPI struct {
		Reachable bool `json:"reachable"`
	} `json:"godot_api"`
	OverallHealthy bool `json:"overall_healthy"`
	Restarts       int  `json:"restarts"`
	LastExit       *struct {
		Status int    `json:"status"`
		Signal string `json:"signal"`
		Reason string `json:"reason"`
	} `json:"last_exit"`
	UptimeS float64 `json:"uptime_s"`
	Scene   struct {
		Loaded bool   `json:"loaded"`
		Path   string `json:"path"`
	} `json:"scene"`
	CrashLoop bool `json:"crash_loop"`

	code int // the HTTP status
}

// health asks the supervisor's /health once.
func (s *supervised) health() (supHealth, error) {
	var h supHealth
	resp, err := s.client.Get(s.base + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	h.code = resp.StatusCode
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, fmt.Errorf("decode /health: %w", err)
	}
	return h, nil
}

// waitHealth polls /health every 5 ms until cond holds, failing after
// 30 s; it returns the answer and when cond was first seen.
func (s *supervised) waitHealth(what string, cond func(supHealth) bool) (supHealth, time.Time) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last supHealth
	var lastErr error
	for time.Now().Before(deadline) {
		h, err := s.health()
		if err == nil && cond(h) {
			return h, time.Now()
		}
		last, lastErr = h, err
		select {
		case <-s.done:
			s.t.Fatalf("supervise exited while waiting for %s: %v", what, s.err)
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("no %s within 30 s; last /health %+v (%v)", what, last, lastErr)
	return last, time.Time{}
}

// wait waits for the process to exit and returns its exit status.
func (s *supervised) wait(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("supervise still running after %v", within)
	}
	return s.cmd.ProcessState.ExitCode()
}

// request sends method path (on the supervisor) with a body and headers.
func (s *supervised) request(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

// token logs in as admin through the proxy.
func (s *supervised) token() string {
	s.t.Helper()
	resp, b := s.request("POST", "/godot/auth/token", `{"api_key":"`+testAPIToken+`"}`, map[string]string{"Content-Type": "application/json"})
	var g struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &g) != nil || g.AccessToken == "" {
		s.t.Fatalf("POST /godot/auth/token: %d %s", resp.StatusCode, b)
	}
	return g.AccessToken
}

// alive reports whether pid is a live process (not gone, not a zombie).
func supProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// supHealthyWithScene: the supervisor reports a healthy child with the
// player in res://vr_main.tscn.
func supHealthyWithScene(h supHealth) bool {
	return h.code == http.StatusOK && h.OverallHealthy && h.GodotProcess.Running &&
		h.Scene.Loaded && h.Scene.Path == "res://vr_main.tscn"
}

func supProductionVars() []string {
	return []string{"GODOT_ENV=production", "API_TOKEN=" + testAPIToken, "GODOT_LOG_LEVEL=info"}
}

// An https child with the guide's self-signed certificate: the supervisor
// trusts the certificate serve is configured with when it works out the
// child's address itself, and a certificate given with --api-ca when --api
// names the child; with neither it does not, and its log says why.
func testSuperviseTLS(t *testing.T, bin string) {
	certFile, keyFile, _ := writeSelfSigned(t, t.TempDir())
	child := func(api string) []string {
		return append(supServeArgs(api, t.TempDir()), "--tls-cert", certFile, "--tls-key", keyFile)
	}
	t.Run("CertOfTheChild", func(t *testing.T) {
		api := freeAddr(t)
		s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene", "--"}, child(api)...)...)
		s.waitHealth("a healthy https child with its scene", supHealthyWithScene)
		if resp, b := s.request("GET", "/godot/health", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /godot/health through the proxy to the https child: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("APICA", func(t *testing.T) {
		api := freeAddr(t)
		s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene",
			"--api", "https://" + api, "--api-ca", certFile, "--"}, child(api)...)...)
		s.waitHealth("a healthy https child with its scene", supHealthyWithScene)
	})
	t.Run("Untrusted", func(t *testing.T) {
		api := freeAddr(t)
		s := startSupervised(t, bin, supProductionVars(), append([]string{"--api", "https://" + api,
			"--start-timeout", "2s", "--max-restarts", "1", "--on-crash-loop", "exit", "--"}, child(api)...)...)
		if code := s.wait(30 * time.Second); code != 1 {
			t.Errorf("supervise exit status %d after its untrusted child never became healthy, want 1", code)
		}
		if log := s.stderr.String(); !strings.Contains(log, "certificate signed by unknown authority") ||
			!strings.Contains(log, "did not answer /health in time") {
			t.Errorf("the log does not say the child's certificate is not trusted:\n%s", log)
		}
	})
}

// SIGKILL of the child: the supervisor restarts it, reloads the scene and
// reports healthy again. The time from the kill to that report is the
// figure logged, three samples.
func testSuperviseSIGKILL(t *testing.T, bin string) {
	api := freeAddr(t)
	s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene", "--scene", "res://vr_main.tscn",
		"--health-interval", "500ms", "--"}, supServeArgs(api, t.TempDir())...)...)
	h, _ := s.waitHealth("a healthy child with its scene", supHealthyWithScene)

	const samples = 3
	var took []time.Duration
	for i := 1; i <= samples; i++ {
		old := h.GodotProcess.PID
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatalf("SIGKILL %d: %v", old, err)
		}
		killed := time.Now()
		var at time.Time
		h, at = s.waitHealth("the restarted child healthy with its scene", func(h supHealth) bool {
			return supHealthyWithScene(h) && h.GodotProcess.PID != old
		})
		took = append(took, at.Sub(killed))
		if h.Restarts != i || h.LastExit == nil || h.LastExit.Signal != "killed" || h.LastExit.Reason != "exited" {
			t.Errorf("after kill %d: restarts %d last_exit %+v, want %d and signal killed", i, h.Restarts, h.LastExit, i)
		}
		if supProcessAlive(old) {
			t.Errorf("killed child %d still alive", old)
		}
		// The scene was loaded again, after the kill, in the new child.
		tok := s.token()
		resp, b := s.request("GET", "/godot/scene", "", map[string]string{"Authorization": "Bearer " + tok})
		var sc struct {
			ScenePath string    `json:"scene_path"`
			LoadedAt  time.Time `json:"loaded_at"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &sc) != nil || sc.ScenePath != "res://vr_main.tscn" || sc.LoadedAt.Before(killed) {
			t.Errorf("GET /godot/scene after kill %d: %d %s, want vr_main loaded after the kill", i, resp.StatusCode, b)
		}
		if resp, b := s.request("GET", "/godot/state/player", "", map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 200 {
			t.Errorf("GET /godot/state/player after kill %d: %d %s", i, resp.StatusCode, b)
		}
	}
	sorted := slices.Clone(took)
	slices.Sort(sorted)
	t.Logf("FIGURE SIGKILL of the child to supervisor /health healthy with the scene loaded: samples %v, median %v (target < 2 s; includes the 100 ms restart backoff)",
		took, sorted[len(sorted)/2])
}

// A child that always fails reaches the crash-loop limit; the supervisor
// reports it in /health (and stays, answering 503) or exits with status 1.
func testSuperviseCrashLoop(t *testing.T, bin, policy string) {
	s := startSupervised(t, bin, []string{"GODOT_LOG_LEVEL=info"}, "--command", "/bin/sh", "--api", "http://"+freeAddr(t),
		"--max-restarts", "3", "--restart-window", "1m", "--backoff", "20ms", "--on-crash-loop", policy,
		"--", "-c", "echo crashing >&2; exit 3")
	if policy == "exit" {
		if code := s.wait(30 * time.Second); code != 1 {
			t.Errorf("exit status %d, want 1 at the crash-loop limit", code)
		}
	} else {
		h, _ := s.waitHealth("crash_loop", func(h supHealth) bool { return h.CrashLoop })
		if h.code != http.StatusServiceUnavailable || h.OverallHealthy || h.GodotProcess.Running || h.Restarts != 3 ||
			h.LastExit == nil || h.LastExit.Status != 3 || h.LastExit.Reason != "exited" {
			t.Errorf("/health in the crash loop: %+v, want 503, 3 restarts, last exit status 3", h)
		}
		// It stays up, reporting; SIGTERM still ends it with status 0.
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := s.wait(20 * time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0", code)
		}
	}
	logs := s.stderr.String()
	if got := regexp.MustCompile(`(?m)^\[sh pid=\d+\] crashing$`).FindAllString(logs, -1); len(got) != 4 {
		t.Errorf("%d prefixed child lines, want 4 (a start and 3 restarts):\n%s", len(got), logs)
	}
	if !strings.Contains(logs, "crash loop") {
		t.Errorf("no crash loop log line:\n%s", logs)
	}
}

// The proxy passes methods, headers, bodies and status codes of the real
// API, and WebSocket upgrades with their stream.
func testSuperviseProxy(t *testing.T, bin string) {
	api := freeAddr(t)
	s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene", "--"}, supServeArgs(api, t.TempDir())...)...)
	s.waitHealth("a healthy child", supHealthyWithScene)
	tok := s.token() // POST with a JSON body, 200 with a JSON body
	bearer := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}

	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		contains                 string
	}{
		{"no token is refused by the child", "GET", "/godot/state/player", "", nil, 401, `"code":"no_credentials"`},
		{"token passes", "GET", "/godot/state/player", "", bearer, 200, `"status"`},
		{"POST body passes", "POST", "/godot/scene/validate", `{"scene_path":"res://vr_main.tscn"}`, bearer, 200, `"valid":true`},
		{"not whitelisted in production", "POST", "/godot/scene/load", `{"scene_path":"res://tests/debug.tscn"}`, bearer, 403, `"code":"scene_forbidden"`},
		{"bad JSON", "POST", "/godot/scene/load", `{"scene_path":`, bearer, 400, `"status":400`},
		{"unknown route", "GET", "/godot/no/such/route", "", bearer, 404, ""},
		{"wrong method", "DELETE", "/godot/scene", "", bearer, 405, ""},
		{"query string passes", "GET", "/godot/scene/history?limit=0", "", bearer, 400, "limit must be"},
	} {
		resp, b := s.request(tc.method, tc.path, tc.body, tc.hdr)
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.contains) {
			t.Errorf("%s: %s %s: %d %s, want %d containing %q", tc.name, tc.method, tc.path, resp.StatusCode, b, tc.status, tc.contains)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q not passed back", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A request header reaches the child: it echoes X-Request-ID.
	resp, _ := s.request("GET", "/godot/health", "", map[string]string{"X-Request-ID": "supervise-test-1234"})
	if got := resp.Header.Get("X-Request-ID"); got != "supervise-test-1234" {
		t.Errorf("X-Request-ID %q came back, want supervise-test-1234", got)
	}

	// The telemetry WebSocket through the proxy: auth by subprotocol,
	// then a perf frame streams.
	wsURL := "ws" + strings.TrimPrefix(s.base, "http") + "/godot/telemetry"
	d := websocket.Dialer{Subprotocols: []string{"spacetime.v1", "bearer." + tok}, HandshakeTimeout: 10 * time.Second}
	c, wresp, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("WebSocket %s through the proxy: %v (%v)", wsURL, err, wresp)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var msg map[string]any
	if err := c.ReadJSON(&msg); err != nil || msg["type"] != "auth_success" {
		t.Fatalf("first message %v, %v; want auth_success", msg, err)
	}
	if err := c.WriteJSON(map[string]any{"type": "subscribe", "topics": []string{"perf"}, "rate_hz": 10}); err != nil {
		t.Fatal(err)
	}
	for seen := map[string]bool{}; !seen["perf"] || !seen["subscribed"]; {
		typ, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reading the stream through the proxy: %v (seen %v)", err, seen)
		}
		if typ == websocket.TextMessage {
			var m struct {
				Type  string `json:"type"`
				Event string `json:"event"` // the topic of a stream frame
			}
			_ = json.Unmarshal(data, &m)
			seen[m.Type] = true
			seen[m.Event] = true
		}
	}
}

// SIGTERM to the supervisor stops the child gracefully, then itself,
// with exit status 0 and no process left.
func testSuperviseSIGTERM(t *testing.T, bin string) {
	api := freeAddr(t)
	s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene", "--"}, supServeArgs(api, t.TempDir())...)...)
	h, _ := s.waitHealth("a healthy child", supHealthyWithScene)
	pid := h.GodotProcess.PID
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if supProcessAlive(pid) {
		t.Errorf("child %d outlived the supervisor", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	logs := s.stderr.String()
	prefix := fmt.Sprintf("[serve pid=%d] ", pid)
	childStop := strings.Index(logs, prefix+`{"time"`)
	shutdown := strings.Index(logs, `"msg":"shutting down"`)
	stopped := strings.Index(logs, `"msg":"supervisor stopped"`)
	ended := strings.Index(logs, `"msg":"child ended"`)
	if childStop < 0 || shutdown < 0 || ended < 0 || stopped < 0 || !(shutdown < ended && ended < stopped) {
		t.Errorf("want the child's prefixed log, its graceful shutdown, then the supervisor's stop, in that order:\n%s", logs)
	}
	if !strings.Contains(logs, `"exit":"status 0 (shutdown)"`) {
		t.Errorf("the child did not exit 0 on SIGTERM:\n%s", logs)
	}
}

// A supervisor killed outright (no chance to stop its child) leaves no
// orphan: the kernel sends the child SIGTERM when its parent dies. The
// child logs only errors here, so it does not die instead of a write to
// its closed output pipe.
func testSuperviseKilled(t *testing.T, bin string) {
	api := freeAddr(t)
	vars := append(supProductionVars(), "GODOT_LOG_LEVEL=error")
	s := startSupervisedAt(t, bin, freeAddr(t), vars, append([]string{"--"}, supServeArgs(api, t.TempDir())...)...)
	h, _ := s.waitHealth("a healthy child", func(h supHealth) bool { return h.OverallHealthy })
	pid := h.GodotProcess.PID
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait(10 * time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for supProcessAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still runs 20 s after its supervisor was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cold start of `spacetime serve`: process start to /health 200, with a
// fresh data directory each time. Logged as a figure, five samples.
func testServeColdStart(t *testing.T, bin string) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var took []time.Duration
	for range 5 {
		api := freeAddr(t)
		cmd := exec.Command(bin, append([]string{"serve"}, supServeArgs(api, t.TempDir())...)...)
		cmd.Env = supChildEnv(supProductionVars()...)
		cmd.Dir = t.TempDir()
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var up time.Duration
		for deadline := start.Add(30 * time.Second); up == 0; {
			resp, err := client.Get("http://" + api + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					up = time.Since(start)
					break
				}
			}
			select {
			case err := <-done:
				t.Fatalf("serve exited: %v\n%s", err, &out)
			default:
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("serve: no /health 200 within 30 s\n%s", &out)
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, up)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve after SIGTERM: %v\n%s", err, &out)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("serve did not stop within 20 s of SIGTERM")
		}
	}
	sorted := slices.Clone(took)
	slices.Sort(sorted)
	t.Logf("FIGURE cold start of spacetime serve (process start to /health 200, fresh data dir, production): samples %v, median %v (target < 1 s)",
		took, sorted[len(sorted)/2])
}
