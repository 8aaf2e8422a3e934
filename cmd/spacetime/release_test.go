package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildRelease compiles the release build (-tags release) of the binary.
func buildRelease(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the release binary; run without -short")
	}
	bin := filepath.Join(t.TempDir(), "spacetime")
	cmd := exec.Command("go", "build", "-tags", "release", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags release: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs bin serve with extra environment variables and returns
// a channel of its stderr lines; the process is killed when the test ends.
func startBinary(t *testing.T, bin string, vars ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "serve", "--http-addr", "127.0.0.1:0", "--telemetry-addr", "127.0.0.1:0", "--data-dir", dir)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GODOT_ENV=test", "GODOT_LOG_LEVEL=info", "GODOT_ENABLE_HTTP_API="}, vars...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		for range lines {
		}
	})
	return lines
}

// waitLine returns the first line matching re, failing after 20 s.
func waitLine(t *testing.T, lines <-chan string, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("process ended without logging %v", re)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("no log line matching %v within 20s", re)
		}
	}
}

// The guide's release hardening: a release build keeps the HTTP API off
// and says so, unless GODOT_ENABLE_HTTP_API=true.
func TestReleaseBuildGatesTheAPI(t *testing.T) {
	bin := buildRelease(t)
	listening := regexp.MustCompile(`http api listening.*addr=(\S+)`)

	off := startBinary(t, bin)
	line := waitLine(t, off, regexp.MustCompile(`HTTP API disabled in release builds|http api listening`))
	if !strings.Contains(line[0], "HTTP API disabled in release builds") {
		t.Fatalf("release build without GODOT_ENABLE_HTTP_API: %q, want the API disabled", line[0])
	}

	on := startBinary(t, bin, "GODOT_ENABLE_HTTP_API=true")
	addr := waitLine(t, on, listening)[1]
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatalf("GET /status with GODOT_ENABLE_HTTP_API=true: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"build_mode":"release"`) {
		t.Errorf("GET /status = %d %s, want 200 from a release build", resp.StatusCode, body)
	}
}
