package health

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedReport has one result of each status, one without detail.
func fixedReport() Report {
	return NewReport([]Result{
		{ID: "executable", Name: "Executable and Version", Status: Pass, Summary: "spacetime 1.0.0 (commit 0123456789ab, release build), the same as the server",
			Detail: []string{"executable: /usr/local/bin/spacetime"}},
		{ID: "engine", Name: "Engine at Rate", Status: Warn, Summary: "80.0 fps, below the threshold of 85.0 (target 90)",
			Detail: []string{"fps: 80.0", "physics_fps: 90 (configured 90)"}},
		{ID: "scene", Name: "Scene Loaded", Status: Fail, Summary: "res://tests/integration/two_body.tscn has no player"},
	})
}

// The JSON document is the golden file, byte for byte: names, order,
// indentation, and detail as [] when empty.
func TestHealthJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, fixedReport()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/health -run TestHealthJSONGolden -update)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("WriteJSON =\n%s\nwant (%s)\n%s", got, golden, want)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if back.Healthy || back.Summary != (Counts{Passed: 1, Failed: 1, Warnings: 1}) {
		t.Errorf("decoded summary %+v healthy %t", back.Summary, back.Healthy)
	}
}

func TestHealthTextLayout(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteText(&buf, fixedReport(), verbose); err != nil {
			t.Fatal(err)
		}
		want := `========================================
SpaceTime System Health Check
========================================

[PASS] Executable and Version - spacetime 1.0.0 (commit 0123456789ab, release build), the same as the server
`
		if verbose {
			want += "       executable: /usr/local/bin/spacetime\n"
		}
		want += "[WARN] Engine at Rate - 80.0 fps, below the threshold of 85.0 (target 90)\n"
		if verbose {
			want += "       fps: 80.0\n       physics_fps: 90 (configured 90)\n"
		}
		want += `[FAIL] Scene Loaded - res://tests/integration/two_body.tscn has no player

========================================
Summary: 1 checks PASSED, 1 checks FAILED, 1 warnings
========================================
`
		if got := buf.String(); got != want {
			t.Errorf("verbose=%t:\n%s\nwant\n%s", verbose, got, want)
		}
	}
}

func TestHealthReportCounts(t *testing.T) {
	tests := []struct {
		name        string
		statuses    []Status
		want        Counts
		wantHealthy bool
	}{
		{"none", nil, Counts{}, true},
		{"all pass", []Status{Pass, Pass}, Counts{Passed: 2}, true},
		{"warnings stay healthy", []Status{Pass, Warn}, Counts{Passed: 1, Warnings: 1}, true},
		{"a failure", []Status{Pass, Warn, Fail}, Counts{Passed: 1, Failed: 1, Warnings: 1}, false},
		{"an unknown status fails", []Status{"odd"}, Counts{Failed: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rs []Result
			for _, s := range tc.statuses {
				rs = append(rs, Result{Status: s})
			}
			got := NewReport(rs)
			if got.Summary != tc.want || got.Healthy != tc.wantHealthy {
				t.Errorf("got %+v healthy %t, want %+v healthy %t", got.Summary, got.Healthy, tc.want, tc.wantHealthy)
			}
		})
	}
}

// A multi-line summary or detail stays on its line.
func TestHealthTextOneLine(t *testing.T) {
	var buf bytes.Buffer
	rep := NewReport([]Result{{Name: "X", Status: Fail, Summary: "a\nb", Detail: []string{"c\r\nd"}}})
	if err := WriteText(&buf, rep, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[FAIL] X - a; b\n       c; d\n") {
		t.Errorf("got\n%s", buf.String())
	}
}

// Every check is in Checks once, with a stable ID and a title.
func TestHealthChecksTable(t *testing.T) {
	seen := map[string]bool{}
	var ids []string
	for _, c := range Checks() {
		if c.ID == "" || c.Name == "" || c.Run == nil || seen[c.ID] {
			t.Errorf("bad or duplicate check %+v", c)
		}
		seen[c.ID] = true
		ids = append(ids, c.ID)
	}
	want := "executable config api engine telemetry ports store_schema backends whitelist scene tls discovery"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("check ids = %s, want %s", got, want)
	}
}
