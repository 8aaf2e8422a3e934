package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// The cost of the security chain on the hot path (issue 3's benchmark):
// an authenticated GET /state/player through the whole stack with the real
// auth service, rate-limit policy and audit log (file sink), against the
// same server without the security layer. internal/api's
// BenchmarkStatePlayer relates the latter to the bare mux. Reproduce with
//
//	go test -run '^$' -bench 'StatePlayerChain|AuthAndLimit' -benchtime 2s ./cmd/spacetime/
//	go test -run '^$' -bench StatePlayerLoopback -benchtime 50000x ./cmd/spacetime/

// benchLimits makes the limiter decide every request without refusing
// any: the work per request is the same as under real limits.
func benchLimits(c *config.Config) {
	c.Security.RateLimiting.GlobalRequestsPerMinute = 1 << 30
}

// accessLog is the access log of the benchmarks: JSON at Info into
// nothing, so its formatting is counted as in production.
func accessLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// benchServers returns the secured handler with a readonly token, and the
// same server without security.
func benchServers(b *testing.B) (secured http.Handler, token string, plain http.Handler) {
	b.Helper()
	s := newSecSystemWith(b, config.EnvTest, benchLimits, accessLog(), true)
	raw, _, err := s.sec.auth.APIKeys().Mint(auth.RoleReadonly, "bench")
	if err != nil {
		b.Fatal(err)
	}
	token = s.login(raw).AccessToken
	srv, err := api.New(api.Options{Sim: newStubSim(s.clock.Now()), Scenes: s.scenes,
		Environment: config.EnvTest, Now: s.clock.Now, Logger: accessLog()})
	if err != nil {
		b.Fatal(err)
	}
	return s.h, token, srv.Handler()
}

func BenchmarkStatePlayerChain(b *testing.B) {
	secured, token, plain := benchServers(b)
	noAudit := newSecSystemWith(b, config.EnvTest, func(c *config.Config) {
		benchLimits(c)
		c.Security.Audit.Enabled = false
	}, accessLog(), false)
	raw, _, err := noAudit.sec.auth.APIKeys().Mint(auth.RoleReadonly, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
		auth string
	}{
		{"chain", secured, "Bearer " + token},
		{"chain-without-audit", noAudit.h, "Bearer " + noAudit.login(raw).AccessToken},
		{"stack", plain, ""},
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
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkAuthAndLimit is the authentication (JWT verification, session
// check) plus the rate-limit decision of one request, as the middleware
// calls them.
func BenchmarkAuthAndLimit(b *testing.B) {
	s := newSecSystemWith(b, config.EnvTest, benchLimits, accessLog(), false)
	raw, _, err := s.sec.auth.APIKeys().Mint(auth.RoleReadonly, "bench")
	if err != nil {
		b.Fatal(err)
	}
	header := "Bearer " + s.login(raw).AccessToken
	ip := netip.MustParseAddr("192.0.2.1")
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		auth  bool
		limit bool
	}{{"auth+limit", true, true}, {"auth", true, false}, {"limit", false, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := api.Principal{ID: "bench"}
				if bc.auth {
					if p, err = s.sec.opts.Authenticator.Authenticate(header); err != nil {
						b.Fatal(err)
					}
				}
				if bc.limit {
					d, err := s.sec.opts.Limiter.Limit(ctx, api.Client{Principal: p.ID, IP: ip}, "/state/player")
					if err != nil || d.Outcome != api.LimitAllowed {
						b.Fatalf("%v %v", d, err)
					}
				}
			}
		})
	}
}

// BenchmarkStatePlayerLoopback serves GET /state/player on a loopback
// listener to 64 concurrent clients (in the same process: they take about
// half the CPU) and reports throughput and the p99 latency: with the
// security chain, without it, and a bare net/http handler writing the
// same bytes.
func BenchmarkStatePlayerLoopback(b *testing.B) {
	secured, token, plain := benchServers(b)
	// bare: plain net/http answering the same bytes, the reference.
	rec := httptest.NewRecorder()
	plain.ServeHTTP(rec, httptest.NewRequest("GET", "/state/player", nil))
	body := rec.Body.Bytes()
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
		auth string
	}{
		{"chain", secured, "Bearer " + token},
		{"stack", plain, ""},
		{"bare", bare, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ts := httptest.NewServer(bc.h)
			defer ts.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 128}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(32) // × GOMAXPROCS (2): 64 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					req, _ := http.NewRequest("GET", ts.URL+"/state/player", nil)
					if bc.auth != "" {
						req.Header.Set("Authorization", bc.auth)
					}
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(start))
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
