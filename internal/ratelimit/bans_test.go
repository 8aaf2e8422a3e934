package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// banConfig: a global bucket of 2 (T = 30 s), bans after more than 3
// violations within a minute, for 5 minutes.
func banConfig() config.RateLimiting {
	return config.RateLimiting{
		Enabled:                 true,
		GlobalRequestsPerMinute: 2,
		BurstMultiplier:         1,
		BanDurationMinutes:      5,
		BanAfterViolations:      3,
	}
}

// countingLimiter counts the calls that reach a Limiter.
type countingLimiter struct {
	Limiter
	calls atomic.Int64
}

func (c *countingLimiter) Allow(ctx context.Context, key string, rule Rule, n int) (Decision, error) {
	c.calls.Add(1)
	return c.Limiter.Allow(ctx, key, rule, n)
}

func (c *countingLimiter) AllowAll(ctx context.Context, checks []Check) ([]Decision, error) {
	c.calls.Add(1)
	return c.Limiter.AllowAll(ctx, checks)
}

// eventLog records ban events.
type eventLog struct {
	mu     sync.Mutex
	events []BanEvent
}

func (l *eventLog) add(e BanEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) get() []BanEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]BanEvent(nil), l.events...)
}

func TestBanAfterViolations(t *testing.T) {
	clk := newFakeClock()
	lim := &countingLimiter{Limiter: NewMemory(MemoryOptions{Clock: clk.Now})}
	var events eventLog
	p, err := NewPolicy(banConfig(), PolicyOptions{Clock: clk.Now, Limiter: lim, OnBan: events.add})
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "ip:198.51.100.7", "ip:198.51.100.8"
	want := []Outcome{OutcomeAllowed, OutcomeAllowed, OutcomeLimited, OutcomeLimited, OutcomeLimited, OutcomeBanned}
	var r Result
	for i, w := range want {
		r = check(t, p, a, "/scene")
		if r.Outcome != w {
			t.Fatalf("request %d: %v, want %v", i+1, r.Outcome, w)
		}
	}
	wantBan := Ban{Key: a, Reason: "more than 3 rate-limit violations within 1m0s", Since: t0, Until: t0.Add(5 * time.Minute), Violations: 4}
	if r.Ban != wantBan || r.Decision != (Decision{RetryAfter: 5 * time.Minute}) {
		t.Fatalf("the 4th violation: ban %+v decision %+v; want %+v, retry after 5m", r.Ban, r.Decision, wantBan)
	}
	if got := p.Violations(); got != 4 {
		t.Errorf("Violations = %d, want 4", got)
	}
	if ev := events.get(); len(ev) != 1 || ev[0] != (BanEvent{Kind: BanIssued, Ban: wantBan, At: t0}) {
		t.Errorf("events %+v, want one BanIssued", ev)
	}

	// Banned: refused without touching the limiter, with the time left.
	calls := lim.calls.Load()
	clk.Advance(time.Minute)
	for range 10 {
		r := check(t, p, a, "/status")
		if r.Outcome != OutcomeBanned || r.Decision.RetryAfter != 4*time.Minute {
			t.Fatalf("banned client: %v, retry %s; want banned, 4m left", r.Outcome, r.Decision.RetryAfter)
		}
	}
	if got := lim.calls.Load(); got != calls {
		t.Errorf("the limiter saw %d calls for a banned client, want 0", got-calls)
	}
	if got := p.Violations(); got != 4 {
		t.Errorf("Violations = %d after banned refusals, want still 4", got)
	}
	// Others are unaffected.
	if r := check(t, p, b, "/scene"); r.Outcome != OutcomeAllowed {
		t.Errorf("another client: %v, want allowed", r.Outcome)
	}
	bans, err := p.Bans(context.Background())
	if err != nil || len(bans) != 1 || bans[0] != wantBan {
		t.Errorf("Bans() = %+v, %v; want [%+v]", bans, err, wantBan)
	}

	// The ban ends by itself.
	clk.Set(5*time.Minute - 1)
	if r := check(t, p, a, "/scene"); r.Outcome != OutcomeBanned || r.Decision.RetryAfter != 1 {
		t.Errorf("1 ns before the end: %v, retry %s; want banned, 1ns", r.Outcome, r.Decision.RetryAfter)
	}
	clk.Set(5 * time.Minute)
	if r := check(t, p, a, "/scene"); r.Outcome != OutcomeAllowed {
		t.Errorf("at the end of the ban: %v, want allowed", r.Outcome)
	}
	if bans, _ := p.Bans(context.Background()); len(bans) != 0 {
		t.Errorf("Bans() after expiry = %+v, want none", bans)
	}
	if got := len(events.get()); got != 1 {
		t.Errorf("%d events, want 1 (expiry emits none)", got)
	}
	// Violations from before the ban were forgotten: the bucket (one left)
	// is used, then three violations are tolerated again.
	want = []Outcome{OutcomeAllowed, OutcomeLimited, OutcomeLimited, OutcomeLimited, OutcomeBanned}
	for i, w := range want {
		if r := check(t, p, a, "/scene"); r.Outcome != w {
			t.Fatalf("after the ban, request %d: %v, want %v", i+1, r.Outcome, w)
		}
	}
	if got := p.BansIssued(); got != 2 {
		t.Errorf("BansIssued = %d, want 2", got)
	}
}

