package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemorySweep(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 4})
	ctx := context.Background()
	rule := PerMinute(60, 1.2) // T = 1 s
	for i := range 1000 {
		if _, err := m.Allow(ctx, fmt.Sprint("k", i), rule, 1+i%2); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Len(); got != 1000 {
		t.Fatalf("Len = %d, want 1000", got)
	}
	clk.Advance(time.Second) // keys of cost 1 are full again, cost 2 not yet
	if got := m.Sweep(); got != 500 {
		t.Errorf("Sweep after 1 s removed %d, want 500", got)
	}
	clk.Advance(time.Second)
	if got := m.Sweep(); got != 500 {
		t.Errorf("Sweep after 2 s removed %d, want 500", got)
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len after sweeps = %d, want 0", got)
	}
	// A swept key behaves like a fresh one.
	if d, _ := m.Allow(ctx, "k1", rule, 0); d.Remaining != 72 {
		t.Errorf("swept key: Remaining %d, want 72", d.Remaining)
	}
}

func TestMemoryAutoSweep(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 1, SweepInterval: 10 * time.Second})
	ctx := context.Background()
	rule := PerMinute(60, 1) // each key full again 1 s after its request
	for i := range 100 {
		m.Allow(ctx, fmt.Sprint("a", i), rule, 1)
	}
	clk.Advance(5 * time.Second)
	m.Allow(ctx, "b", rule, 1) // sweep not yet due
	if got := m.Len(); got != 101 {
		t.Fatalf("Len before the sweep is due = %d, want 101", got)
	}
	clk.Advance(5 * time.Second)
	m.Allow(ctx, "c", rule, 1) // due: the expired keys go
	if got := m.Len(); got != 1 {
		t.Fatalf("Len after the sweep = %d, want 1", got)
	}
}

func TestMemoryMaxKeys(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		clk := newFakeClock()
		m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 4, MaxKeys: 40})
		for i := range 1000 {
			m.Allow(context.Background(), fmt.Sprint("k", i), PerMinute(1, 1), 1)
			if got := m.Len(); got > 40 {
				t.Fatalf("after %d keys: Len %d > MaxKeys 40", i+1, got)
			}
		}
		if got := m.Evictions(); got < 1000-40 {
			t.Errorf("Evictions = %d, want ≥ %d", got, 1000-40)
		}
	})
	t.Run("evicts the earliest TAT", func(t *testing.T) {
		clk := newFakeClock()
		m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 1, MaxKeys: 4}) // all sampled
		ctx := context.Background()
		rule := PerMinute(60, 10)
		for key, n := range map[string]int{"a": 3, "b": 1, "c": 2, "d": 4} {
			m.Allow(ctx, key, rule, n)
		}
		m.Allow(ctx, "e", rule, 1)
		for key, want := range map[string]int{"a": 597, "b": 600, "c": 598, "d": 596, "e": 599} {
			if d, _ := m.Allow(ctx, key, rule, 0); d.Remaining != want {
				t.Errorf("%s: Remaining %d, want %d", key, d.Remaining, want)
			}
		}
		if got := m.Evictions(); got != 1 {
			t.Errorf("Evictions = %d, want 1", got)
		}
	})
}

// TestMemoryConcurrent: many goroutines on one key at one instant admit
// exactly the bucket, through Allow and through AllowAll.
func TestMemoryConcurrent(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 2})
	ctx := context.Background()
	route, global := PerMinute(60, 1.2), PerMinute(300, 1.2) // buckets 72 and 360
	var single, pairRoute, pairOther atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				if d, err := m.Allow(ctx, "one", route, 1); err != nil {
					t.Error(err)
				} else if d.Allowed {
					single.Add(1)
				}
				// Two routes sharing a global bucket: 16×50 requests on each.
				for _, r := range []string{"r1", "r2"} {
					ds, err := m.AllowAll(ctx, []Check{{Key: "c\x00" + r, Rule: route, N: 1}, {Key: "c", Rule: global, N: 1}})
					if err != nil {
						t.Error(err)
					} else if ds[0].Allowed != ds[1].Allowed {
						t.Errorf("goroutine %d, request %d: split decision %+v", g, i, ds)
					} else if ds[0].Allowed && r == "r1" {
						pairRoute.Add(1)
					} else if ds[0].Allowed {
						pairOther.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := single.Load(); got != 72 {
		t.Errorf("single key admitted %d, want 72", got)
	}
	if got1, got2 := pairRoute.Load(), pairOther.Load(); got1 != 72 || got2 != 72 {
		t.Errorf("AllowAll admitted %d and %d, want 72 and 72", got1, got2)
	}
	if d, _ := m.Allow(ctx, "c", global, 0); d.Remaining != 360-144 {
		t.Errorf("global bucket Remaining %d, want %d", d.Remaining, 360-144)
	}
}

func TestAllowAllDuplicateKey(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Clock: clk.Now})
	ctx := context.Background()
	rule := Rule{Limit: 60, Period: time.Minute, Burst: 3}
	ds, err := m.AllowAll(ctx, []Check{{"k", rule, 2}, {"k", rule, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !ds[0].Allowed || !ds[1].Allowed || ds[1].Remaining != 0 {
		t.Fatalf("2+1 of a bucket of 3: got %+v, want both admitted, 0 remaining", ds)
	}
	clk.Advance(2 * time.Second)
	ds, _ = m.AllowAll(ctx, []Check{{"k", rule, 2}, {"k", rule, 1}})
	if ds[0].Allowed || ds[1].Allowed {
		t.Fatalf("2+1 with 2 free: got %+v, want refused", ds)
	}
	if d, _ := m.Allow(ctx, "k", rule, 0); d.Remaining != 2 {
		t.Errorf("after the refused pair: Remaining %d, want 2 (nothing counted)", d.Remaining)
	}
}

func TestDecisionSetHeaders(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want map[string]string
	}{
		{"allowed", Decision{Allowed: true, Limit: 120, Remaining: 119, Reset: 600 * time.Millisecond},
			map[string]string{"RateLimit-Limit": "120", "RateLimit-Remaining": "119", "RateLimit-Reset": "1"}},
		{"full", Decision{Allowed: true, Limit: 12, Remaining: 12},
			map[string]string{"RateLimit-Limit": "12", "RateLimit-Remaining": "12", "RateLimit-Reset": "0"}},
		{"refused", Decision{Limit: 6, Reset: 72 * time.Second, RetryAfter: 12*time.Second + 1},
			map[string]string{"RateLimit-Limit": "6", "RateLimit-Remaining": "0", "RateLimit-Reset": "72", "Retry-After": "13"}},
		{"refused, sub-second wait", Decision{Limit: 6, Reset: time.Second, RetryAfter: time.Nanosecond},
			map[string]string{"RateLimit-Limit": "6", "RateLimit-Remaining": "0", "RateLimit-Reset": "1", "Retry-After": "1"}},
		{"banned", Decision{RetryAfter: time.Hour},
			map[string]string{"Retry-After": "3600"}},
		{"no limit applied", Decision{Allowed: true}, map[string]string{}},
		{"disabled route", Decision{}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			tt.d.SetHeaders(h)
			if len(h) != len(tt.want) {
				t.Errorf("got headers %v, want %v", h, tt.want)
			}
			for k, want := range tt.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 0}, {0, 0}, {1, 1}, {time.Second, 1}, {time.Second + 1, 2},
		{59*time.Second + 999*time.Millisecond, 60}, {1<<63 - 1, 9223372037},
	}
	for _, tt := range tests {
		if got := CeilSeconds(tt.d); got != tt.want {
			t.Errorf("CeilSeconds(%d) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
