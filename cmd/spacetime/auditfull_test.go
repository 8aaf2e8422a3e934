package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The audit log's disk full: the API keeps serving, /status, the metrics
// and the log say so, records are held and written once space returns, and
// none is lost. The log directory is a small tmpfs of the test's own.
func TestFaultAuditDiskFull(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", logs).CombinedOutput(); err != nil {
		missing(t, "needs to mount a tmpfs (root): "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", logs).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", logs, err, out)
		}
	})
	s := startServeIn(t, dir, map[string]string{"GODOT_ENV": "test"})

	sent := 0
	send := func(n int, when string) {
		t.Helper()
		for range n {
			sent++
			if resp := s.do("GET", "/state/player", "", nil); resp.StatusCode != 200 {
				t.Errorf("GET /state/player %s = %d, want 200", when, resp.StatusCode)
			}
		}
	}
	auditState := func() string {
		var st struct {
			Audit string `json:"audit"`
		}
		s.as("", "GET", "/status", "", &st)
		return st.Audit
	}
	waitAudit := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for auditState() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/status audit = %q after 10 s, want %q", auditState(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	metric := func(name string) string {
		t.Helper()
		resp, err := http.Get("http://" + s.telemetry + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				return v
			}
		}
		return ""
	}

	send(10, "before the disk fills")
	waitAudit("ok")

	// Fill the file system.
	filler := filepath.Join(logs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()

	send(40, "with the disk full")
	waitAudit("failing")
	if v := metric("spacetime_audit_sink_failing"); v != "1" {
		t.Errorf("spacetime_audit_sink_failing = %q with the disk full, want 1", v)
	}
	if v := metric("spacetime_audit_records_pending"); v == "" || v == "0" {
		t.Errorf("spacetime_audit_records_pending = %q with the disk full, want > 0", v)
	}
	if !strings.Contains(s.stderr.String(), "audit sink failing") {
		t.Errorf("the log does not report the failing audit sink:\n%s", s.stderr.String())
	}

	// Space returns: the held records are written.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitAudit("ok")
	if v := metric("spacetime_audit_sink_failing"); v != "0" {
		t.Errorf("spacetime_audit_sink_failing = %q after space returned, want 0", v)
	}
	send(10, "after space returned")
	s.stop()

	n := 0
	files, _ := filepath.Glob(filepath.Join(logs, "audit_*.log*"))
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(fh)
		for {
			var rec struct {
				Route string `json:"route"`
			}
			if err := dec.Decode(&rec); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rec.Route == "GET /state/player" {
				n++
			}
		}
		fh.Close()
	}
	if n != sent {
		t.Errorf("the audit files hold %d GET /state/player records, want %d (one per request)", n, sent)
	}
}
