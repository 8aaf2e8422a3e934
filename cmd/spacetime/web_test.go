package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/web"
)

// get fetches path from s with the headers hdr (key, value pairs),
// without the transport's transparent gzip.
func (s *server) get(path string, hdr ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

// TestServeWebClient: the API port serves the web client embedded in this
// binary (or, without a build, the page that says how to build it),
// publicly, with its CSP, and its scripts gzipped.
func TestServeWebClient(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "production", "API_TOKEN": testAPIToken})
	resp, page := s.get("/")
	if !web.Built() {
		if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(page, []byte("make run")) {
			t.Fatalf("GET / without a built client = %d %s, want 503 and how to build it", resp.StatusCode, page)
		}
		t.Skip("the web client is not built into this test binary (make web): only the not-built page was checked")
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != api.WebCSP {
		t.Errorf("CSP = %q, want %q", got, api.WebCSP)
	}
	// index.html is served at / only: "assets/x" is "/assets/x".
	refs := regexp.MustCompile(`src="/?(assets/[^"]+\.m?js)"`).FindAllSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("index.html loads no /assets/*.js:\n%s", page)
	}
	script := "/" + string(refs[0][1])
	plainResp, plain := s.get(script)
	if plainResp.StatusCode != 200 || !strings.HasPrefix(plainResp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET %s = %d %q", script, plainResp.StatusCode, plainResp.Header.Get("Content-Type"))
	}
	gzResp, gz := s.get(script, "Accept-Encoding", "gzip")
	if gzResp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET %s with gzip: Content-Encoding %q", script, gzResp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unz, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unz, plain) {
		t.Fatalf("the gzipped %s differs from the plain one (%v)", script, err)
	}
	t.Logf("client bundle %s: %d bytes, %d gzipped", script, len(plain), len(gz))
	if r, _ := s.get("/assets/nope.js"); r.StatusCode != 404 {
		t.Errorf("GET /assets/nope.js = %d, want 404", r.StatusCode)
	}
}

// e2eResult is the JSON line web/test/e2e.mjs prints last.
type e2eResult struct {
	OK     bool            `json:"ok"`
	Failed string          `json:"failed"` // the check that failed
	Error  string          `json:"error"`
	Checks json.RawMessage `json:"checks"`
	Raw    string          `json:"-"`
}

// e2eRequirements says why the browser test cannot run here, or "".
func e2eRequirements(root string) string {
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = append(missing, "/usr/bin/chromium (./scripts/deps.sh chromium, or apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "web/node_modules (./scripts/deps.sh web, or npm --prefix web ci)")
	}
	if _, err := os.Stat(filepath.Join(root, "web", "test", "e2e.mjs")); err != nil {
		missing = append(missing, "web/test/e2e.mjs")
	}
	if !web.Built() {
		missing = append(missing, "the web client build in this test binary (make web, then rerun)")
	}
	if len(missing) == 0 {
		return ""
	}
	return "missing " + strings.Join(missing, "; ")
}

// artifactsDir is where the browser test leaves its screenshots:
// $SPACETIME_ARTIFACTS/web-e2e when set, else a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SPACETIME_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, "web-e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	return dir
}

// runE2E runs the browser script against base and returns its result.
func runE2E(t *testing.T, root string, args ...string) (e2eResult, string) {
	t.Helper()
	timeout := 6 * time.Minute
	if d, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(d)-30*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join("web", "test", "e2e.mjs")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	log := fmt.Sprintf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	var res e2eResult
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var r e2eResult
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil {
			r.Raw = line
			res = r
		}
	}
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the browser test did not finish within %s\n%s", timeout, log)
	case res.Raw == "":
		t.Fatalf("the browser test printed no JSON result (exit: %v)\n%s", err, log)
	case err != nil || !res.OK:
		t.Fatalf("the browser test failed (exit: %v) at %q: %s\nresult: %s\n%s", err, res.Failed, res.Error, res.Raw, log)
	}
	return res, log
}

// TestWebClientEndToEnd drives the web client in real headless Chromium
// (web/test/e2e.mjs: playwright-core, and IWER emulating a Meta Quest 3)
// against a real server, then checks on the server what the browser did:
// the dashboard's login is audited, its scene load is in the history, and
// the headset's session is over.
func TestWebClientEndToEnd(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if why := e2eRequirements(root); why != "" {
		missing(t, "the browser test cannot run: "+why)
	}
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	devKey, devID := s.mint("e2e developer", "developer")
	roKey, _ := s.mint("e2e readonly", "readonly")
	adminKey, _ := s.mint("e2e admin", "admin")
	out := artifactsDir(t)

	started := time.Now()
	res, log := runE2E(t, root, "--url", s.base, "--dev-key", devKey, "--readonly-key", roKey,
		"--admin-key", adminKey, "--out", out)
	t.Logf("browser test: %s", res.Raw)
	if testing.Verbose() {
		t.Log(log)
	}

	// The developer's dashboard loaded a scene: it is in the history.
	var hist []api.HistoryEntry
	s.do("GET", "/scene/history", "", &hist)
	loaded := false
	for _, e := range hist {
		loaded = loaded || (e.LoadedAt.After(started) && e.Status == api.HistoryLoaded)
	}
	if !loaded {
		t.Errorf("no scene loaded during the browser test in /scene/history: %+v", hist)
	}

	// The browser is gone: no headset, no client reporting.
	pollUntil(t, "/state/vr to return to the desktop fallback", func() bool {
		var v vrBody
		s.do("GET", "/state/vr", "", &v)
		return !v.HeadsetConnected && !v.VREnabled && v.FallbackMode == "desktop" && v.Clients == 0
	})

	// The dashboard's login is audited under the developer key, and so is
	// the scene load the whitelist refused.
	var audit struct {
		Records []struct {
			Principal string `json:"principal"`
			Method    string `json:"method"`
			Path      string `json:"path"`
			Status    int    `json:"status"`
			UserAgent string `json:"user_agent"`
		} `json:"records"`
	}
	pollUntil(t, "the developer's login and refused scene load in the audit log", func() bool {
		audit.Records = nil
		if r := s.do("GET", "/admin/audit?principal="+devID+"&limit=1000", "", &audit); r.StatusCode != 200 {
			t.Fatalf("GET /admin/audit = %d", r.StatusCode)
		}
		login, refused := false, false
		for _, r := range audit.Records {
			fromBrowser := r.Principal == devID && strings.Contains(r.UserAgent, "Chrome")
			login = login || (fromBrowser && r.Method == "POST" && r.Path == "/auth/token" && r.Status == 200)
			refused = refused || (fromBrowser && r.Method == "POST" && r.Path == "/scene/load" && r.Status == 403)
		}
		return login && refused
	})

	shots, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(shots) < 2 {
		t.Errorf("the browser test left %d screenshots in %s, want a desktop and a VR one", len(shots), out)
	}
	for _, p := range shots {
		t.Logf("screenshot: %s", p)
	}
}
