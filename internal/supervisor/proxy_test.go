package supervisor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// echoBackend answers every request with what it received; X-Want-Status
// picks the status. /stream writes a line, waits for release, writes
// another. /ws echoes WebSocket messages.
func echoBackend(t *testing.T, release <-chan struct{}) *httptest.Server {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			fmt.Fprintln(w, "first")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintln(w, "second")
			return
		case "/ws":
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				typ, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(typ, append([]byte("echo: "), msg...)); err != nil {
					return
				}
			}
		}
		body, _ := io.ReadAll(r.Body)
		status := http.StatusOK
		if s := r.Header.Get("X-Want-Status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.Header().Set("X-Back", "from-child")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"custom": r.Header.Get("X-Custom"), "auth": r.Header.Get("Authorization"),
			"forwarded_for": r.Header.Get("X-Forwarded-For"), "body": string(body),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// proxyFront serves a Supervisor's handler (nothing supervised) in front
// of the API at target.
func proxyFront(t *testing.T, target string) (*Supervisor, *httptest.Server) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Command: "unused", API: u})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(s.Handler())
	t.Cleanup(front.Close)
	return s, front
}

func TestSupervisorProxy(t *testing.T) {
	release := make(chan struct{})
	back := echoBackend(t, release)
	_, front := proxyFront(t, back.URL)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/godot/state/player?x=1&y=two", "", 200},
		{"POST", "/godot/scene/load", `{"scene_path":"res://vr_main.tscn"}`, 201},
		{"PUT", "/godot/a/b", "put body", 409},
		{"DELETE", "/godot/admin/sessions/42", "", 404},
		{"PATCH", "/godot/x", "p", 503},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, front.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Custom", "custom-value")
			req.Header.Set("Authorization", "Bearer abc")
			req.Header.Set("X-Want-Status", strconv.Itoa(tc.status))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tc.path)
			want := map[string]string{
				"method": tc.method, "path": strings.TrimPrefix(u.Path, "/godot"), "query": u.RawQuery,
				"custom": "custom-value", "auth": "Bearer abc", "forwarded_for": "127.0.0.1", "body": tc.body,
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("child saw %s %q, want %q", k, got[k], v)
				}
			}
			if resp.StatusCode != tc.status || resp.Header.Get("X-Back") != "from-child" {
				t.Errorf("status %d X-Back %q, want %d from-child", resp.StatusCode, resp.Header.Get("X-Back"), tc.status)
			}
		})
	}

	t.Run("streaming", func(t *testing.T) {
		resp, err := client.Get(front.URL + "/godot/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		// The first line arrives while the child still holds the rest.
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(release)
		line, err = br.ReadString('\n')
		if err != nil || line != "second\n" {
			t.Fatalf("second line %q, %v", line, err)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		wsURL := "ws" + strings.TrimPrefix(front.URL, "http") + "/godot/ws"
		c, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			t.Fatalf("dial %s: %v (%v)", wsURL, err, resp)
		}
		defer c.Close()
		if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil || string(msg) != "echo: ping" {
			t.Fatalf("read %q, %v; want echo: ping", msg, err)
		}
	})
}

func TestSupervisorProxyChildDown(t *testing.T) {
	_, front := proxyFront(t, "http://"+freeAddr(t))
	resp, err := http.Get(front.URL + "/godot/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusBadGateway || p.Code != "child_unreachable" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("got %d %q %q, want 502 problem+json child_unreachable", resp.StatusCode, resp.Header.Get("Content-Type"), p.Code)
	}
}

// The supervisor's /health carries the guide's fields and answers 503
// while nothing runs.
func TestSupervisorHealthShape(t *testing.T) {
	_, front := proxyFront(t, "http://"+freeAddr(t))
	resp, err := http.Get(front.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 before the child runs", resp.StatusCode)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server", "timestamp", "godot_process", "godot_api", "overall_healthy",
		"restarts", "last_exit", "uptime_s", "scene", "crash_loop", "phase"} {
		if _, ok := got[k]; !ok {
			t.Errorf("/health lacks %q: %v", k, got)
		}
	}
	proc, _ := got["godot_process"].(map[string]any)
	api, _ := got["godot_api"].(map[string]any)
	scene, _ := got["scene"].(map[string]any)
	for _, c := range []struct {
		m    map[string]any
		keys []string
	}{{proc, []string{"running", "pid"}}, {api, []string{"reachable"}}, {scene, []string{"loaded", "path"}}} {
		for _, k := range c.keys {
			if _, ok := c.m[k]; !ok {
				t.Errorf("/health object lacks %q: %v", k, c.m)
			}
		}
	}
	if got["server"] != ServerName || got["overall_healthy"] != false {
		t.Errorf("server %v overall_healthy %v", got["server"], got["overall_healthy"])
	}
}
