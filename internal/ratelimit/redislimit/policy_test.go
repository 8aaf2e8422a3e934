package redislimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// TestPolicyAcrossReplicas: two Policies (two replicas) on one Redis
// enforce one global limit and one per-route limit together, and a client
// hammering both earns one ban that both enforce.
func TestPolicyAcrossReplicas(t *testing.T) {
	prefix, clients := redisEnv(t, 2)
	cfg := config.RateLimiting{
		Enabled:                 true,
		GlobalRequestsPerMinute: 60,
		BurstMultiplier:         1.2,
		PerEndpointLimits:       map[string]int{"/scene/load": 10},
		BanDurationMinutes:      5,
		BanAfterViolations:      20,
	}
	var issued atomic.Int64
	policies := make([]*ratelimit.Policy, 2)
	for i, c := range clients {
		p, err := ratelimit.NewPolicy(cfg, ratelimit.PolicyOptions{
			Limiter: New(c, Options{Prefix: prefix}),
			Bans:    NewBanStore(c, Options{Prefix: prefix}),
			OnBan:   func(ratelimit.BanEvent) { issued.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		policies[i] = p
	}
	ctx := context.Background()
	count := func(client, path string, perReplica int) map[ratelimit.Outcome]int {
		t.Helper()
		var mu sync.Mutex
		got := map[ratelimit.Outcome]int{}
		var wg sync.WaitGroup
		for _, p := range policies {
			for range 2 {
				wg.Go(func() {
					for range perReplica / 2 {
						r, err := p.Check(ctx, client, path)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						got[r.Outcome]++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		return got
	}
	// The route bucket (12) binds first, and its refusals leave the global
	// bucket alone; the rest of the global bucket (72 − 12) goes elsewhere.
	got := count("ip:192.0.2.1", "/scene/load", 10)
	if got[ratelimit.OutcomeAllowed] != 12 || got[ratelimit.OutcomeLimited] != 8 {
		t.Errorf("/scene/load, 20 requests over 2 replicas: %v, want 12 allowed, 8 limited", got)
	}
	got = count("ip:192.0.2.1", "/status", 30)
	if got[ratelimit.OutcomeAllowed] != 60 {
		t.Errorf("/status, 60 requests: %v, want 60 allowed", got)
	}
	// 40 more: all refused; the 21st violation in all earns one ban.
	got = count("ip:192.0.2.1", "/status", 20)
	if got[ratelimit.OutcomeAllowed] != 0 || got[ratelimit.OutcomeBanned] == 0 {
		t.Errorf("/status past the bucket: %v, want refusals ending in a ban", got)
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("%d bans issued across replicas, want 1", n)
	}
	for i, p := range policies {
		if r, err := p.Check(ctx, "ip:192.0.2.1", "/health"); err != nil || r.Outcome != ratelimit.OutcomeBanned {
			t.Errorf("replica %d: %v, %v; want banned", i, r.Outcome, err)
		}
		if bans, err := p.Bans(ctx); err != nil || len(bans) != 1 {
			t.Errorf("replica %d lists %+v, %v; want one ban", i, bans, err)
		}
	}
	if lifted, err := policies[1].Unban(ctx, "ip:192.0.2.1"); err != nil || !lifted {
		t.Fatalf("Unban on replica 1: %v, %v", lifted, err)
	}
	if r, _ := policies[0].Check(ctx, "ip:192.0.2.1", "/health"); r.Outcome == ratelimit.OutcomeBanned {
		t.Error("replica 0 still enforces a ban lifted on replica 1")
	}
}
