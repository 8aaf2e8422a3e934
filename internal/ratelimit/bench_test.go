package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// BenchmarkAllow measures one in-memory decision with the real clock
// (time.Now is part of the cost). The rule is generous so that most
// decisions admit and store.
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	rule := PerMinute(6_000_000, 1.2)
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
	}
	b.Run("single_key", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		for b.Loop() {
			m.Allow(ctx, "ip:10.0.0.1", rule, 1)
		}
	})
	b.Run("many_keys", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		i := 0
		for b.Loop() {
			m.Allow(ctx, keys[i], rule, 1)
			if i++; i == len(keys) {
				i = 0
			}
		}
	})
	b.Run("parallel_single_key", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Allow(ctx, "ip:10.0.0.1", rule, 1)
			}
		})
	})
	b.Run("parallel_many_keys", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919)) % len(keys)
			for pb.Next() {
				m.Allow(ctx, keys[i], rule, 1)
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
	})
}

// BenchmarkPolicyCheck measures a whole Policy.Check (ban lookup, route
// match, route and global rules) on the production rules with limits
// raised so requests are admitted.
func BenchmarkPolicyCheck(b *testing.B) {
	cfg := config.Defaults().Security.RateLimiting
	cfg.GlobalRequestsPerMinute = 10_000_000
	cfg.PerEndpointLimits = map[string]int{"/status": 10_000_000, "/scene": 10_000_000, "/debug": 0}
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:10.0.%d.%d", i>>8, i&255)
	}
	for _, tc := range []struct{ name, path string }{{"global_only", "/state/vr"}, {"route_and_global", "/scene/history"}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := NewPolicy(cfg, PolicyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(101)) % len(keys)
				for pb.Next() {
					if r, _ := p.Check(ctx, keys[i], tc.path); r.Outcome != OutcomeAllowed {
						b.Errorf("%v", r.Outcome)
						return
					}
					if i++; i == len(keys) {
						i = 0
					}
				}
			})
		})
	}
}
