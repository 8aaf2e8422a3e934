package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"sigs.k8s.io/yaml"
)

// binDir holds the release binary the run tests build once.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spacetime-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// releaseBinary builds the binary as deploy/Dockerfile does
// (CGO_ENABLED=0, -tags release, -trimpath), once per test run.
func releaseBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the release binary; run without -short")
	}
	bin := filepath.Join(binDir, "spacetime")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-tags", "release", "-trimpath", "-o", bin, "../cmd/spacetime")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build -tags release: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// setFlags returns args with the given flags' values replaced (forms
// --f=v and --f v), and appended when absent.
func setFlags(args []string, values map[string]string) []string {
	out := slices.Clone(args)
	done := map[string]bool{}
	for i := 0; i < len(out); i++ {
		name, _, eq := strings.Cut(out[i], "=")
		v, ok := values[name]
		if !ok {
			continue
		}
		done[name] = true
		if eq {
			out[i] = name + "=" + v
		} else if i+1 < len(out) {
			out[i+1] = v
			i++
		}
	}
	for _, k := range sortedKeys(values) {
		if !done[k] {
			out = append(out, k+"="+values[k])
		}
	}
	return out
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// server is a started `spacetime serve`.
type server struct {
	API, Telemetry string // base URLs
	Output         *lockedBuffer
}

// startServer runs bin with args (a serve command line whose listen
// addresses are replaced by free loopback ports, discovery off) in dir
// with exactly env (plus PATH and HOME), stops it with SIGTERM when the
// test ends, and waits until waitPath answers 200 on the API or, when
// waitPath is "", until the telemetry port serves /metrics.
func startServer(t *testing.T, bin, dir string, args []string, env map[string]string, waitPath string) server {
	t.Helper()
	api, tel := freePort(t), freePort(t)
	args = setFlags(args, map[string]string{
		"--http-addr":      "127.0.0.1:" + strconv.Itoa(api),
		"--telemetry-addr": "127.0.0.1:" + strconv.Itoa(tel),
		"--discovery-addr": "off",
	})
	s := server{API: fmt.Sprintf("http://127.0.0.1:%d", api), Telemetry: fmt.Sprintf("http://127.0.0.1:%d", tel), Output: &lockedBuffer{}}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = s.Output, s.Output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("serve did not stop within 30s of SIGINT")
		}
	})
	target := s.API + waitPath
	if waitPath == "" {
		target = s.Telemetry + "/metrics"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(target)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("serve %q exited (%v) before %s answered:\n%s", args, err, target, s.Output)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 30s:\n%s", target, s.Output)
		}
	}
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// imageDirs maps the image's absolute data and log dirs to temp dirs.
func imageDirs(t *testing.T, args []string) (rewritten []string, dataDir string) {
	t.Helper()
	flags := parseServeArgs(t, args)
	dataDir, logDir := t.TempDir(), t.TempDir()
	set := map[string]string{}
	if flags.DataDir != "" {
		set["--data-dir"] = dataDir
	}
	if flags.LogDir != "" {
		set["--log-dir"] = logDir
	}
	return setFlags(args, set), dataDir
}

// runHealthcheck runs the image's HEALTHCHECK command against s, with its
// URLs and directories pointed at s's.
func runHealthcheck(t *testing.T, bin string, hc []string, s server, dataDir string, env map[string]string) (exitCode int, out string) {
	t.Helper()
	h := parseHealthArgs(t, hc[2:])
	set := map[string]string{"--url": s.API, "--telemetry-url": s.Telemetry, "--timeout": "3s"}
	if h.Flags.DataDir != "" {
		set["--data-dir"] = dataDir
	}
	if h.Flags.LogDir != "" {
		set["--log-dir"] = t.TempDir()
	}
	args := setFlags(hc[2:], set)
	cmd := exec.Command(bin, append([]string{"health"}, args...)...)
	cmd.Dir = dataDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(b)
	}
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	return 0, string(b)
}

var healthSummary = regexp.MustCompile(`Summary: (\d+) checks PASSED, (\d+) checks FAILED`)

// The image as built: the Dockerfile's CMD and ENV (with
// GODOT_ENABLE_HTTP_API=true, as its header says to run it) start a server
// whose HEALTHCHECK passes; without that variable the release build keeps
// the API off and the HEALTHCHECK fails (guide section 9, issue 1).
func TestImageCommandServesAndHealthcheckPasses(t *testing.T) {
	bin := releaseBinary(t)
	df := loadDockerfile(t)
	rt := runtimeOf(t, df)

	t.Run("API enabled", func(t *testing.T) {
		args, dataDir := imageDirs(t, rt.Cmd)
		env := map[string]string{"GODOT_ENABLE_HTTP_API": "true"}
		for k, v := range rt.Env {
			env[k] = v
		}
		s := startServer(t, bin, dataDir, args, env, "/health")
		code, out := runHealthcheck(t, bin, rt.Healthchk, s, dataDir, env)
		m := healthSummary.FindStringSubmatch(out)
		if code != 0 || m == nil || m[2] != "0" {
			t.Fatalf("HEALTHCHECK exited %d:\n%s\nserver output:\n%s", code, out, s.Output)
		}
		t.Logf("HEALTHCHECK: %s", m[0])
	})

	t.Run("API disabled", func(t *testing.T) {
		args, dataDir := imageDirs(t, rt.Cmd)
		env := map[string]string{}
		for k, v := range rt.Env {
			env[k] = v
		}
		s := startServer(t, bin, dataDir, args, env, "")
		code, out := runHealthcheck(t, bin, rt.Healthchk, s, dataDir, env)
		if code == 0 || !strings.Contains(out, "[FAIL]") {
			t.Fatalf("HEALTHCHECK passed with the HTTP API off (exit %d):\n%s", code, out)
		}
		if !strings.Contains(s.Output.String(), "GODOT_ENABLE_HTTP_API") {
			t.Errorf("the server's log does not say how to turn the API on:\n%s", s.Output)
		}
	})
}

