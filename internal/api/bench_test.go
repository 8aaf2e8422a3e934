package api_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// BenchmarkStatePlayer measures GET /state/player in process, through the
// full middleware stack and through the bare mux, so the cost of the
// stack can be compared over time (design §6: the chain at 60% or more of
// bare throughput). The access log goes to a discarding handler at Info,
// so its formatting cost is counted.
func BenchmarkStatePlayer(b *testing.B) {
	clock := &fakeClock{t: t0}
	sim := &fakeSim{clock: clock, snap: snapshotOf(mainSpec(), t0)}
	srv, err := api.New(api.Options{
		Sim: sim, Scenes: newFakeScenes(), Now: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(discard{}, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"stack", srv.Handler()},
		{"bare", api.BareHandler(srv)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/state/player", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