// TestBanWindowSlides: violations are counted over the last minute, so
// three a minute never ban, and a fourth within any minute does.
func TestBanWindowSlides(t *testing.T) {
	cfg := banConfig()
	cfg.GlobalRequestsPerMinute = 1 // bucket 1, T = 60 s
	p, _, clk := newTestPolicy(t, cfg, PolicyOptions{})
	const c = "ip:203.0.113.9"
	steps := []struct {
		at   time.Duration
		want Outcome
	}{
		{0, OutcomeAllowed},
		{1 * time.Second, OutcomeLimited}, // violations: 1 s
		{2 * time.Second, OutcomeLimited}, // 1 s, 2 s
		{3 * time.Second, OutcomeLimited}, // 1 s, 2 s, 3 s
		{60 * time.Second, OutcomeAllowed},
		{61 * time.Second, OutcomeLimited},         // window (1 s, 61 s]: 2 s, 3 s, 61 s
		{62500 * time.Millisecond, OutcomeLimited}, // 3 s, 61 s, 62.5 s
		{63500 * time.Millisecond, OutcomeLimited}, // 61 s, 62.5 s, 63.5 s
		{64 * time.Second, OutcomeBanned},          // four within a minute
	}
	for _, s := range steps {
		clk.Set(s.at)
		if r := check(t, p, c, "/x"); r.Outcome != s.want {
			t.Fatalf("at %s: %v, want %v", s.at, r.Outcome, s.want)
		}
	}
}

