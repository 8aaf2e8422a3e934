package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The binary the process-level fault tests run, built once per test run.
var faultBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// sharedBinary builds the spacetime binary once for every test that runs
// real processes (removed by TestMain's cleanup). It is built without the
// race detector even under -race: the supervisor, soak and fault tests
// must not measure the instrumentation's slowdown.
func sharedBinary(t *testing.T) string {
	t.Helper()
	faultBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "spacetime-bin-")
		if err != nil {
			faultBinary.err = err
			return
		}
		faultBinary.dir = dir
		faultBinary.path = filepath.Join(dir, "spacetime")
		if out, err := exec.Command("go", "build", "-o", faultBinary.path, ".").CombinedOutput(); err != nil {
			faultBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if faultBinary.err != nil {
		t.Fatal(faultBinary.err)
	}
	return faultBinary.path
}

// removeSharedBinary is TestMain's cleanup.
func removeSharedBinary() {
	if faultBinary.dir != "" {
		os.RemoveAll(faultBinary.dir)
	}
}

// historyEntry is an entry of GET /scene/history.
type historyEntry struct {
	ScenePath string    `json:"scene_path"`
	LoadedAt  time.Time `json:"loaded_at"`
	Status    string    `json:"status"`
}

// acked is one request that got a 2xx answer.
type acked struct {
	id       string
	method   string
	sent, at time.Time
}

// apiClient sends requests with an admin token and request IDs.
type apiClient struct {
	t      *testing.T
	base   string
	token  string
	client *http.Client
}

