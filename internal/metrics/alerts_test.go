package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/metrics"
)

// promDir holds the shipped Prometheus files.
var promDir = filepath.Join("..", "..", "deploy", "prometheus")

// TestAlertRulesUseRealMetrics fails when an alert expression, or a series
// of the rules' unit tests, names a spacetime_* metric this package does
// not export: a renamed metric would otherwise leave an alert that can
// never fire.
func TestAlertRulesUseRealMetrics(t *testing.T) {
	known := exportedSeries(t)
	for _, file := range []string{"alerts.yaml", "alerts_test.yaml"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(promDir, file))
			if err != nil {
				t.Fatalf("read rules: %v", err)
			}
			exprs := promQL(string(b))
			if len(exprs) == 0 {
				t.Fatalf("no expr or series found in %s", file)
			}
			names := metricNames(exprs)
			if len(names) == 0 {
				t.Fatalf("no spacetime_ metric named in %s", file)
			}
			if unknown := unknownNames(names, known); len(unknown) > 0 {
				t.Errorf("%s names metrics SpaceTime does not export: %v", file, unknown)
			}
		})
	}
}

// TestAlertRulesCoverGuide checks each alert of the guide's section 8 is
// there, on the metric the issue names.
func TestAlertRulesCoverGuide(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(promDir, "alerts.yaml"))
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}
	all := strings.Join(promQL(string(b)), "\n")
	for _, want := range []string{
		`up{job="spacetime"} == 0`,
		"spacetime_fps_current",
		"spacetime_memory_mb",
		"spacetime_scene_load_errors_total",
		"spacetime_http_request_duration_seconds_sum",
		"spacetime_http_request_duration_seconds_count",
		"spacetime_rate_limit_violations_total",
		"spacetime_telemetry_disconnects_total",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no alert expression uses %s", want)
		}
	}
}

// TestRuleChecker shows the checks above can fail: they find metric names
// in single-line and block expressions and flag unknown ones.
func TestRuleChecker(t *testing.T) {
	known := exportedSeries(t)
	tests := []struct {
		name        string
		yaml        string
		wantNames   []string
		wantUnknown []string
	}{
		{
			name: "single-line expressions",
			yaml: "groups:\n  - name: spacetime_alerts\n    rules:\n" +
				"      - alert: A\n        expr: spacetime_fps_current < 85\n" +
				"      - alert: B\n        expr: 'increase(spacetime_scene_load_errors_total[5m]) > 3'\n",
			wantNames: []string{"spacetime_fps_current", "spacetime_scene_load_errors_total"},
		},
		{
			name: "block expression with histogram series",
			yaml: "      - alert: C\n        expr: |\n" +
				"          sum(rate(spacetime_http_request_duration_seconds_sum[5m]))\n" +
				"            / sum(rate(spacetime_http_request_duration_seconds_count[5m])) > 0.5\n" +
				"        for: 15m\n        labels:\n          severity: spacetime_not_an_expr\n",
			wantNames: []string{"spacetime_http_request_duration_seconds_count", "spacetime_http_request_duration_seconds_sum"},
		},
		{
			name: "a metric that does not exist",
			yaml: "      - alert: D\n        expr: spacetime_fps < 85 or spacetime_memory_mb > 1\n" +
				"      - series: 'spacetime_scene_load_errors{job=\"spacetime\"}'\n",
			wantNames:   []string{"spacetime_fps", "spacetime_memory_mb", "spacetime_scene_load_errors"},
			wantUnknown: []string{"spacetime_fps", "spacetime_scene_load_errors"},
		},
		{
			name:        "a histogram suffix on a gauge",
			yaml:        "        expr: spacetime_fps_current_sum > 1\n",
			wantNames:   []string{"spacetime_fps_current_sum"},
			wantUnknown: []string{"spacetime_fps_current_sum"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			names := metricNames(promQL(tc.yaml))
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("names = %v, want %v", names, tc.wantNames)
			}
			if got := unknownNames(names, known); !slices.Equal(got, tc.wantUnknown) {
				t.Errorf("unknown = %v, want %v", got, tc.wantUnknown)
			}
		})
	}
}

// exportedSeries is metrics.ExportedSeries plus Prometheus's own
// per-target series.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	known, err := metrics.ExportedSeries()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	known["up"] = true
	return known
}

var (
	// exprLine is a YAML `expr:` (rules) or `series:` (rule tests) key.
	exprLine = regexp.MustCompile(`^(\s*)(?:-\s+)?(?:expr|series):\s*(.*)$`)
	// metricName is a SpaceTime metric name in PromQL.
	metricName = regexp.MustCompile(`\bspacetime_[A-Za-z0-9_:]*`)
)

// promQL returns the PromQL of every expr and series key of a rules or
// rule-test file: a minimal YAML read that handles plain, quoted and block
// (| or >) scalars, which is all the shipped files use.
func promQL(yaml string) []string {
	lines := strings.Split(yaml, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		m := exprLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, v := len(m[1]), strings.TrimSpace(m[2])
		if strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") {
			var block []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				block = append(block, strings.TrimSpace(next))
				i++
			}
			out = append(out, strings.Join(block, "\n"))
			continue
		}
		out = append(out, strings.Trim(v, `'"`))
	}
	return out
}

// metricNames returns the sorted, distinct spacetime_* names in exprs.
func metricNames(exprs []string) []string {
	var names []string
	for _, e := range exprs {
		names = append(names, metricName.FindAllString(e, -1)...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func unknownNames(names []string, known map[string]bool) []string {
	var unknown []string
	for _, n := range names {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	return unknown
}
