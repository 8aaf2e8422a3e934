package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/engine"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const mib = 1 << 20

// paddedLoadBody is a valid load request of exactly n bytes.
func paddedLoadBody(n int) string {
	b := `{"scene_path":"res://vr_main.tscn"}`
	return b + strings.Repeat(" ", n-len(b))
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		chunked    bool // no Content-Length: the limit must hold while reading
		wantStatus int
		wantCode   string
	}{
		{name: "exactly the limit", body: paddedLoadBody(mib), wantStatus: 200},
		{name: "one byte over, declared", body: paddedLoadBody(mib + 1), wantStatus: 413, wantCode: "body_too_large"},
		{name: "one byte over, chunked", body: paddedLoadBody(mib + 1), chunked: true, wantStatus: 413, wantCode: "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			req, _ := http.NewRequest("POST", h.ts.URL+"/scene/load", body)
			req.Header.Set("Content-Type", "application/json")
			r := h.send(req)
			if tt.wantCode == "" {
				if r.status != tt.wantStatus {
					t.Errorf("status = %d, want %d: %s", r.status, tt.wantStatus, r.body)
				}
				return
			}
			problem(t, r, tt.wantStatus, tt.wantCode)
			checkSecurityHeaders(t, r)
			if len(h.history()) != 0 {
				t.Error("an oversized request reached the load")
			}
		})
	}
}

func TestBodyLimitConfigurable(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.MaxBodyBytes = 64 })
	problem(t, h.do("POST", "/scene/load", paddedLoadBody(65)), http.StatusRequestEntityTooLarge, "body_too_large")
	if r := h.do("POST", "/scene/load", paddedLoadBody(64)); r.status != 200 {
		t.Errorf("a 64-byte body under a 64-byte limit: %d %s", r.status, r.body)
	}
}

func TestMalformedJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // part of the detail
	}{
		{name: "syntax", body: `{"scene_path" "res://vr_main.tscn"}`, want: "not valid JSON"},
		{name: "truncated", body: `{"scene_path":"res://vr_main.tscn"`, want: "ends inside"},
		{name: "trailing data", body: `{"scene_path":"res://vr_main.tscn"} {}`, want: "after the JSON value"},
		{name: "trailing garbage", body: `{"scene_path":"res://vr_main.tscn"}x`, want: "not valid JSON"},
		{name: "unknown field", body: `{"scene_path":"res://vr_main.tscn","force":true}`, want: `unknown field "force"`},
		{name: "wrong type", body: `{"scene_path":42}`, want: `"scene_path" must be of type string`},
		{name: "array", body: `["res://vr_main.tscn"]`, want: "must be a JSON object"},
		{name: "empty", body: ``, want: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			req, _ := http.NewRequest("POST", h.ts.URL+"/scene/load", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			p := problem(t, h.send(req), http.StatusBadRequest, "malformed_json")
			if !strings.Contains(p.Detail, tt.want) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.want)
			}
			if len(h.history()) != 0 {
				t.Error("a malformed request reached the load")
			}
		})
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	tests := []struct {
		name, contentType string
		wantStatus        int
	}{
		{name: "text", contentType: "text/plain", wantStatus: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", wantStatus: 415},
		{name: "none", contentType: "", wantStatus: 415},
		{name: "json with charset", contentType: "application/json; charset=utf-8", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			req, _ := http.NewRequest("POST", h.ts.URL+"/scene/load", strings.NewReader(`{"scene_path":"res://vr_main.tscn"}`))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := h.send(req)
			if tt.wantStatus == 200 {
				if r.status != 200 {
					t.Errorf("status = %d: %s", r.status, r.body)
				}
				return
			}
			problem(t, r, tt.wantStatus, "unsupported_media_type")
		})
	}
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCode           string
		wantAllow          []string
	}{
		{name: "no such path", method: "GET", path: "/nope", wantStatus: 404, wantCode: "not_found"},
		{name: "no such admin route", method: "GET", path: "/admin/config", wantStatus: 404, wantCode: "not_found"},
		{name: "wrong method on POST route", method: "DELETE", path: "/scene/load", wantStatus: 405, wantCode: "method_not_allowed", wantAllow: []string{"POST"}},
		{name: "wrong method on GET route", method: "POST", path: "/health", wantStatus: 405, wantCode: "method_not_allowed", wantAllow: []string{"GET", "HEAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do(tt.method, tt.path, "")
			p := problem(t, r, tt.wantStatus, tt.wantCode)
			if p.Instance != tt.path {
				t.Errorf("instance = %q, want %q", p.Instance, tt.path)
			}
			allow := r.header.Get("Allow")
			for _, m := range tt.wantAllow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow = %q, want it to contain %s", allow, m)
				}
			}
			checkSecurityHeaders(t, r)
		})
	}
}