// The Deployment's pod, run as the pod runs it (its args, environment and
// ConfigMap files; listen addresses and directories moved to the test's),
// answers its probes and serves the metrics the dashboard and the alerts
// query. DB_HOST and REDIS_HOST are left out: production requires TLS to
// PostgreSQL, which the test database does not offer; the backing services
// are checked by TestBackingServicesAgree and TestBackupScriptDumpsDatabase.
func TestDeploymentPodServes(t *testing.T) {
	bin := releaseBinary(t)
	ms := loadManifests(t)
	p := loadServerPod(t, ms)
	cfgDir := t.TempDir()
	for k, v := range p.ConfigMap.Data {
		if err := os.WriteFile(filepath.Join(cfgDir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args, dataDir := imageDirs(t, p.Container.Args)
	args = setFlags(args, map[string]string{"--config-dir": cfgDir})
	env := map[string]string{}
	for k, v := range p.Env {
		if k != "DB_HOST" && k != "REDIS_HOST" {
			env[k] = v
		}
	}
	s := startServer(t, bin, dataDir, args, env, "/health")

	for _, pr := range []struct {
		name string
		path string
	}{
		{"startupProbe", p.Container.StartupProbe.HTTPGet.Path},
		{"livenessProbe", p.Container.LivenessProbe.HTTPGet.Path},
		{"readinessProbe", p.Container.ReadinessProbe.HTTPGet.Path},
	} {
		if code, body := get(t, s.API+pr.path); code != http.StatusOK {
			t.Errorf("%s GET %s: %d %s", pr.name, pr.path, code, body)
		}
	}
	code, body := get(t, s.API+"/status")
	if code != http.StatusOK || !strings.Contains(body, `"environment":"production"`) {
		t.Errorf("GET /status: %d %s: want production", code, body)
	}

	// The metrics the dashboard and the alerts query, from the real scrape.
	code, metricsText := get(t, s.Telemetry+p.Workload.Template.Annotations["prometheus.io/path"])
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", p.Workload.Template.Annotations["prometheus.io/path"], code)
	}
	scraped := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(metricsText))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		scraped[name] = true
	}
	queried := promMetricName.FindAllString(strings.Join(append(dashboardExprs(loadDashboard(t)), alertExprs(t)...), "\n"), -1)
	var missing []string
	for _, n := range queried {
		if !scraped[n] && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the dashboard or the alerts query series the running server does not export: %v", missing)
	}
}

// The systemd unit's ExecStart and Environment (config dir, listen
// addresses and directories moved to the test's) start a server that
// answers /health.
func TestSystemdUnitServes(t *testing.T) {
	bin := releaseBinary(t)
	u, err := parseUnit(readFile(t, filepath.Join("systemd", "spacetime.service")))
	if err != nil {
		t.Fatal(err)
	}
	execStart, _ := u.last("Service", "ExecStart")
	args, dataDir := imageDirs(t, strings.Fields(execStart)[1:])
	env := map[string]string{}
	for _, e := range u["Service"]["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
			env[k] = v
		}
	}
	// /etc/spacetime/config holds copies of config/.
	cfgDir, err := filepath.Abs(filepath.Join("..", "config"))
	if err != nil {
		t.Fatal(err)
	}
	args = setFlags(args, map[string]string{"--config-dir": cfgDir})
	s := startServer(t, bin, dataDir, args, env, "/health")
	if code, body := get(t, s.API+"/status"); code != http.StatusOK || !strings.Contains(body, `"environment":"production"`) {
		t.Errorf("GET /status: %d %s", code, body)
	}
}

// alertExprs returns the expressions of prometheus/alerts.yaml.
func alertExprs(t *testing.T) []string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join("prometheus", "alerts.yaml"))), &rules); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	if len(out) == 0 {
		t.Fatal("no alert expressions")
	}
	return out
}

func TestSetFlags(t *testing.T) {
	got := setFlags([]string{"serve", "--a=1", "--b", "2", "--c=3"}, map[string]string{"--a": "x", "--b": "y", "--d": "z"})
	want := []string{"serve", "--a=x", "--b", "y", "--c=3", "--d=z"}
	if !slices.Equal(got, want) {
		t.Errorf("setFlags = %q, want %q", got, want)
	}
}
