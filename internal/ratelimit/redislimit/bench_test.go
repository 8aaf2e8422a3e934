package redislimit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// benchLatency runs op b.N times and reports the p50 and p99 latency of
// one call next to the mean (ns/op).
func benchLatency(b *testing.B, op func(i int) error) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	}
}

// BenchmarkAllow: one decision against the test Redis, over 1000 keys.
func BenchmarkAllow(b *testing.B) {
	prefix, clients := redisEnv(b, 1)
	l := New(clients[0], Options{Prefix: prefix})
	ctx := context.Background()
	rule := ratelimit.PerMinute(6000, 1.2)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "ip:198.51.100." + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	benchLatency(b, func(i int) error {
		_, err := l.Allow(ctx, keys[i%len(keys)], rule, 1)
		return err
	})
}

// BenchmarkAllowAll: a route and the global rule, as Policy checks them.
func BenchmarkAllowAll(b *testing.B) {
	prefix, clients := redisEnv(b, 1)
	l := New(clients[0], Options{Prefix: prefix})
	ctx := context.Background()
	checks := []ratelimit.Check{
		{Key: "ip:198.51.100.7\x00/scene", Rule: ratelimit.PerMinute(6000, 1.2), N: 1},
		{Key: "ip:198.51.100.7", Rule: ratelimit.PerMinute(6000, 1.2), N: 1},
	}
	benchLatency(b, func(int) error {
		_, err := l.AllowAll(ctx, checks)
		return err
	})
}

// BenchmarkBanGet: the per-request ban lookup of a client nobody banned.
func BenchmarkBanGet(b *testing.B) {
	prefix, clients := redisEnv(b, 1)
	s := NewBanStore(clients[0], Options{Prefix: prefix})
	ctx := context.Background()
	benchLatency(b, func(int) error {
		_, _, err := s.Get(ctx, "ip:198.51.100.7")
		return err
	})
}