// checkSecurityHeaders checks the headers every response must carry.
func checkSecurityHeaders(t *testing.T, r response) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q (status %d)", k, got, v, r.status)
		}
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Errorf("no X-Request-ID (status %d)", r.status)
	}
}

func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	h := newHarness(t)
	for _, rt := range api.Routes() {
		body := ""
		if rt.Method == "POST" {
			body = `{}`
		}
		r := h.do(rt.Method, rt.Path, body)
		t.Run(rt.Pattern(), func(t *testing.T) {
			checkSecurityHeaders(t, r)
			if r.header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS on a plain-HTTP response")
			}
		})
	}
}

func TestHSTSOnlyWithTLS(t *testing.T) {
	h := newHarness(t)
	ts := httptest.NewTLSServer(h.srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("Strict-Transport-Security over TLS = %q", got)
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{name: "sane", sent: "abc-123_x.y:z", kept: true},
		{name: "none", sent: ""},
		{name: "too long", sent: strings.Repeat("a", 65)},
		{name: "spaces", sent: "a b"},
		{name: "quote", sent: `a"b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do("GET", "/nope", "", "X-Request-ID", tt.sent)
			got := r.header.Get("X-Request-ID")
			if tt.kept && got != tt.sent {
				t.Errorf("X-Request-ID = %q, want %q", got, tt.sent)
			}
			if !tt.kept && (got == "" || got == tt.sent) {
				t.Errorf("X-Request-ID = %q, want a generated one", got)
			}
			if p := decode[api.Problem](t, r); p.RequestID != got {
				t.Errorf("problem request_id = %q, header %q", p.RequestID, got)
			}
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	h := newHarness(t)
	a := h.do("GET", "/health", "").header.Get("X-Request-ID")
	b := h.do("GET", "/health", "").header.Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

func TestPanicIsA500AndServerLives(t *testing.T) {
	h := newHarness(t)
	h.sim.setPanic("boom in snapshot")
	r := h.do("GET", "/state/scene", "", "X-Request-ID", "panic-1")
	p := problem(t, r, http.StatusInternalServerError, "internal")
	if strings.Contains(string(r.body), "boom") {
		t.Errorf("the panic value reached the client: %s", r.body)
	}
	checkSecurityHeaders(t, r)
	logs := h.logs.String()
	if !strings.Contains(logs, "panic in handler") || !strings.Contains(logs, "panic-1") || !strings.Contains(logs, "boom in snapshot") {
		t.Errorf("panic not logged with its request id; logs:\n%s", logs)
	}
	if p.RequestID != "panic-1" {
		t.Errorf("request_id = %q", p.RequestID)
	}

	h.sim.setPanic("")
	if r := h.do("GET", "/state/scene", ""); r.status != 200 {
		t.Errorf("after the panic: %d %s", r.status, r.body)
	}
}

func TestAccessLog(t *testing.T) {
	h := newHarness(t)
	h.do("GET", "/scene/history?limit=5", "", "X-Request-ID", "log-1")
	h.do("GET", "/nope", "", "X-Request-ID", "log-2")
	want := map[string]struct {
		route  string
		status float64
	}{
		"log-1": {"GET /scene/history", 200},
		"log-2": {"unmatched", 404},
	}
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	seen := map[string]bool{}
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["msg"] != "http request" {
			continue
		}
		id, _ := line["request_id"].(string)
		w, ok := want[id]
		if !ok {
			continue
		}
		seen[id] = true
		if line["route"] != w.route || line["status"] != w.status || line["method"] != "GET" || line["duration"] == nil {
			t.Errorf("access log for %s = %v, want route %q status %v", id, line, w.route, w.status)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("access log lines seen for %v, want %d", seen, len(want))
	}
}

// TestMiddlewareHook shows the hook the security layer uses: it runs with
// the route and request id known, and can refuse with a problem.
func TestMiddlewareHook(t *testing.T) {
	type seen struct {
		route api.Route
		ok    bool
		id    string
	}
	var got []seen
	var srv *api.Server
	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt, ok := api.RouteFromContext(r.Context())
			got = append(got, seen{rt, ok, api.RequestID(r.Context())})
			if ok && rt.MinRole > api.RoleReadonly {
				srv.WriteError(w, r, &api.Error{Kind: api.ErrForbidden, Code: "insufficient_role", Detail: "needs " + rt.MinRole.String()})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarness(t, func(o *api.Options) { o.Middleware = []func(http.Handler) http.Handler{deny} })
	srv = h.srv

	if r := h.do("GET", "/scene", "", "X-Request-ID", "hook-1"); r.status != 200 {
		t.Errorf("GET /scene through the hook: %d", r.status)
	}
	p := problem(t, h.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`), http.StatusForbidden, "insufficient_role")
	if p.Detail != "needs developer" {
		t.Errorf("detail = %q", p.Detail)
	}
	if len(h.history()) != 0 {
		t.Error("a refused request reached the handler")
	}
	h.do("GET", "/nope", "")

	if len(got) != 3 {
		t.Fatalf("hook saw %d requests, want 3", len(got))
	}
	if !got[0].ok || got[0].route.Pattern() != "GET /scene" || got[0].route.MinRole != api.RoleReadonly || got[0].id != "hook-1" {
		t.Errorf("first = %+v", got[0])
	}
	if !got[1].ok || got[1].route.Pattern() != "POST /scene/load" {
		t.Errorf("second = %+v", got[1])
	}
	if got[2].ok {
		t.Errorf("unknown path matched route %+v", got[2].route)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	sim, scenes := &fakeSim{clock: &fakeClock{}}, newFakeScenes()
	tests := []struct {
		name string
		opts api.Options
		want []string // parts of the error; none means success
	}{
		{name: "minimal", opts: api.Options{Sim: sim, Scenes: scenes}},
		{name: "nothing", opts: api.Options{}, want: []string{"Sim is required", "Scenes is required"}},
		{name: "negative", opts: api.Options{Sim: sim, Scenes: scenes, SceneLoadTimeout: -1, MaxBodyBytes: -1},
			want: []string{"SceneLoadTimeout", "MaxBodyBytes"}},
		{name: "nil middleware", opts: api.Options{Sim: sim, Scenes: scenes, Middleware: []func(http.Handler) http.Handler{nil}},
			want: []string{"Middleware[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.New(tt.opts)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted bad options")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestHTTPServerLimits(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.SceneLoadTimeout = 45 * time.Second })
	hs := h.srv.HTTPServer(context.Background(), "127.0.0.1:0")
	if hs.ReadHeaderTimeout != 5*time.Second || hs.ReadTimeout != 15*time.Second ||
		hs.WriteTimeout != 75*time.Second || hs.IdleTimeout != 120*time.Second || hs.MaxHeaderBytes != 64<<10 {
		t.Errorf("limits = %v %v %v %v %d", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
}

func TestListenServeShutdown(t *testing.T) {
	h := newHarness(t)
	addr, err := h.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(fmt.Sprintf("http://%s/health", addr))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /health = %d", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := client.Get(fmt.Sprintf("http://%s/health", addr)); err == nil {
		t.Error("server still answers after shutdown")
	}
	if err := h.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	h := newHarness(t)
	if _, err := h.srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Serve(context.Background()); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if _, err := h.srv.Listen("127.0.0.1:0"); err == nil {
		t.Error("Listen after Shutdown succeeded")
	}
}

// notifyHistory passes each appended entry on to a channel.
type notifyHistory struct {
	*api.MemoryHistory
	appended chan api.HistoryEntry
}

func (n notifyHistory) Append(ctx context.Context, e api.HistoryEntry) error {
	err := n.MemoryHistory.Append(ctx, e)
	n.appended <- e
	return err
}

func TestShutdownCancelsStuckRequests(t *testing.T) {
	hist := notifyHistory{api.NewMemoryHistory(0), make(chan api.HistoryEntry, 1)}
	h := newHarness(t, func(o *api.Options) {
		o.SceneLoadTimeout = time.Hour
		o.ShutdownTimeout = time.Millisecond
		o.History = hist
	})
	started := make(chan struct{})
	h.sim.loadHook = func(ctx context.Context, _ *engine.Spec) error {
		close(started)
		<-ctx.Done() // only the shutdown ends this load
		return ctx.Err()
	}
	addr, err := h.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	requested := make(chan error, 1)
	go func() {
		resp, err := client.Post(fmt.Sprintf("http://%s/scene/load", addr), "application/json",
			strings.NewReader(`{"scene_path":"res://vr_main.tscn"}`))
		if err == nil {
			resp.Body.Close()
		}
		requested <- err
	}()
	<-started
	cancel()
	if err := <-served; err == nil {
		t.Error("Serve returned nil although a request outlived the shutdown timeout")
	}
	<-requested // the stuck request ended (its connection was closed)
	if e := <-hist.appended; e.Status != "failed" || e.ScenePath != sceneMain {
		t.Errorf("history entry = %+v, want a failed load of %s", e, sceneMain)
	}
}
