package metrics_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/metrics"
)

func TestMiddlewareLabels(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		route   string // what routeOf returns
		handler http.HandlerFunc
		want    map[string]string
	}{
		{
			name: "explicit status", method: http.MethodPost, route: "/scene/load",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) },
			want:    map[string]string{"route": "/scene/load", "method": "POST", "status": "201"},
		},
		{
			name: "nothing written is 200", method: http.MethodGet, route: "/health",
			handler: func(w http.ResponseWriter, r *http.Request) {},
			want:    map[string]string{"route": "/health", "method": "GET", "status": "200"},
		},
		{
			name: "write without header is 200", method: http.MethodGet, route: "/status",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") },
			want:    map[string]string{"route": "/status", "method": "GET", "status": "200"},
		},
		{
			name: "first final status wins", method: http.MethodDelete, route: "/admin/sessions/{id}",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				w.WriteHeader(http.StatusOK) // superfluous, ignored by net/http too
			},
			want: map[string]string{"route": "/admin/sessions/{id}", "method": "DELETE", "status": "404"},
		},
		{
			name: "odd status code", method: http.MethodGet, route: "/x",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) },
			want:    map[string]string{"route": "/x", "method": "GET", "status": "418"},
		},
		{
			name: "no route is unmatched, never the raw path", method: http.MethodGet, route: "",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			want:    map[string]string{"route": metrics.UnmatchedRoute, "method": "GET", "status": "404"},
		},
		{
			name: "unknown method is OTHER", method: "BREW", route: "/coffee",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) },
			want:    map[string]string{"route": "/coffee", "method": "OTHER", "status": "405"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New(metrics.Options{})
			h := m.Middleware(func(*http.Request) string { return tc.route })(tc.handler)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, "/some/raw/path?q=1", nil))
			fams := scrape(t, m.Handler())
			if got := value(t, fams, "spacetime_http_request_duration_seconds", tc.want); got != 1 {
				t.Errorf("requests%v = %v, want 1", tc.want, got)
			}
			if n := len(fams["spacetime_http_request_duration_seconds"].GetMetric()); n != 1 {
				t.Errorf("%d series, want 1", n)
			}
			if got := value(t, fams, "spacetime_http_requests_in_flight", nil); got != 0 {
				t.Errorf("in flight after the request = %v, want 0", got)
			}
		})
	}
}

// TestMiddlewareRouteOfSeesRouting checks routeOf runs after the handler,
// so a ServeMux inside the middleware has set r.Pattern by then (nil
// routeOf), and that the pattern's method is left out of the label.
func TestMiddlewareRouteOfSeesRouting(t *testing.T) {
	m := metrics.New(metrics.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /scene/{name}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {})
	h := m.Middleware(nil)(mux)
	for _, p := range []string{"/scene/a", "/scene/b", "/health", "/scene/a/b/c"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	fams := scrape(t, m.Handler())
	tests := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"route": "/scene/{name}", "status": "200"}, 2},
		{map[string]string{"route": "/health", "status": "200"}, 1},
		{map[string]string{"route": metrics.UnmatchedRoute, "status": "404"}, 1},
	}
	for _, tc := range tests {
		if got := value(t, fams, "spacetime_http_request_duration_seconds", tc.labels); got != tc.want {
			t.Errorf("requests%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
}

func TestMiddlewarePanic(t *testing.T) {
	m := metrics.New(metrics.Options{})
	h := m.Middleware(func(*http.Request) string { return "/debug" })(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic to go on", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/debug", nil))
	}()
	fams := scrape(t, m.Handler())
	want := map[string]string{"route": "/debug", "status": "500"}
	if got := value(t, fams, "spacetime_http_request_duration_seconds", want); got != 1 {
		t.Errorf("requests%v = %v, want 1", want, got)
	}
	if got := value(t, fams, "spacetime_http_requests_in_flight", nil); got != 0 {
		t.Errorf("in flight after a panic = %v, want 0", got)
	}
}

// TestMiddlewareFlush checks a flush reaches the client while the handler
// is still running (server-sent streams work through the middleware).
func TestMiddlewareFlush(t *testing.T) {
	m := metrics.New(metrics.Options{})
	release := make(chan struct{})
	h := m.Middleware(func(*http.Request) string { return "/stream" })(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(http.Flusher); !ok {
				t.Errorf("the wrapped writer is not an http.Flusher")
			}
			io.WriteString(w, "first\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			<-release
			io.WriteString(w, "second\n")
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		close(release)
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	close(release) // only now may the handler finish
	if err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v; want it before the handler returns", line, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest = %q, want %q", rest, "second\n")
	}
}

// TestMiddlewareHijack checks a WebSocket-style upgrade through the
// middleware: the handler hijacks the connection, and the request is
// recorded as 101.
func TestMiddlewareHijack(t *testing.T) {
	m := metrics.New(metrics.Options{})
	h := m.Middleware(func(*http.Request) string { return "/telemetry" })(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Errorf("the wrapped writer is not an http.Hijacker")
				return
			}
			conn, brw, err := hj.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
			brw.Flush()
		}))
	// served closes once the middleware has recorded the request: a
	// hijacked connection is not waited for by the server.
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /telemetry HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 101 ") || !strings.HasSuffix(string(got), "hello") {
		t.Fatalf("response = %q, want the hijacked 101 and payload", got)
	}
	<-served
	fams := scrape(t, m.Handler())
	want := map[string]string{"route": "/telemetry", "method": "GET", "status": "101"}
	if got := value(t, fams, "spacetime_http_request_duration_seconds", want); got != 1 {
		t.Errorf("requests%v = %v, want 1", want, got)
	}
}

func TestMiddlewareHijackUnsupported(t *testing.T) {
	m := metrics.New(metrics.Options{})
	var hijackErr error
	h := m.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, hijackErr = w.(http.Hijacker).Hijack()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(hijackErr, http.ErrNotSupported) {
		t.Errorf("Hijack on a recorder: %v, want http.ErrNotSupported", hijackErr)
	}
	want := map[string]string{"status": "500"}
	if got := value(t, scrape(t, m.Handler()), "spacetime_http_request_duration_seconds", want); got != 1 {
		t.Errorf("requests%v = %v, want 1", want, got)
	}
}