func TestUnbanAndManualBan(t *testing.T) {
	var events eventLog
	p, _, clk := newTestPolicy(t, banConfig(), PolicyOptions{OnBan: events.add})
	ctx := context.Background()
	const a = "principal:mallory"
	for range 6 {
		check(t, p, a, "/x")
	}
	if r := check(t, p, a, "/x"); r.Outcome != OutcomeBanned {
		t.Fatalf("setup: %v, want banned", r.Outcome)
	}
	clk.Advance(time.Minute) // the bucket has refilled
	lifted, err := p.Unban(ctx, a)
	if err != nil || !lifted {
		t.Fatalf("Unban = %v, %v; want true", lifted, err)
	}
	if r := check(t, p, a, "/x"); r.Outcome != OutcomeAllowed {
		t.Errorf("after Unban: %v, want allowed", r.Outcome)
	}
	if lifted, _ := p.Unban(ctx, a); lifted {
		t.Error("a second Unban reported a lift")
	}
	if lifted, _ := p.Unban(ctx, "ip:192.0.2.99"); lifted {
		t.Error("Unban of a stranger reported a lift")
	}
	ev := events.get()
	if len(ev) != 2 || ev[1].Kind != BanLifted || ev[1].Ban.Key != a || !ev[1].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("events %+v, want issued then lifted", ev)
	}

	b, err := p.Ban(ctx, "ip:192.0.2.50", "abuse report", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := check(t, p, "ip:192.0.2.50", "/health"); r.Outcome != OutcomeBanned || r.Ban != b || r.Ban.Violations != 0 {
		t.Errorf("manually banned: %+v, want banned by %+v", r, b)
	}
	if _, err := p.Ban(ctx, "x", "", 0); err == nil {
		t.Error("Ban for 0 s: no error")
	}
	clk.Advance(time.Second)
	b2, _ := p.Ban(ctx, "ip:192.0.2.51", "second", time.Minute)
	bans, _ := p.Bans(ctx)
	if len(bans) != 2 || bans[0] != b || bans[1] != b2 {
		t.Errorf("Bans() = %+v, want [%+v %+v]", bans, b, b2)
	}
}

func TestBansOff(t *testing.T) {
	cfg := banConfig()
	cfg.BanDurationMinutes = 0
	p, _, _ := newTestPolicy(t, cfg, PolicyOptions{})
	for i := range 100 {
		r := check(t, p, "ip:192.0.2.1", "/x")
		if want := map[bool]Outcome{true: OutcomeAllowed, false: OutcomeLimited}[i < 2]; r.Outcome != want {
			t.Fatalf("request %d: %v, want %v", i+1, r.Outcome, want)
		}
	}
	if got := p.Violations(); got != 98 {
		t.Errorf("Violations = %d, want 98", got)
	}
}

