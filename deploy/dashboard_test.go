package deploy

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/metrics"
)

// grafanaDashboard is the part of Grafana's dashboard JSON the tests read.
type grafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join("grafana", "dashboard.json"))), &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// promMetricName finds SpaceTime metric names in PromQL.
var promMetricName = regexp.MustCompile(`\bspacetime_[A-Za-z0-9_:]*`)

// exportedSeries returns every series name a SpaceTime registry exports
// (metrics.ExportedSeries).
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	known, err := metrics.ExportedSeries()
	if err != nil {
		t.Fatal(err)
	}
	return known
}

// dashboardExprs returns every PromQL expression of the dashboard.
func dashboardExprs(d grafanaDashboard) []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

func TestGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: all are required", d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Error("no datasource variable: the dashboard would be tied to one Prometheus")
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Contains(tg.Expr, "spacetime_") && !strings.Contains(tg.Expr, `job="spacetime"`) {
				t.Errorf("panel %q: %s does not select job=\"spacetime\" (the alerts' job)", p.Title, tg.Expr)
			}
			if strings.Contains(tg.Expr, "_bucket") && !strings.Contains(tg.Expr, "by (le") {
				t.Errorf("panel %q: %s uses buckets without grouping by le", p.Title, tg.Expr)
			}
		}
	}

	known := exportedSeries(t)
	var unknown []string
	for _, e := range dashboardExprs(d) {
		for _, n := range promMetricName.FindAllString(e, -1) {
			if !known[n] && !slices.Contains(unknown, n) {
				unknown = append(unknown, n)
			}
		}
	}
	if len(unknown) > 0 {
		t.Errorf("the dashboard queries metrics SpaceTime does not export: %v", unknown)
	}

	// The guide's KPIs (section 8), each on its real metric.
	kpis := []struct{ kpi, expr string }{
		{"FPS", "spacetime_fps_current"},
		{"memory", "spacetime_memory_mb"},
		{"request rate", "rate(spacetime_http_request_duration_seconds_count"},
		{"request latency", "histogram_quantile(0.95, sum by (le) (rate(spacetime_http_request_duration_seconds_bucket"},
		{"scene load time", "spacetime_scene_load_duration_seconds_bucket"},
		{"rate-limit violations", "spacetime_rate_limit_violations_total"},
		{"telemetry subscribers", "spacetime_telemetry_subscribers"},
	}
	all := strings.Join(dashboardExprs(d), "\n")
	for _, k := range kpis {
		if !strings.Contains(all, k.expr) {
			t.Errorf("no panel shows %s (%s)", k.kpi, k.expr)
		}
	}

	// Threshold lines sit where the alerts fire (config monitoring.alerts).
	alerts := embeddedDefaults(t, "production").Monitoring.Alerts
	thresholds := map[string]float64{
		"FPS":                   alerts.MinFPS,
		"Memory":                float64(alerts.MaxMemoryMB),
		"Request latency":       float64(alerts.MaxRequestLatencyMS) / 1000,
		"Rate-limit violations": float64(alerts.MaxRateLimitViolationsPerHour),
	}
	for title, want := range thresholds {
		found := false
		for _, p := range d.Panels {
			if p.Title != title {
				continue
			}
			found = true
			ok := false
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				ok = ok || (s.Value != nil && *s.Value == want)
			}
			if !ok {
				t.Errorf("panel %q has no threshold at %v (config monitoring.alerts)", title, want)
			}
		}
		if !found {
			t.Errorf("no panel titled %q", title)
		}
	}
}
