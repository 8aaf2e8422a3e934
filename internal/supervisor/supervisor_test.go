package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the supervised child: with
// SUPERVISOR_TEST_CHILD set, TestMain runs helperChild instead of tests.
const childEnv = "SUPERVISOR_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(helperChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// helperChild is a tiny stand-in for the runtime's API:
//
//	exit3   prints to both streams and exits with status 3
//	serve   serves /health, /auth/token (api_key "key" gives token "tok"),
//	        /scene/load (Bearer tok; res://bad.tscn is refused with 403),
//	        /scene and /state/player on HELPER_ADDR; /health answers 503
//	        after HELPER_HEALTHY_FOR requests when that is set; SIGTERM
//	        ends it with status 0
//	hang    like serve, but /health always answers 503
//	banned  like serve, but /health answers 429 banned after the first call
func helperChild(mode string) int {
	fmt.Println("helper child", mode, "up")
	fmt.Fprintln(os.Stderr, "helper child on stderr")
	if mode == "exit3" {
		return 3
	}
	healthyFor, _ := strconv.Atoi(os.Getenv("HELPER_HEALTHY_FOR"))
	var healthCalls atomic.Int64
	var loaded atomic.Value
	loaded.Store("")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		n := healthCalls.Add(1)
		if mode == "hang" || (healthyFor > 0 && n > int64(healthyFor)) {
			http.Error(w, `{"status":"unhealthy"}`, http.StatusServiceUnavailable)
			return
		}
		if mode == "banned" && n > 1 {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, `{"code":"banned"}`, http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"status":"healthy"}`)
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			APIKey string `json:"api_key"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.APIKey != "key" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":"invalid_api_key","detail":"unknown key"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"tok","token_type":"Bearer"}`)
	})
	mux.HandleFunc("POST /scene/load", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"code":"no_credentials"}`, http.StatusUnauthorized)
			return
		}
		var req struct {
			ScenePath string `json:"scene_path"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"code":"invalid_json"}`, http.StatusBadRequest)
			return
		}
		if req.ScenePath == "res://bad.tscn" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"code":"scene_forbidden","detail":"scene res://bad.tscn is not allowed"}`)
			return
		}
		loaded.Store(req.ScenePath)
		fmt.Fprintf(w, `{"scene_path":%q,"status":"loaded"}`, req.ScenePath)
	})
	mux.HandleFunc("GET /scene", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"scene_path":%q}`, loaded.Load())
	})
	mux.HandleFunc("GET /state/player", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"code":"no_credentials"}`, http.StatusUnauthorized)
			return
		}
		if loaded.Load() == "" {
			http.Error(w, `{"code":"no_player"}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"name":"Player"}`)
	})
	ln, err := net.Listen("tcp", os.Getenv("HELPER_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper child:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { _ = http.Serve(ln, mux) }()
	<-sig
	fmt.Println("helper child stopping")
	return 0
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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

// running is a Supervisor whose Run goes on in the background.
type running struct {
	*Supervisor
	out, log *syncBuffer
	cancel   context.CancelFunc
	done     chan error
}

// startSupervisor runs the test binary as a helper child in mode, with
// extra environment, under a Supervisor configured by opts (Command, Env,
// API, outputs and logger are set here). It is stopped at the test's end.
func startSupervisor(t *testing.T, mode string, vars []string, opts Options) *running {
	t.Helper()
	addr := freeAddr(t)
	opts.Command = os.Args[0]
	opts.Name = "helper"
	opts.Env = append(append(os.Environ(), childEnv+"="+mode, "HELPER_ADDR="+addr), vars...)
	opts.API = &url.URL{Scheme: "http", Host: addr}
	r := &running{out: &syncBuffer{}, log: &syncBuffer{}, done: make(chan error, 1)}
	opts.Stdout, opts.Stderr = r.out, r.out
	opts.Logger = slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.Supervisor = s
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("supervisor log:\n%s\nchild output:\n%s", r.log, r.out)
		}
	})
	return r
}

