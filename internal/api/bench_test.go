package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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
	// secured-fakes: the security chain with in-memory fakes behind its
	// interfaces, the cost of the chain's own mechanics (cmd/spacetime's
	// BenchmarkStatePlayerChain measures it with the real parts).
	fa, fd := &fakeAuth{}, &countingAuditor{}
	secured, err := api.New(api.Options{
		Sim: sim, Scenes: newFakeScenes(), Now: clock.Now,
		Logger:   slog.New(slog.NewJSONHandler(discard{}, nil)),
		Security: api.SecurityOptions{Authenticator: fa, Sessions: fa, Admin: fa, Limiter: allowLimiter{}, Auditor: fd},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
		auth string
	}{
		{"stack", srv.Handler(), ""},
		{"bare", api.BareHandler(srv), ""},
		{"secured-fakes", secured.Handler(), "Bearer role:readonly"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/state/player", nil)
			if bc.auth != "" {
				req.Header.Set("Authorization", bc.auth)
			}
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

// allowLimiter admits everything, reporting a bucket of 120.
type allowLimiter struct{}

func (allowLimiter) Limit(context.Context, api.Client, string) (api.LimitDecision, error) {
	return api.LimitDecision{Outcome: api.LimitAllowed, Limit: 120, Remaining: 119, Reset: time.Second}, nil
}

// countingAuditor counts records without keeping them.
type countingAuditor struct{ n atomic.Int64 }

func (c *countingAuditor) Record(api.AuditRecord) { c.n.Add(1) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
