package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	configfiles "github.com/spacetime-vr/spacetime/config"
)

// healthCheckNames are the checks in the order they are printed.
var healthCheckNames = []string{
	"Executable and Version", "Configuration Valid", "HTTP API Answering", "Engine at Rate",
	"Telemetry Stream", "Port Configuration", "Store Schema Current", "Backends Reachable",
	"Scene Whitelist Valid", "Scene Loaded", "TLS Material Valid", "Discovery Beacon",
}

// playerScene is a light scene with a player: it keeps 90 Hz even under
// the race detector, which the 20,000-particle sample scene may not.
const playerScene = "res://tests/integration/relativity.tscn"

// healthRun runs `spacetime health args...` in-process with vars as its
// environment, looking for ./config in workDir.
func healthRun(t *testing.T, workDir string, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &environment{workDir: workDir}
	err = run(context.Background(), append([]string{"health"}, args...), func(k string) string { return vars[k] },
		strings.NewReader(""), &out, &errOut, withEnv(e))
	return out.String(), errOut.String(), err
}

// healthArgs point health at s: its URLs, and the flags it was started
// with, so health reads the configuration s runs with.
func healthArgs(t *testing.T, s *server, extra ...string) []string {
	t.Helper()
	u, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"--url", s.base, "--telemetry-url", "http://" + s.telemetry,
		"--http-addr", u.Host, "--telemetry-addr", s.telemetry,
		"--data-dir", filepath.Join(s.dir, "data"), "--log-dir", filepath.Join(s.dir, "logs")}, extra...)
}

var healthLine = regexp.MustCompile(`^\[(PASS|FAIL|WARN)\] (.+?) - (.*)$`)

// healthResult is one printed check.
type healthResult struct{ status, summary string }

// parseHealthText checks the guide's layout and returns the checks by
// name, in order.
func parseHealthText(t *testing.T, out string) (names []string, byName map[string]healthResult, summary string) {
	t.Helper()
	const rule = "========================================"
	if !strings.HasPrefix(out, rule+"\nSpaceTime System Health Check\n"+rule+"\n\n") {
		t.Fatalf("output does not start with the guide's header:\n%s", out)
	}
	byName = map[string]healthResult{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := healthLine.FindStringSubmatch(line); m != nil {
			names = append(names, m[2])
			byName[m[2]] = healthResult{status: m[1], summary: m[3]}
		}
		if strings.HasPrefix(line, "Summary: ") {
			summary = line
		}
	}
	if !strings.HasSuffix(out, "\n"+rule+"\n"+summary+"\n"+rule+"\n") {
		t.Fatalf("output does not end with the guide's summary block:\n%s", out)
	}
	return names, byName, summary
}

// wantChecks fails the test unless each named check has the status (and
// its summary the text) given as "STATUS" or "STATUS text".
func wantChecks(t *testing.T, out string, want map[string]string) {
	t.Helper()
	_, got, _ := parseHealthText(t, out)
	for name, w := range want {
		status, text, _ := strings.Cut(w, " ")
		r, ok := got[name]
		if !ok {
			t.Errorf("no %q line in\n%s", name, out)
			continue
		}
		if r.status != status || !strings.Contains(r.summary, text) {
			t.Errorf("%s = [%s] %s, want [%s] ...%s...", name, r.status, r.summary, status, text)
		}
	}
}

// wantExit1 fails the test unless err is the exit status 1 of failed
// checks.
func wantExit1(t *testing.T, err error, stderr string) {
	t.Helper()
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("health returned %v, want exit status 1", err)
	}
	if !strings.Contains(ee.msg, "checks failed") {
		t.Errorf("exit message %q (stderr %s)", ee.msg, stderr)
	}
}