// TestBanConcurrent: a client hammering from many goroutines earns exactly
// one ban.
func TestBanConcurrent(t *testing.T) {
	var events eventLog
	p, _, _ := newTestPolicy(t, banConfig(), PolicyOptions{OnBan: events.add})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := p.Check(context.Background(), "ip:192.0.2.1", "/x"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ev := events.get(); len(ev) != 1 {
		t.Errorf("%d ban events, want 1", len(ev))
	}
}

// failingStore is a BanStore whose calls fail.
type failingStore struct {
	BanStore
	failActive bool
}

var errStore = errors.New("store down")

func (f failingStore) Get(context.Context, string) (Ban, bool, error) {
	if f.failActive {
		return Ban{}, false, errStore
	}
	return Ban{}, false, nil
}

func (failingStore) AddViolation(context.Context, string, time.Time, BanRule) (Ban, bool, error) {
	return Ban{}, false, errStore
}

func TestStoreFailures(t *testing.T) {
	p, _, _ := newTestPolicy(t, banConfig(), PolicyOptions{Bans: failingStore{failActive: true}})
	r, err := p.Check(context.Background(), "ip:192.0.2.1", "/x")
	if !errors.Is(err, errStore) || r.Outcome != 0 {
		t.Errorf("failing ban lookup: %v, %v; want the store error and no outcome", r.Outcome, err)
	}
	p, _, _ = newTestPolicy(t, banConfig(), PolicyOptions{Bans: failingStore{}})
	for i := range 10 {
		r := check(t, p, "ip:192.0.2.1", "/x")
		if want := map[bool]Outcome{true: OutcomeAllowed, false: OutcomeLimited}[i < 2]; r.Outcome != want {
			t.Fatalf("request %d with violations unrecorded: %v, want %v", i+1, r.Outcome, want)
		}
	}
}

func TestMemoryBanStore(t *testing.T) {
	ctx := context.Background()
	rule := func(limit int) BanRule {
		return BanRule{Window: time.Minute, Limit: limit, Duration: time.Hour, Reason: "r"}
	}
	t.Run("violations slide", func(t *testing.T) {
		s := NewMemoryBanStore(MemoryBanStoreOptions{})
		steps := []struct {
			at      time.Duration
			created bool
		}{
			{0, false}, {10 * time.Second, false}, {20 * time.Second, false},
			{60 * time.Second, false}, // (0, 60 s]: 10 s, 20 s, 60 s
			{71 * time.Second, false}, // (11 s, 71 s]: 20 s, 60 s, 71 s
			{72 * time.Second, true},  // four within a minute
			{73 * time.Second, false}, // banned: returned, not recorded
		}
		for _, st := range steps {
			now := t0.Add(st.at)
			b, created, err := s.AddViolation(ctx, "k", now, rule(3))
			if err != nil || created != st.created {
				t.Fatalf("at %s: created %v, %v; want %v", st.at, created, err, st.created)
			}
			if banned := now.Before(b.Until); banned != (st.at >= 72*time.Second) {
				t.Fatalf("at %s: ban %+v", st.at, b)
			}
		}
		want := Ban{Key: "k", Reason: "r", Since: t0.Add(72 * time.Second), Until: t0.Add(72*time.Second + time.Hour), Violations: 4}
		if b, ok, _ := s.Get(ctx, "k"); !ok || b != want {
			t.Errorf("Get = %+v, %v; want %+v", b, ok, want)
		}
		if _, viol := s.Len(); viol != 0 {
			t.Errorf("%d violation logs after the ban, want 0", viol)
		}
	})
	t.Run("concurrent crossings earn one ban", func(t *testing.T) {
		s := NewMemoryBanStore(MemoryBanStoreOptions{})
		var created atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if _, c, _ := s.AddViolation(ctx, "k", t0, rule(3)); c {
						created.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := created.Load(); got != 1 {
			t.Errorf("%d bans created, want 1", got)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		s := NewMemoryBanStore(MemoryBanStoreOptions{})
		for i := range 10 {
			s.AddViolation(ctx, fmt.Sprint("v", i), t0, rule(5))
			s.Put(ctx, Ban{Key: fmt.Sprint("b", i), Since: t0, Until: t0.Add(time.Duration(i+1) * time.Minute)})
		}
		if bans, viol := s.Len(); bans != 10 || viol != 10 {
			t.Fatalf("Len = %d, %d; want 10, 10", bans, viol)
		}
		s.Sweep(t0.Add(5 * time.Minute))
		if bans, viol := s.Len(); bans != 5 || viol != 0 {
			t.Errorf("Len after sweep = %d, %d; want 5, 0", bans, viol)
		}
		if list, _ := s.List(ctx, t0.Add(5*time.Minute)); len(list) != 5 || list[0].Key != "b5" {
			t.Errorf("List = %+v, want b5..b9", list)
		}
		if _, ok, _ := s.Get(ctx, "b0"); ok {
			t.Error("a swept ban is still returned")
		}
	})
	t.Run("max violators", func(t *testing.T) {
		s := NewMemoryBanStore(MemoryBanStoreOptions{MaxViolators: 5})
		for i := range 100 {
			s.AddViolation(ctx, fmt.Sprint("v", i), t0.Add(time.Duration(i)), rule(5))
			if _, viol := s.Len(); viol > 5 {
				t.Fatalf("after %d keys: %d violators, want ≤ 5", i+1, viol)
			}
		}
	})
	t.Run("put and delete forget violations", func(t *testing.T) {
		s := NewMemoryBanStore(MemoryBanStoreOptions{})
		for range 2 {
			s.AddViolation(ctx, "k", t0, rule(2))
		}
		s.Put(ctx, Ban{Key: "k", Since: t0, Until: t0.Add(time.Minute)})
		if lifted, _ := s.Delete(ctx, "k", t0); !lifted {
			t.Fatal("Delete did not lift the ban")
		}
		for i := range 2 {
			if _, created, _ := s.AddViolation(ctx, "k", t0, rule(2)); created {
				t.Fatalf("violation %d after Put earned a ban: the old ones were kept", i+1)
			}
		}
	})
}
