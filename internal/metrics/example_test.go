package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/metrics"
)

// staticEngine is a SnapshotSource with a fixed snapshot.
type staticEngine struct{ s *engine.Snapshot }

func (e staticEngine) Snapshot() *engine.Snapshot { return e.s }

// Example shows the wiring `serve` does: the metrics built once, the
// middleware around the API handler, and /metrics on the telemetry mux.
func Example() {
	eng := staticEngine{&engine.Snapshot{Perf: engine.Perf{PhysicsFPS: 90, FPS: 90}}}
	m := metrics.New(metrics.Options{
		Engine:    eng,
		Version:   "1.0.0",
		BuildMode: "debug",
		// serve passes policy.Violations, hub counters, audit Dropped...
		RateLimitViolations: func() uint64 { return 0 },
	})

	// The API: the middleware sits inside the route matching, so routeOf
	// can name the matched route (api.RouteFromContext in SpaceTime).
	api := http.NewServeMux()
	api.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	apiHandler := m.Middleware(nil)(api)

	// The telemetry listener serves /metrics.
	tel := http.NewServeMux()
	tel.Handle("GET /metrics", m.Handler())

	apiHandler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil))
	m.ObserveSceneLoad(metrics.SceneLoaded, 12*time.Millisecond)

	rec := httptest.NewRecorder()
	tel.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), "GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "spacetime_fps_current ") ||
			strings.HasPrefix(line, `spacetime_http_request_duration_seconds_count{method="GET",route="/health",status="200"}`) ||
			strings.HasPrefix(line, `spacetime_scene_loads_total{status="loaded"}`) {
			fmt.Println(line)
		}
	}
	// Output:
	// spacetime_fps_current 90
	// spacetime_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 1
	// spacetime_scene_loads_total{status="loaded"} 1
}
