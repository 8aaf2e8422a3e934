package metrics

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// ExportedSeries returns the name of every series a scrape of SpaceTime
// can hold: this package's metrics with every vector given a child and an
// engine running a scene with a player, plus the Go runtime and process
// collectors; histograms and summaries as their _bucket (histograms),
// _sum and _count series. Alert rules and dashboards are checked against
// it, so that they never query a series that does not exist.
func ExportedSeries() (map[string]bool, error) {
	m := New(Options{Engine: fixedSnapshot{&engine.Snapshot{
		Scene:  engine.SceneInfo{Name: "vr_main", Path: "res://vr_main.tscn"},
		Player: &engine.PlayerState{Lorentz: 1},
		Perf:   engine.Perf{PhysicsFPS: 90, FPS: 90},
	}}})
	m.httpDuration.WithLabelValues("GET /health", "GET", "200") // a vector shows once it has a child
	fams, err := m.Registry().Gather()
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool)
	for _, f := range fams {
		n := f.GetName()
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[n], names[n+"_sum"], names[n+"_count"] = true, true, true
		default:
			names[n] = true
		}
	}
	return names, nil
}

// fixedSnapshot is a SnapshotSource that always returns the same snapshot.
type fixedSnapshot struct{ s *engine.Snapshot }

func (f fixedSnapshot) Snapshot() *engine.Snapshot { return f.s }
