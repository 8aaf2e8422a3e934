package redislimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return frozen().Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// flaky is a primary that fails while down is set, and otherwise admits
// everything with Remaining 999 (so its decisions are recognisable).
type flaky struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flaky) Allow(ctx context.Context, key string, rule ratelimit.Rule, n int) (ratelimit.Decision, error) {
	ds, err := f.AllowAll(ctx, []ratelimit.Check{{Key: key, Rule: rule, N: n}})
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return ds[0], nil
}

func (f *flaky) AllowAll(_ context.Context, checks []ratelimit.Check) ([]ratelimit.Decision, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	for _, c := range checks {
		if err := c.Rule.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]ratelimit.Decision, len(checks))
	for i, c := range checks {
		out[i] = ratelimit.Decision{Allowed: true, Limit: c.Rule.Burst, Remaining: 999}
	}
	return out, nil
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// changes records OnChange calls.
type changes struct {
	mu sync.Mutex
	v  []bool
}

func (c *changes) add(d bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = append(c.v, d)
}

func (c *changes) get() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.v...)
}

func TestFallbackTransitions(t *testing.T) {
	clk := &fakeClock{}
	primary := &flaky{}
	local := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clk.Now})
	var logs syncBuffer
	var ch changes
	f := NewFallback(primary, local, FallbackOptions{
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnChange: ch.add,
		Clock:    clk.Now,
	})
	ctx := context.Background()
	rule := ratelimit.Rule{Limit: 3, Period: time.Minute, Burst: 3}
	allow := func() ratelimit.Decision {
		t.Helper()
		d, err := f.Allow(ctx, "k", rule, 1)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if d := allow(); d.Remaining != 999 || f.Degraded() {
		t.Fatalf("healthy: %+v, degraded %v; want the primary's decision", d, f.Degraded())
	}
	primary.down.Store(true)
	// Concurrent failures degrade once.
	var wg sync.WaitGroup
	var admitted atomic.Int64
	for range 8 {
		wg.Go(func() {
			d, err := f.Allow(ctx, "k", rule, 1)
			if err != nil {
				t.Error(err)
			}
			if d.Allowed {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if !f.Degraded() {
		t.Fatal("not degraded after failures")
	}
	if got := admitted.Load(); got != 3 {
		t.Errorf("local limiter admitted %d of 8, want its bucket of 3", got)
	}
	calls := primary.calls.Load()
	for range 10 { // within the probe interval: the primary is left alone
		if d := allow(); d.Allowed || d.Remaining == 999 {
			t.Fatalf("degraded: %+v, want the local refusal", d)
		}
	}
	if got := primary.calls.Load(); got != calls {
		t.Errorf("the primary saw %d calls within the probe interval, want 0", got-calls)
	}
	clk.Advance(time.Second) // one probe, failing: still degraded, no new log
	allow()
	allow()
	if got := primary.calls.Load(); got != calls+1 {
		t.Errorf("the primary saw %d calls after a second, want 1 probe", got-calls)
	}
	if !f.Degraded() {
		t.Error("recovered after a failed probe")
	}
	// Errors of the call itself are returned, not a reason to degrade.
	if _, err := f.Allow(ctx, "k", ratelimit.Rule{}, 1); !errors.Is(err, ratelimit.ErrInvalidRule) {
		t.Errorf("invalid rule while degraded: %v", err)
	}

	primary.down.Store(false)
	if d := allow(); d.Remaining == 999 {
		t.Errorf("before the next probe: %+v came from the primary", d)
	}
	clk.Advance(time.Second)
	if d := allow(); d.Remaining != 999 || f.Degraded() {
		t.Errorf("after recovery: %+v, degraded %v; want the primary's decision", d, f.Degraded())
	}
	ds, err := f.AllowAll(ctx, []ratelimit.Check{{Key: "a", Rule: rule, N: 1}})
	if err != nil || ds[0].Remaining != 999 {
		t.Errorf("AllowAll after recovery: %+v, %v", ds, err)
	}

	lines := logs.lines()
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "degraded") ||
		!strings.Contains(lines[1], "level=INFO") || !strings.Contains(lines[1], "recovered") {
		t.Errorf("log:\n%s\nwant one WARN degraded and one INFO recovered", strings.Join(lines, "\n"))
	}
	if got := ch.get(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("OnChange calls %v, want [true false]", got)
	}
	if got := f.Transitions(); got != 2 {
		t.Errorf("Transitions = %d, want 2", got)
	}
	if got := f.LocalDecisions(); got == 0 {
		t.Error("LocalDecisions = 0")
	}
}

func TestFallbackPassesCallErrors(t *testing.T) {
	primary := &flaky{}
	primary.down.Store(true)
	f := NewFallback(primary, ratelimit.NewMemory(ratelimit.MemoryOptions{}), FallbackOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Allow(ctx, "k", ratelimit.PerMinute(1, 1), 1); !errors.Is(err, errDown) {
		t.Errorf("cancelled caller: %v, want the primary's error", err)
	}
	if f.Degraded() {
		t.Error("a cancelled caller degraded the limiter")
	}
}

// swappable is a primary whose limiter a test replaces.
type swappable struct{ p atomic.Pointer[Limiter] }

func (s *swappable) Allow(ctx context.Context, key string, rule ratelimit.Rule, n int) (ratelimit.Decision, error) {
	return s.p.Load().Allow(ctx, key, rule, n)
}

func (s *swappable) AllowAll(ctx context.Context, checks []ratelimit.Check) ([]ratelimit.Decision, error) {
	return s.p.Load().AllowAll(ctx, checks)
}

// TestFallbackRealRedis: a Redis limiter whose server refuses connections
// falls back to the local limiter, then recovers on a working server.
func TestFallbackRealRedis(t *testing.T) {
	prefix, clients := redisEnv(t, 1)
	dead := redis.NewClient(ClientOptions(config.Cache{Host: "127.0.0.1", Port: 1, DialTimeoutSeconds: 1}))
	t.Cleanup(func() { dead.Close() })
	var primary swappable
	primary.p.Store(New(dead, Options{Prefix: prefix}))
	clk := &fakeClock{}
	var logs syncBuffer
	f := NewFallback(&primary, ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clk.Now}), FallbackOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Clock:  clk.Now,
	})
	ctx := context.Background()
	rule := ratelimit.Rule{Limit: 2, Period: time.Minute, Burst: 2}
	var got []bool
	for range 3 {
		d, err := f.Allow(ctx, "k", rule, 1)
		if err != nil {
			t.Fatalf("with Redis down: %v", err)
		}
		got = append(got, d.Allowed)
	}
	if want := []bool{true, true, false}; !slices.Equal(got, want) || !f.Degraded() {
		t.Errorf("with Redis down: admitted %v, degraded %v; want %v from the local bucket, degraded", got, f.Degraded(), want)
	}
	if lines := logs.lines(); len(lines) != 1 || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("log %q, want one line naming the failure", lines)
	}

	primary.p.Store(New(clients[0], Options{Prefix: prefix}))
	clk.Advance(time.Second)
	d, err := f.Allow(ctx, "k", rule, 1)
	if err != nil || !d.Allowed || f.Degraded() {
		t.Fatalf("after recovery: %+v, %v, degraded %v; want admitted by Redis", d, err, f.Degraded())
	}
	if n, _ := clients[0].Exists(ctx, prefix+"rl:k").Result(); n != 1 {
		t.Error("the decision after recovery did not reach Redis")
	}
	if lines := logs.lines(); len(lines) != 2 || !strings.Contains(lines[1], "recovered") {
		t.Errorf("log %q, want degraded then recovered", lines)
	}
}

