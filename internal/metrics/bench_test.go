package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/metrics"
)

// BenchmarkMiddleware is the cost the middleware adds to one request.
func BenchmarkMiddleware(b *testing.B) {
	m := metrics.New(metrics.Options{})
	h := m.Middleware(func(*http.Request) string { return "/health" })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	r := httptest.NewRequest(http.MethodGet, "/health", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkScrape is the cost of one /metrics scrape.
func BenchmarkScrape(b *testing.B) {
	m := metrics.New(metrics.Options{})
	h := m.Handler()
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