func (c *apiClient) send(method, path, body, id string) (int, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Request-ID", id)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// auditIDs returns the request IDs of the JSON-lines audit files in dir.
func auditIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "audit_*.log*"))
	if len(files) == 0 {
		t.Fatalf("no audit file in %s", dir)
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				RequestID string `json:"request_id"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.RequestID != "" {
				ids[rec.RequestID] = true
			}
		}
		fh.Close()
	}
	return ids
}

// The runtime killed with SIGKILL under the supervisor during traffic:
// clients see errors only while it is down, and every request answered
// before the kill has its audit record and every acknowledged scene load
// its history entry. The kill comes right after an acknowledged scene load,
// whose answer waited for its audit record (and so for every record before
// it).
func TestFaultRuntimeKilledUnderSupervisorDuringTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs real processes")
	}
	bin := sharedBinary(t)
	dir := t.TempDir()
	api := freeAddr(t)
	s := startSupervised(t, bin, supProductionVars(), append([]string{"--auto-load-scene", "--scene", "res://vr_main.tscn",
		"--health-interval", "250ms", "--"}, supServeArgs(api, dir)...)...)
	h, _ := s.waitHealth("a healthy child with its scene", supHealthyWithScene)

	c := &apiClient{t: t, base: "http://" + api, token: s.token(),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	var (
		ok       []acked
		failures []string
		n        int
	)
	request := func(method, path, body string) bool {
		n++
		id := fmt.Sprintf("fault-%d", n)
		sent := time.Now()
		code, err := c.send(method, path, body, id)
		if err == nil && code/100 == 2 {
			ok = append(ok, acked{id: id, method: method, sent: sent, at: time.Now()})
			return true
		}
		failures = append(failures, fmt.Sprintf("%s %s %s: %d %v", id, method, path, code, err))
		return false
	}
	load := func() bool { return request("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`) }

	// Traffic before the kill: all of it must succeed.
	for i := range 40 {
		if i%10 == 9 {
			load()
		} else {
			request("GET", "/state/player", "")
		}
	}
	if !load() {
		t.Fatalf("a scene load before the kill failed: %v", failures)
	}
	if len(failures) > 0 {
		t.Fatalf("requests failed before the kill: %v", failures)
	}
	beforeKill := len(ok)

	old := h.GodotProcess.PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Traffic goes on while the child is down and after it is back.
	var back time.Time
	deadline := time.Now().Add(30 * time.Second)
	for back.IsZero() {
		request("GET", "/state/player", "")
		if hh, err := s.health(); err == nil && supHealthyWithScene(hh) && hh.GodotProcess.PID != old {
			back = time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not come back healthy within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	downErrors := len(failures)
	for i := range 30 {
		if i%10 == 9 {
			load()
		} else {
			request("GET", "/state/player", "")
		}
	}
	if len(failures) != downErrors {
		t.Errorf("requests failed after the child was back: %v", failures[downErrors:])
	}
	t.Logf("FIGURE runtime SIGKILL under traffic: %d requests failed while it was down (%v from kill to healthy with the scene)",
		downErrors, back.Sub(killed).Round(time.Millisecond))

	// Stop everything gracefully, then read what is on disk.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(30 * time.Second); code != 0 {
		t.Fatalf("supervise exit status %d", code)
	}
	ids := auditIDs(t, filepath.Join(dir, "logs"))
	for _, a := range ok[:beforeKill] {
		if !ids[a.id] {
			t.Errorf("request %s (%s), answered before the kill, has no audit record", a.id, a.method)
		}
	}
	for _, a := range ok[beforeKill:] {
		if !ids[a.id] {
			t.Errorf("request %s (%s), answered after the restart, has no audit record", a.id, a.method)
		}
	}

	// Every acknowledged scene load is in the history kept in the store.
	restarted := startServeIn(t, dir, map[string]string{"GODOT_ENV": "production", "API_TOKEN": testAPIToken},
		"--scene", "res://vr_main.tscn")
	var hist []historyEntry
	if resp := restarted.do("GET", "/scene/history?limit=1000", "", &hist); resp.StatusCode != 200 {
		t.Fatalf("GET /scene/history = %d", resp.StatusCode)
	}
	for _, a := range ok {
		if a.method != "POST" {
			continue
		}
		found := false
		for _, e := range hist {
			if e.Status == "loaded" && !e.LoadedAt.Before(a.sent.Add(-time.Second)) && !e.LoadedAt.After(a.at.Add(time.Second)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("acknowledged scene load %s (%v) is not in the history", a.id, a.at.Format(time.RFC3339Nano))
		}
	}
}

// SIGTERM while a scene load is in flight: the server drains the API
// first, so the load completes and is answered (and recorded), or it is
// refused as the server shuts down, never half applied. The history after a
// restart agrees with what the client was told.
func TestFaultSIGTERMDuringSceneLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs real processes")
	}
	bin := sharedBinary(t)
	for _, delay := range []time.Duration{0, 5 * time.Millisecond, 40 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			dir := t.TempDir()
			api := freeAddr(t)
			cmd := exec.Command(bin, append([]string{"serve", "--scene", "res://tests/integration/relativity.tscn"}, supServeArgs(api, dir)...)...)
			cmd.Env = supChildEnv("GODOT_ENV=staging", "API_TOKEN="+testAPIToken)
			cmd.Dir = dir
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			done := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			c := &apiClient{t: t, base: "http://" + api, client: &http.Client{Timeout: 30 * time.Second}}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if code, err := c.send("GET", "/health", "", "h"); err == nil && code == 200 {
					break
				}
				select {
				case <-done:
					t.Fatalf("serve exited before it was healthy (%v):\n%s", waitErr, out.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("serve not healthy within 20 s:\n%s", out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			// An admin token.
			req, _ := http.NewRequest("POST", c.base+"/auth/token", strings.NewReader(`{"api_key":"`+testAPIToken+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&g)
			resp.Body.Close()
			c.token = g.AccessToken

			type result struct {
				code int
				err  error
			}
			answer := make(chan result, 1)
			sent := time.Now()
			go func() {
				code, err := c.send("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, "load-under-sigterm")
				answer <- result{code, err}
			}()
			time.Sleep(delay)
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			r := <-answer
			select {
			case <-done:
				if waitErr != nil {
					t.Fatalf("serve exited with %v after SIGTERM:\n%s", waitErr, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not exit within 30 s of SIGTERM")
			}
			if strings.Contains(out.String(), "panic") {
				t.Fatalf("serve panicked:\n%s", out.String())
			}

			restarted := startServeIn(t, dir, map[string]string{"GODOT_ENV": "staging", "API_TOKEN": testAPIToken},
				"--scene", "res://tests/integration/relativity.tscn")
			var hist []historyEntry
			restarted.do("GET", "/scene/history?limit=1000", "", &hist)
			var attempts []string
			for _, e := range hist {
				if e.ScenePath == "res://vr_main.tscn" && !e.LoadedAt.Before(sent.Add(-time.Second)) {
					attempts = append(attempts, e.Status)
				}
			}
			switch {
			case r.err == nil && r.code == 200:
				if len(attempts) != 1 || attempts[0] != "loaded" {
					t.Errorf("the load was answered 200 but the history has %v", attempts)
				}
			case r.err == nil:
				// Refused while shutting down, or failed: never recorded
				// as loaded.
				for _, a := range attempts {
					if a == "loaded" {
						t.Errorf("the load was answered %d but the history says loaded", r.code)
					}
				}
			default:
				// The connection was refused or cut before an answer.
				for _, a := range attempts {
					if a == "loaded" {
						t.Errorf("the load got no answer (%v) but the history says loaded", r.err)
					}
				}
			}
			t.Logf("SIGTERM %v after the load request: answer %d %v, history %v", delay, r.code, r.err, attempts)
		})
	}
}