func TestClientOptions(t *testing.T) {
	c := config.Cache{Host: "redis.internal", Port: 6380, DB: 2, Password: config.NewSecret("pw"), PoolSize: 7, DialTimeoutSeconds: 2}
	got := ClientOptions(c)
	if got.Addr != "redis.internal:6380" || got.DB != 2 || got.Password != "pw" || got.PoolSize != 7 ||
		got.DialTimeout != 2*time.Second || got.DialerRetries != 1 || !got.ContextTimeoutEnabled {
		t.Errorf("ClientOptions = %+v", got)
	}
}

// TestPolicyWithRedisDown: a Policy on a Fallback limiter and its ban
// store keeps deciding (from memory) when Redis refuses connections,
// including the ban lookup and violations, with one log line.
func TestPolicyWithRedisDown(t *testing.T) {
	dead := redis.NewClient(ClientOptions(config.Cache{Host: "127.0.0.1", Port: 1, DialTimeoutSeconds: 1}))
	t.Cleanup(func() { dead.Close() })
	var logs syncBuffer
	f := NewFallback(New(dead, Options{}), ratelimit.NewMemory(ratelimit.MemoryOptions{}), FallbackOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	p, err := ratelimit.NewPolicy(config.RateLimiting{
		Enabled: true, GlobalRequestsPerMinute: 2, BurstMultiplier: 1, BanDurationMinutes: 5, BanAfterViolations: 2,
	}, ratelimit.PolicyOptions{
		Limiter: f,
		Bans:    f.BanStore(NewBanStore(dead, Options{}), ratelimit.NewMemoryBanStore(ratelimit.MemoryBanStoreOptions{})),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ratelimit.Outcome{
		ratelimit.OutcomeAllowed, ratelimit.OutcomeAllowed,
		ratelimit.OutcomeLimited, ratelimit.OutcomeLimited, ratelimit.OutcomeBanned, ratelimit.OutcomeBanned,
	}
	for i, w := range want {
		r, err := p.Check(context.Background(), "ip:192.0.2.1", "/x")
		if err != nil || r.Outcome != w {
			t.Fatalf("request %d: %v, %v; want %v", i+1, r.Outcome, err, w)
		}
	}
	if !f.Degraded() {
		t.Error("not degraded")
	}
	if lines := logs.lines(); len(lines) != 1 {
		t.Errorf("log %q, want one line", lines)
	}
}

// failingBans is a BanStore that is down.
type failingBans struct{ ratelimit.BanStore }

func (failingBans) Get(context.Context, string) (ratelimit.Ban, bool, error) {
	return ratelimit.Ban{}, false, errDown
}

func TestFallbackBanStoreSharesState(t *testing.T) {
	clk := &fakeClock{}
	primary := &flaky{}
	f := NewFallback(primary, ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: clk.Now}), FallbackOptions{Clock: clk.Now})
	local := ratelimit.NewMemoryBanStore(ratelimit.MemoryBanStoreOptions{})
	bans := f.BanStore(failingBans{}, local)
	ctx := context.Background()
	if _, ok, err := bans.Get(ctx, "k"); err != nil || ok {
		t.Fatalf("Get with the primary down: %v, %v; want the local answer", ok, err)
	}
	if !f.Degraded() {
		t.Fatal("a ban-store failure did not degrade the Fallback")
	}
	// The limiter follows the shared state: the healthy primary is not
	// asked until the next probe.
	if d, _ := f.Allow(ctx, "k", ratelimit.PerMinute(5, 1), 1); d.Remaining == 999 {
		t.Errorf("decision %+v came from the primary while degraded", d)
	}
	clk.Advance(time.Second)
	if d, _ := f.Allow(ctx, "k", ratelimit.PerMinute(5, 1), 1); d.Remaining != 999 || f.Degraded() {
		t.Errorf("after the probe: %+v, degraded %v; want recovered", d, f.Degraded())
	}
}