// stop cancels Run and waits for it (idempotent).
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20 s after its context ended")
		return nil
	}
}

// waitStatus polls Status until cond holds, failing after 20 s.
func waitStatus(t *testing.T, s *Supervisor, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := s.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("timed out waiting for %s; status:\n%s", what, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSupervisorBackoff(t *testing.T) {
	for _, tc := range []struct {
		failed int
		want   time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{9, 30 * time.Second},
		{1000, 30 * time.Second}, // no overflow
	} {
		if got := Backoff(100*time.Millisecond, 30*time.Second, tc.failed); got != tc.want {
			t.Errorf("Backoff(100ms, 30s, %d) = %v, want %v", tc.failed, got, tc.want)
		}
	}
}

func TestSupervisorOptionsInvalid(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no command", Options{API: u}, "no command"},
		{"no API", Options{Command: "x"}, "child API URL"},
		{"ftp API", Options{Command: "x", API: &url.URL{Scheme: "ftp", Host: "h"}}, "child API URL"},
		{"negative interval", Options{Command: "x", API: u, HealthInterval: -1}, "health interval -1ns is negative"},
		{"backoff above max", Options{Command: "x", API: u, Backoff: time.Minute, BackoffMax: time.Second}, "backoff max 1s is below backoff 1m0s"},
		{"auto-load without scene", Options{Command: "x", API: u, AutoLoadScene: true}, "needs a scene"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSupervisorCopyLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	in := "one\ntwo\n" + long + "\nlast without newline"
	var out bytes.Buffer
	copyLines(&out, strings.NewReader(in), "[p pid=1] ")
	want := "[p pid=1] one\n[p pid=1] two\n[p pid=1] " + long[:maxLine] + "\n[p pid=1] " + long[maxLine:] + "\n[p pid=1] last without newline\n"
	if got := out.String(); got != want {
		t.Errorf("copyLines: got %d bytes, want %d\n(got starts %q)", len(got), len(want), got[:min(len(got), 80)])
	}
}

// A command that cannot start is an error of Run, at once.
func TestSupervisorStartFailure(t *testing.T) {
	s, err := New(Options{Command: "/nonexistent/spacetime-child", API: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/spacetime-child") {
		t.Fatalf("Run = %v, want an error naming the command", err)
	}
	if st := s.Status(); st.LastExit == nil || st.LastExit.Reason != ReasonStartFailed || st.OverallHealthy {
		t.Errorf("status after a failed start: %+v", st)
	}
}

// A child whose /health starts failing is stopped with SIGTERM after
// Failures checks and restarted; at the crash-loop limit Run gives up.
func TestSupervisorHealthFailuresRestart(t *testing.T) {
	t.Parallel()
	r := startSupervisor(t, "serve", []string{"HELPER_HEALTHY_FOR=1"}, Options{
		Token: "key", AutoLoadScene: true, Scene: "res://vr_main.tscn",
		HealthInterval: 30 * time.Millisecond, Failures: 2, Backoff: 10 * time.Millisecond,
		MaxRestarts: 2, RestartWindow: time.Minute,
	})
	var err error
	select {
	case err = <-r.done:
		close(r.done)
	case <-time.After(20 * time.Second):
		t.Fatal("no crash loop within 20 s")
	}
	if !errors.Is(err, ErrCrashLoop) {
		t.Fatalf("Run = %v, want ErrCrashLoop", err)
	}
	st := r.Status()
	if !st.CrashLoop || st.OverallHealthy || st.Restarts != 2 || st.Phase != PhaseStopped {
		t.Errorf("status: crash_loop %v healthy %v restarts %d phase %s, want true false 2 stopped",
			st.CrashLoop, st.OverallHealthy, st.Restarts, st.Phase)
	}
	if ex := st.LastExit; ex == nil || ex.Reason != ReasonHealthChecks || ex.Status != 0 || ex.Signal != "" {
		t.Errorf("last exit %+v, want status 0 after SIGTERM, reason %q", ex, ReasonHealthChecks)
	}
	out := r.out.String()
	for _, want := range []string{"] helper child serve up\n", "] helper child on stderr\n", "] helper child stopping\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "[helper pid=") {
		t.Errorf("child output not prefixed with [helper pid=N]:\n%s", out)
	}
	if got := strings.Count(r.log.String(), `msg="scene loaded"`); got != 3 {
		t.Errorf("scene loaded %d times, want once per child (3)", got)
	}
}

// A child that rate-limits or bans the probe (which proxied clients share)
// is alive: it is not restarted, or anyone could make the supervisor kill
// it with a burst of requests.
func TestSupervisorDoesNotRestartAChildThatLimitsTheProbe(t *testing.T) {
	t.Parallel()
	r := startSupervisor(t, "banned", nil, Options{
		Token: "key", AutoLoadScene: true, Scene: "res://vr_main.tscn",
		HealthInterval: 20 * time.Millisecond, Failures: 2, Backoff: 10 * time.Millisecond,
		MaxRestarts: 2, RestartWindow: time.Minute,
	})
	deadline := time.Now().Add(20 * time.Second)
	for !r.Status().OverallHealthy {
		if time.Now().After(deadline) {
			t.Fatalf("never healthy: %+v", r.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Many health intervals with 429 answers.
	time.Sleep(500 * time.Millisecond)
	if st := r.Status(); st.Restarts != 0 || !st.OverallHealthy {
		t.Errorf("after 429s from /health: restarts %d healthy %v (%s), want 0 and true", st.Restarts, st.OverallHealthy, st.GodotAPI.Error)
	}
}

// A child that never answers /health is stopped after StartTimeout.
func TestSupervisorStartTimeout(t *testing.T) {
	t.Parallel()
	r := startSupervisor(t, "hang", nil, Options{StartTimeout: 300 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxRestarts: 1})
	st := waitStatus(t, r.Supervisor, "crash loop", func(s Status) bool { return s.CrashLoop })
	if ex := st.LastExit; ex == nil || ex.Reason != ReasonStartTimeout {
		t.Errorf("last exit %+v, want reason %q", ex, ReasonStartTimeout)
	}
	if st.GodotAPI.Healthy || !strings.Contains(st.GodotAPI.Error, "503") && st.GodotAPI.Error != "" {
		t.Errorf("api status %+v, want unhealthy with the 503", st.GodotAPI)
	}
}

// A scene that cannot load is tried SceneAttempts times; the child keeps
// running, reported unhealthy, with the reason.
func TestSupervisorSceneLoadFails(t *testing.T) {
	t.Parallel()
	r := startSupervisor(t, "serve", nil, Options{Token: "key", AutoLoadScene: true, Scene: "res://bad.tscn"})
	st := waitStatus(t, r.Supervisor, "phase running", func(s Status) bool { return s.Phase == PhaseRunning })
	if st.OverallHealthy || st.Scene.Loaded || !strings.Contains(st.Scene.Error, "scene_forbidden") || !st.GodotProcess.Running {
		t.Errorf("status %+v, want running, unhealthy, scene error scene_forbidden", st)
	}
	if got := strings.Count(r.log.String(), `msg="scene load failed"`); got != DefaultSceneAttempts {
		t.Errorf("%d failed attempts logged, want %d", got, DefaultSceneAttempts)
	}
}

// A bad API_TOKEN is named in the scene error.
func TestSupervisorBadToken(t *testing.T) {
	t.Parallel()
	r := startSupervisor(t, "serve", nil, Options{Token: "wrong", AutoLoadScene: true, Scene: "res://vr_main.tscn", SceneAttempts: 1})
	st := waitStatus(t, r.Supervisor, "phase running", func(s Status) bool { return s.Phase == PhaseRunning })
	if !strings.Contains(st.Scene.Error, "exchange API_TOKEN") || !strings.Contains(st.Scene.Error, "invalid_api_key") {
		t.Errorf("scene error %q, want the failed exchange named", st.Scene.Error)
	}
}
