package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// A policy on the guide's production limits, on a fixed clock: /admin
// allows 5 requests a minute with a bucket of 6, /debug is disabled.
func ExamplePolicy() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := config.Defaults().Security.RateLimiting
	p, err := ratelimit.NewPolicy(cfg, ratelimit.PolicyOptions{Clock: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	client := ratelimit.ClientKey("", netip.MustParseAddr("192.0.2.10"))
	ctx := context.Background()
	for i := 1; i <= 7; i++ {
		r, err := p.Check(ctx, client, "/admin/sessions")
		if err != nil {
			panic(err)
		}
		h := http.Header{}
		r.SetHeaders(h)
		fmt.Printf("%d %s %s remaining=%s retry-after=%s\n", i, r.Outcome, r.Route,
			h.Get("RateLimit-Remaining"), h.Get("Retry-After"))
	}
	r, _ := p.Check(ctx, client, "/debug")
	fmt.Println(r.Outcome)
	// Output:
	// 1 allowed /admin remaining=5 retry-after=
	// 2 allowed /admin remaining=4 retry-after=
	// 3 allowed /admin remaining=3 retry-after=
	// 4 allowed /admin remaining=2 retry-after=
	// 5 allowed /admin remaining=1 retry-after=
	// 6 allowed /admin remaining=0 retry-after=
	// 7 limited /admin remaining=0 retry-after=12
	// disabled
}

// Headers for a decision of the in-memory limiter.
func ExampleDecision_SetHeaders() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: func() time.Time { return now }})
	rule := ratelimit.PerMinute(100, 1.2) // bucket 120, one every 600 ms
	d, _ := m.Allow(context.Background(), "ip:192.0.2.10", rule, 1)
	h := http.Header{}
	d.SetHeaders(h)
	fmt.Println(h.Get("RateLimit-Limit"), h.Get("RateLimit-Remaining"), h.Get("RateLimit-Reset"))
	// Output: 120 119 1
}