// waitForRate polls the telemetry port's metrics until the engine reports
// at least minFPS, so the engine check judges a settled loop.
func waitForRate(t *testing.T, s *server, minFPS float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last float64
	for time.Now().Before(deadline) {
		resp, err := s.client.Get("http://" + s.telemetry + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
			if err == nil {
				if f, ok := fams["spacetime_fps_current"]; ok && len(f.GetMetric()) > 0 {
					if last = f.GetMetric()[0].GetGauge().GetValue(); last >= minFPS {
						return
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the engine did not reach %.0f fps in 20s (last %.1f)", minFPS, last)
}

// freeUDPAddr is a loopback UDP address that was free a moment ago.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// liveSessions counts the server's sessions of the API_TOKEN's principal
// (development's /status keeps one more, of its own, for loopback
// callers).
func liveSessions(s *server) int {
	s.t.Helper()
	var out struct {
		Sessions []struct {
			Principal string `json:"principal"`
		} `json:"sessions"`
	}
	if resp := s.do("GET", "/admin/sessions", "", &out); resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /admin/sessions = %d", resp.StatusCode)
	}
	n := 0
	for _, ses := range out.Sessions {
		if ses.Principal == "bootstrap" {
			n++
		}
	}
	return n
}

// Every check passes against a real serve, in text and in JSON, and the
// run leaves no session behind.
func TestHealthPassesAgainstServe(t *testing.T) {
	disc := freeUDPAddr(t)
	s := startServe(t, nil, "--scene", playerScene, "--discovery-addr", disc)
	waitForRate(t, s, 60) // development's min_fps_threshold
	vars := map[string]string{"API_TOKEN": testAPIToken}
	args := healthArgs(t, s, "--scene", playerScene, "--discovery-addr", disc)
	sessions := liveSessions(s)

	out, stderr, err := healthRun(t, s.dir, vars, append(args, "--verbose")...)
	if err != nil {
		t.Fatalf("health: %v\n%s%s", err, out, stderr)
	}
	names, got, summary := parseHealthText(t, out)
	if strings.Join(names, "|") != strings.Join(healthCheckNames, "|") {
		t.Errorf("checks printed %q, want %q", names, healthCheckNames)
	}
	for _, n := range healthCheckNames {
		if got[n].status != "PASS" {
			t.Errorf("%s = [%s] %s", n, got[n].status, got[n].summary)
		}
	}
	if want := "Summary: 12 checks PASSED, 0 checks FAILED, 0 warnings"; summary != want {
		t.Errorf("summary line %q, want %q", summary, want)
	}
	for _, detail := range []string{
		"       source: GET /performance/metrics\n",
		"       http api: " + strings.TrimPrefix(s.base, "http://") + ": spacetime api\n",
		"       telemetry: " + s.telemetry + ": spacetime telemetry\n",
		"       running scene: " + playerScene + " allowed by wildcard",
		"       authenticated as: bootstrap (admin)",
		"       credential: from env API_TOKEN\n",
	} {
		if !strings.Contains(out, detail) {
			t.Errorf("--verbose lacks %q:\n%s", detail, out)
		}
	}

	out, stderr, err = healthRun(t, s.dir, vars, append(args, "--json")...)
	if err != nil {
		t.Fatalf("health --json: %v\n%s%s", err, out, stderr)
	}
	checkHealthJSON(t, out, true)
	var rep struct {
		Checks []struct {
			Status string `json:"status"`
		} `json:"checks"`
		Summary struct{ Passed, Failed, Warnings int } `json:"summary"`
		Healthy bool                                   `json:"healthy"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if !rep.Healthy || rep.Summary.Passed != 12 || rep.Summary.Failed != 0 || rep.Summary.Warnings != 0 {
		t.Errorf("JSON summary %+v healthy %t", rep.Summary, rep.Healthy)
	}
	if after := liveSessions(s); after != sessions {
		t.Errorf("live sessions %d before the runs, %d after: health did not log out", sessions, after)
	}
}

// checkHealthJSON checks the document's shape: names and field order,
// key by key, and the check ids in order (the other values vary by host
// and are not compared).
func checkHealthJSON(t *testing.T, out string, healthy bool) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var keys, ids []string
	if err := walkJSON(dec, 0, &keys, &ids); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("--json output has more than one document:\n%s", out)
	}
	want := []string{"1:checks"}
	for range healthCheckNames {
		want = append(want, "2:id", "2:name", "2:status", "2:summary", "2:detail")
	}
	want = append(want, "1:summary", "2:passed", "2:failed", "2:warnings", "1:healthy")
	if got := strings.Join(keys, " "); got != strings.Join(want, " ") {
		t.Errorf("JSON keys in order:\n%s\nwant\n%s\n%s", got, strings.Join(want, " "), out)
	}
	wantIDs := "executable config api engine telemetry ports store_schema backends whitelist scene tls discovery"
	if got := strings.Join(ids, " "); got != wantIDs {
		t.Errorf("check ids %q, want %q", got, wantIDs)
	}
	if !strings.Contains(out, fmt.Sprintf(`"healthy": %t`, healthy)) {
		t.Errorf("healthy is not %t:\n%s", healthy, out)
	}
}

// walkJSON reads one JSON value from dec, recording each object key as
// "LEVEL:key" (LEVEL counts enclosing objects) and the values of "id".
func walkJSON(dec *json.Decoder, level int, keys, ids *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			*keys = append(*keys, fmt.Sprintf("%d:%s", level+1, key))
			if key == "id" {
				v, err := dec.Token()
				if err != nil {
					return err
				}
				id, _ := v.(string)
				*ids = append(*ids, id)
				continue
			}
			if err := walkJSON(dec, level+1, keys, ids); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := walkJSON(dec, level, keys, ids); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// With no server at the URLs, the checks that need one fail, the local
// ones still judge, and the exit status is 1.
func TestHealthServerDown(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := healthRun(t, dir, map[string]string{"API_TOKEN": testAPIToken},
		"--url", "http://"+freeAddr(t), "--telemetry-url", "http://"+freeAddr(t),
		"--http-addr", freeAddr(t), "--telemetry-addr", freeAddr(t),
		"--data-dir", filepath.Join(dir, "data"), "--discovery-addr", "off", "--timeout", "3s")
	wantExit1(t, err, stderr)
	wantChecks(t, out, map[string]string{
		"Executable and Version": "WARN the server's version is unknown",
		"Configuration Valid":    "PASS development configuration from embedded is valid",
		"HTTP API Answering":     "FAIL no answer: GET http://127.0.0.1:",
		"Engine at Rate":         "FAIL no engine figures",
		"Telemetry Stream":       "FAIL stream refused or unreachable",
		"Port Configuration":     "PASS free or held by SpaceTime",
		"Store Schema Current":   "WARN no database yet",
		"Backends Reachable":     "PASS none configured",
		"Scene Whitelist Valid":  "PASS development rules compile",
		"Scene Loaded":           "FAIL the server's scene is unknown",
		"TLS Material Valid":     "PASS not configured",
		"Discovery Beacon":       "PASS disabled by configuration",
	})
	if _, _, summary := parseHealthText(t, out); summary != "Summary: 6 checks PASSED, 4 checks FAILED, 2 warnings" {
		t.Errorf("summary %q", summary)
	}

	out, stderr, err = healthRun(t, dir, nil, "--url", "http://"+freeAddr(t), "--json", "--discovery-addr", "off", "--timeout", "3s",
		"--http-addr", freeAddr(t), "--telemetry-addr", freeAddr(t))
	wantExit1(t, err, stderr)
	checkHealthJSON(t, out, false)
}

// A configuration that does not load fails its check with the reason,
// and the checks that need it say they did not run.
func TestHealthBadConfiguration(t *testing.T) {
	t.Run("no such directory", func(t *testing.T) {
		dir := t.TempDir()
		out, stderr, err := healthRun(t, dir, nil, "--config-dir", filepath.Join(dir, "nope"),
			"--url", "http://"+freeAddr(t), "--telemetry-url", "http://"+freeAddr(t), "--timeout", "3s")
		wantExit1(t, err, stderr)
		wantChecks(t, out, map[string]string{
			"Configuration Valid":   "FAIL 1 problem(s) in the configuration from " + filepath.Join(dir, "nope"),
			"Port Configuration":    "WARN not checked: the configuration did not load",
			"Store Schema Current":  "WARN not checked",
			"Scene Whitelist Valid": "FAIL " + filepath.Join(dir, "nope", "scene_whitelist.json"),
		})
	})
	t.Run("a value out of range", func(t *testing.T) {
		dir := t.TempDir()
		cfgDir := filepath.Join(dir, "config")
		if err := os.CopyFS(cfgDir, configfiles.FS); err != nil {
			t.Fatal(err)
		}
		dev := filepath.Join(cfgDir, "development.json")
		b, err := os.ReadFile(dev)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte(`"port": 8080`), []byte(`"port": 99999`), 1)
		if err := os.WriteFile(dev, b, 0o644); err != nil {
			t.Fatal(err)
		}
		// ./config of the working directory is found as serve finds it.
		out, stderr, err := healthRun(t, dir, nil, "--url", "http://"+freeAddr(t), "--telemetry-url", "http://"+freeAddr(t), "--timeout", "3s", "--verbose")
		wantExit1(t, err, stderr)
		wantChecks(t, out, map[string]string{
			"Configuration Valid": "FAIL 1 problem(s) in the configuration from " + cfgDir,
		})
		if !strings.Contains(out, "development.json: networking.http.port: 99999 out of range [0, 65535]") {
			t.Errorf("the problem is not named:\n%s", out)
		}
	})
}

// Against a server running a scene without a player: the scene check
// fails; a whitelist that no longer allows the running scene fails the
// whitelist check; a configured API port held by the server's telemetry
// port fails the ports check.
func TestHealthFailsOnTheRunningServer(t *testing.T) {
	const noPlayer = "res://tests/integration/two_body.tscn"
	s := startServe(t, nil, "--scene", noPlayer, "--discovery-addr", "off")
	vars := map[string]string{"API_TOKEN": testAPIToken}

	t.Run("scene without a player", func(t *testing.T) {
		out, stderr, err := healthRun(t, s.dir, vars, healthArgs(t, s, "--scene", noPlayer, "--discovery-addr", "off")...)
		wantExit1(t, err, stderr)
		wantChecks(t, out, map[string]string{
			"HTTP API Answering":    "PASS GET /health 200",
			"Scene Loaded":          "FAIL " + noPlayer + " has no player",
			"Scene Whitelist Valid": "PASS",
		})
	})
	t.Run("whitelist refuses the running scene", func(t *testing.T) {
		cfgDir := filepath.Join(t.TempDir(), "config")
		if err := os.CopyFS(cfgDir, configfiles.FS); err != nil {
			t.Fatal(err)
		}
		wl := filepath.Join(cfgDir, "scene_whitelist.json")
		b, err := os.ReadFile(wl)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		doc["environments"].(map[string]any)["development"] = map[string]any{
			"description": "only the main scene", "scenes": []string{"res://vr_main.tscn"},
			"directories": []string{}, "wildcards": []string{}}
		if b, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wl, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := healthRun(t, s.dir, vars, healthArgs(t, s, "--config-dir", cfgDir, "--discovery-addr", "off")...)
		wantExit1(t, err, stderr)
		wantChecks(t, out, map[string]string{
			"Configuration Valid":   "PASS",
			"Scene Whitelist Valid": "FAIL running scene " + noPlayer + " is not allowed in development (default deny)",
		})
	})
	t.Run("API port held by the telemetry port", func(t *testing.T) {
		args := healthArgs(t, s, "--scene", noPlayer, "--discovery-addr", "off")
		for i, a := range args {
			if a == "--http-addr" {
				args[i+1] = s.telemetry
			}
			if a == "--telemetry-addr" {
				args[i+1] = freeAddr(t)
			}
		}
		out, stderr, err := healthRun(t, s.dir, vars, args...)
		wantExit1(t, err, stderr)
		wantChecks(t, out, map[string]string{
			"Port Configuration": "FAIL http api port " + s.telemetry + " is held by a SpaceTime telemetry port",
		})
	})
}

// A credential the production server refuses: the stream and the
// authenticated routes fail or are not judged, the public parts still
// are (the engine rate from the metrics scrape).
func TestHealthRefusedCredential(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "production"}, "--discovery-addr", "off")
	vars := map[string]string{"GODOT_ENV": "production", "API_TOKEN": "not-the-server-token-0123456789-abcdefghij"}
	out, stderr, err := healthRun(t, s.dir, vars, append(healthArgs(t, s, "--discovery-addr", "off"), "--verbose")...)
	wantExit1(t, err, stderr)
	wantChecks(t, out, map[string]string{
		"Configuration Valid": "PASS production configuration",
		"HTTP API Answering":  "PASS",
		"Telemetry Stream":    "FAIL stream refused or unreachable",
		"Scene Loaded":        "WARN res://vr_main.tscn is loaded; its state and player are not checked",
	})
	if !strings.Contains(out, "source: GET http://"+s.telemetry+"/metrics") {
		t.Errorf("the engine check did not fall back to the metrics scrape:\n%s", out)
	}
	if _, got, _ := parseHealthText(t, out); got["Engine at Rate"].status == "FAIL" {
		t.Errorf("Engine at Rate failed: %s", got["Engine at Rate"].summary)
	}
}

// Over HTTPS with the configured certificate: the TLS check compares the
// served certificate with the file, and every other check passes over
// TLS too.
func TestHealthOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := writeSelfSignedUntil(t, dir, time.Now().Add(90*24*time.Hour))
	s := startServe(t, nil, "--scene", playerScene, "--discovery-addr", "off", "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(s.base, "https://") {
		t.Fatalf("base %s is not https", s.base)
	}
	waitForRate(t, s, 60)
	out, stderr, err := healthRun(t, s.dir, map[string]string{"API_TOKEN": testAPIToken},
		append(healthArgs(t, s, "--scene", playerScene, "--discovery-addr", "off", "--tls-cert", cert, "--tls-key", key), "--verbose")...)
	if err != nil {
		t.Fatalf("health: %v\n%s%s", err, out, stderr)
	}
	_, got, _ := parseHealthText(t, out)
	for _, n := range healthCheckNames {
		if got[n].status != "PASS" {
			t.Errorf("%s = [%s] %s", n, got[n].status, got[n].summary)
		}
	}
	if !strings.Contains(out, "served: the same certificate, at "+strings.TrimPrefix(s.base, "https://")) {
		t.Errorf("the served certificate was not compared:\n%s", out)
	}

	// The same server, judged with a certificate that expired: the TLS
	// check fails (the files are not the ones served, too).
	expired, expiredKey, _ := writeSelfSignedUntil(t, t.TempDir(), time.Now().Add(-time.Hour))
	out, stderr, err = healthRun(t, s.dir, map[string]string{"API_TOKEN": testAPIToken},
		healthArgs(t, s, "--scene", playerScene, "--discovery-addr", "off", "--tls-cert", expired, "--tls-key", expiredKey)...)
	wantExit1(t, err, stderr)
	wantChecks(t, out, map[string]string{"TLS Material Valid": "FAIL certificate " + expired + " expired on"})
}

// Bad flags are usage errors (exit 2), and --help lists the flags.
func TestHealthUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--timeout", "0s"}, {"extra"}, {"--no-such-flag"}} {
		_, _, err := healthRun(t, dir, nil, args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("health %q = %v, want a usage error", args, err)
		}
	}
	_, stderr, err := healthRun(t, dir, nil, "--help")
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"-url", "-telemetry-url", "-verbose", "-json", "-timeout", "-config-dir", "-data-dir"} {
		if !strings.Contains(stderr, f) {
			t.Errorf("--help lacks %s:\n%s", f, stderr)
		}
	}
}

// Without API_TOKEN in its environment, health uses the token serve
// generated in the data directory, as an operator on the host would.
func TestHealthUsesTheGeneratedToken(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "production", "API_TOKEN": ""}, "--discovery-addr", "off")
	tokenFile := filepath.Join(s.dir, "data", "api_token")
	if _, err := os.Stat(tokenFile); err != nil {
		t.Fatalf("serve generated no token file: %v", err)
	}
	out, stderr, err := healthRun(t, s.dir, map[string]string{"GODOT_ENV": "production"},
		append(healthArgs(t, s, "--discovery-addr", "off"), "--verbose")...)
	if _, got, _ := parseHealthText(t, out); got["Telemetry Stream"].status != "PASS" || got["Scene Loaded"].status != "PASS" {
		t.Errorf("authenticated checks did not pass (err %v):\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "credential: from file "+tokenFile) {
		t.Errorf("the credential's source is not the token file:\n%s", out)
	}
}
