package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// refGCRA is an independent reference: the ITU-T I.371 virtual scheduling
// algorithm over integer nanoseconds, one cell at a time. A request of
// cost n is n cells presented at the same instant, admitted only if all of
// them conform. Remaining is found by presenting more cells, RetryAfter
// by searching for the earliest conforming instant.
type refGCRA struct {
	t, tau int64
	burst  int
	tat    map[string]int64 // absent: never seen
}

func newRef(r Rule) *refGCRA {
	t := int64(r.Period) / int64(r.Limit)
	return &refGCRA{t: t, tau: int64(r.Burst-1) * t, burst: r.Burst, tat: map[string]int64{}}
}

// cells presents n cells at t to a state (tat, seen); it returns the new
// state and whether every cell conformed.
func (g *refGCRA) cells(tat int64, seen bool, t int64, n int) (int64, bool) {
	for range n {
		switch {
		case !seen || t > tat:
			tat = t // the cell arrives after its theoretical time
		case tat-t <= g.tau:
			// early, within the tolerance
		default:
			return 0, false
		}
		tat += g.t
		seen = true
	}
	return tat, true
}

// decide returns the decision the reference makes, and commits it.
func (g *refGCRA) decide(key string, t int64, n int) Decision {
	tat, seen := g.tat[key]
	next, ok := g.cells(tat, seen, t, n)
	if ok && n > 0 {
		g.tat[key] = next
		tat, seen = next, true
	}
	d := Decision{Allowed: ok, Limit: g.burst}
	// Remaining: how many single cells still conform at t.
	for s, sSeen := tat, seen; ; d.Remaining++ {
		var good bool
		if s, good = g.cells(s, sSeen, t, 1); !good {
			break
		}
		sSeen = true
	}
	if seen && tat > t {
		d.Reset = time.Duration(tat - t)
	}
	if !ok {
		// The earliest instant in (t, t + Burst·T] at which the n cells conform.
		lo, hi := t, t+int64(g.burst)*g.t
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if _, good := g.cells(tat, seen, mid, n); good {
				hi = mid
			} else {
				lo = mid
			}
		}
		d.RetryAfter = time.Duration(hi - t)
	}
	return d
}

func TestBurstFor(t *testing.T) {
	tests := []struct {
		limit int
		mult  float64
		want  int
	}{
		{60, 1.2, 72},
		{100, 1.2, 120},
		{300, 1.2, 360},
		{200, 1.2, 240},
		{5, 1.2, 6},
		{10, 1.2, 12},
		{7, 1.5, 10},
		{3, 1.1, 3},
		{10, 1, 10},
		{1, 1, 1},
		{1, 0.5, 1},
		{0, 1.2, 1},
		{6000, 2, 12000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d×%g", tt.limit, tt.mult), func(t *testing.T) {
			if got := BurstFor(tt.limit, tt.mult); got != tt.want {
				t.Errorf("BurstFor(%d, %g) = %d, want %d", tt.limit, tt.mult, got, tt.want)
			}
		})
	}
}

func TestRuleIntervals(t *testing.T) {
	tests := []struct {
		rule          Rule
		interval, tau time.Duration
		wantString    string
	}{
		{PerMinute(60, 1.2), time.Second, 71 * time.Second, "60/1m0s burst 72"},
		{PerMinute(100, 1.2), 600 * time.Millisecond, 119 * 600 * time.Millisecond, "100/1m0s burst 120"},
		{PerMinute(7, 1), 8571428571, 6 * 8571428571, "7/1m0s burst 7"}, // rounded down to whole ns
		{Rule{Limit: 0, Period: time.Minute, Burst: 1}, 0, 0, "0/1m0s burst 1"},
	}
	for _, tt := range tests {
		if got := tt.rule.Interval(); got != tt.interval {
			t.Errorf("%s: Interval %s, want %s", tt.rule, got, tt.interval)
		}
		if got := tt.rule.Tolerance(); got != tt.tau {
			t.Errorf("%s: Tolerance %s, want %s", tt.rule, got, tt.tau)
		}
		if got := tt.rule.String(); got != tt.wantString {
			t.Errorf("String = %q, want %q", got, tt.wantString)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		ok   bool
	}{
		{"per minute", PerMinute(60, 1.2), true},
		{"zero", Rule{}, false},
		{"zero limit", Rule{Limit: 0, Period: time.Minute, Burst: 1}, false},
		{"zero period", Rule{Limit: 1, Period: 0, Burst: 1}, false},
		{"zero burst", Rule{Limit: 1, Period: time.Minute}, false},
		{"sub-nanosecond interval", Rule{Limit: 2, Period: 1, Burst: 1}, false},
		{"overflowing span", Rule{Limit: 1, Period: time.Hour * 1000, Burst: 1 << 30}, false},
		{"one per nanosecond", Rule{Limit: 1, Period: 1, Burst: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rule.Validate()
			if got := err == nil; got != tt.ok {
				t.Fatalf("Validate(%v) = %v, want ok %v", tt.rule, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidRule) {
				t.Errorf("error %v is not ErrInvalidRule", err)
			}
		})
	}
}

func TestAllowErrors(t *testing.T) {
	m := NewMemory(MemoryOptions{Clock: newFakeClock().Now})
	ctx := context.Background()
	tests := []struct {
		name string
		rule Rule
		n    int
		want error
	}{
		{"invalid rule", Rule{Limit: 1}, 1, ErrInvalidRule},
		{"negative cost", PerMinute(10, 1), -1, ErrInvalidCost},
		{"cost above burst", PerMinute(10, 1), 11, ErrCostExceedsBurst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Allow(ctx, "k", tt.rule, tt.n); !errors.Is(err, tt.want) {
				t.Errorf("Allow error = %v, want %v", err, tt.want)
			}
			if _, err := m.AllowAll(ctx, []Check{{"a", PerMinute(10, 1), 1}, {"k", tt.rule, tt.n}}); !errors.Is(err, tt.want) {
				t.Errorf("AllowAll error = %v, want %v", err, tt.want)
			}
		})
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len after refused calls = %d, want 0", got)
	}
}

// TestSteadyTraffic: 60/min with burst 1.2 admits 72 requests at once,
// refuses the 73rd, then admits exactly one more per second.
func TestSteadyTraffic(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Clock: clk.Now})
	ctx := context.Background()
	rule := PerMinute(60, 1.2)
	allow := func() Decision {
		t.Helper()
		d, err := m.Allow(ctx, "client", rule, 1)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := 1; i <= 72; i++ {
		got := allow()
		want := Decision{Allowed: true, Limit: 72, Remaining: 72 - i, Reset: time.Duration(i) * time.Second}
		if got != want {
			t.Fatalf("request %d: got %+v, want %+v", i, got, want)
		}
	}
	got := allow()
	want := Decision{Allowed: false, Limit: 72, Remaining: 0, Reset: 72 * time.Second, RetryAfter: time.Second}
	if got != want {
		t.Fatalf("request 73: got %+v, want %+v", got, want)
	}
	for sec := 1; sec <= 30; sec++ {
		clk.Advance(500 * time.Millisecond)
		if got := allow(); got.Allowed || got.RetryAfter != 500*time.Millisecond {
			t.Fatalf("second %d-½: got %+v, want refused with RetryAfter 500ms", sec, got)
		}
		clk.Advance(500 * time.Millisecond)
		got := allow()
		want := Decision{Allowed: true, Limit: 72, Remaining: 0, Reset: 72 * time.Second}
		if got != want {
			t.Fatalf("second %d: got %+v, want %+v", sec, got, want)
		}
		if got := allow(); got.Allowed || got.RetryAfter != time.Second {
			t.Fatalf("second %d, second request: got %+v, want refused with RetryAfter 1s", sec, got)
		}
	}
	// After a quiet spell the bucket refills at one per second.
	clk.Advance(10 * time.Second)
	d, err := m.Allow(ctx, "client", rule, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Decision{Allowed: true, Limit: 72, Remaining: 10, Reset: 62 * time.Second}); d != want {
		t.Errorf("peek after 10 s: got %+v, want %+v", d, want)
	}
	clk.Advance(time.Hour)
	if d, _ := m.Allow(ctx, "client", rule, 0); d.Remaining != 72 || d.Reset != 0 {
		t.Errorf("peek after an hour: got %+v, want a full bucket", d)
	}
}

// TestDecisionValues checks exact Remaining, Reset and RetryAfter values
// after a scripted sequence.
func TestDecisionValues(t *testing.T) {
	rule := Rule{Limit: 10, Period: 10 * time.Second, Burst: 3} // T = 1 s, τ = 2 s
	type step struct {
		at   time.Duration // since t0
		n    int
		want Decision
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh key", []step{
			{0, 1, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: time.Second}},
		}},
		{"burst then refuse", []step{
			{0, 3, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
			{0, 1, Decision{Allowed: false, Limit: 3, Remaining: 0, Reset: 3 * time.Second, RetryAfter: time.Second}},
			{250 * time.Millisecond, 1, Decision{Allowed: false, Limit: 3, Remaining: 0, Reset: 2750 * time.Millisecond, RetryAfter: 750 * time.Millisecond}},
			{time.Second, 1, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
		}},
		{"cost 2 waits for two cells", []step{
			{0, 2, Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 2 * time.Second}},
			{0, 2, Decision{Allowed: false, Limit: 3, Remaining: 1, Reset: 2 * time.Second, RetryAfter: time.Second}},
			{1500 * time.Millisecond, 2, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 2500 * time.Millisecond}},
		}},
		{"partial refill", []step{
			{0, 3, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
			{2500 * time.Millisecond, 0, Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 500 * time.Millisecond}},
			{3 * time.Second, 0, Decision{Allowed: true, Limit: 3, Remaining: 3, Reset: 0}},
		}},
		{"clock going back", []step{
			{3 * time.Second, 3, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3 * time.Second}},
			{0, 0, Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 6 * time.Second}},
			{0, 1, Decision{Allowed: false, Limit: 3, Remaining: 0, Reset: 6 * time.Second, RetryAfter: 4 * time.Second}},
		}},
		{"peek on a fresh key", []step{
			{0, 0, Decision{Allowed: true, Limit: 3, Remaining: 3, Reset: 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			m := NewMemory(MemoryOptions{Clock: clk.Now})
			for i, s := range tt.steps {
				clk.Set(s.at)
				got, err := m.Allow(context.Background(), "k", rule, s.n)
				if err != nil {
					t.Fatal(err)
				}
				if got != s.want {
					t.Errorf("step %d (t=%s, n=%d): got %+v, want %+v", i, s.at, s.n, got, s.want)
				}
			}
		})
	}
}

// randomRule returns a rule with an interval that is not always a whole
// number of nanoseconds' divisor of the period.
func randomRule(rng *rand.Rand) Rule {
	periods := []time.Duration{time.Second, time.Minute, 7*time.Second + 123, time.Hour}
	r := Rule{
		Limit:  1 + rng.IntN(500),
		Period: periods[rng.IntN(len(periods))],
		Burst:  1 + rng.IntN(40),
	}
	if rng.IntN(3) == 0 {
		r = PerMinute(r.Limit, 1+rng.Float64()*2)
	}
	return r
}

// randomGap returns an inter-arrival time: bursts, exact boundaries,
// jitter around the interval, and long pauses.
func randomGap(rng *rand.Rand, r Rule) time.Duration {
	t := r.Interval()
	switch rng.IntN(7) {
	case 0, 1:
		return 0
	case 5: // whole intervals give or take a nanosecond: the boundaries
		return max(0, time.Duration(rng.IntN(3))*t+time.Duration(rng.IntN(3)-1))
	case 2:
		return time.Duration(rng.Int64N(int64(t) + 1))
	case 3:
		return t/2 + time.Duration(rng.Int64N(int64(t)+1))
	case 4:
		return time.Duration(rng.Int64N(int64(r.Burst)*int64(t) + 1))
	}
	return time.Duration(rng.Int64N(3*int64(r.Burst)*int64(t) + 1))
}

func randomCost(rng *rand.Rand, r Rule) int {
	if rng.IntN(4) != 0 {
		return 1
	}
	return rng.IntN(min(r.Burst, 4) + 1) // 0 (a peek) to 4
}

// TestAllowMatchesReference: on random arrival sequences over several
// keys, every decision of Memory equals the reference's.
func TestAllowMatchesReference(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	for round := range rounds {
		seed := uint64(round)
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		rule := randomRule(rng)
		clk := newFakeClock()
		m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 1 + rng.IntN(8)})
		ref := newRef(rule)
		var at time.Duration
		for step := range 400 {
			at += randomGap(rng, rule)
			clk.Set(at)
			key := fmt.Sprintf("k%d", rng.IntN(3))
			n := randomCost(rng, rule)
			got, err := m.Allow(context.Background(), key, rule, n)
			if err != nil {
				t.Fatal(err)
			}
			want := ref.decide(key, int64(at), n)
			if got != want {
				t.Fatalf("seed %d, rule %s, step %d (t=%s, key %s, n=%d): got %+v, want %+v",
					seed, rule, step, at, key, n, got, want)
			}
		}
	}
}

// TestAllowAllMatchesReference: AllowAll over two keys with two rules
// admits a request iff both references admit it, and counts it in both
// or neither.
func TestAllowAllMatchesReference(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		seed := uint64(round)
		rng := rand.New(rand.NewPCG(seed, 0xa11))
		rules := [2]Rule{randomRule(rng), randomRule(rng)}
		refs := [2]*refGCRA{newRef(rules[0]), newRef(rules[1])}
		clk := newFakeClock()
		m := NewMemory(MemoryOptions{Clock: clk.Now})
		var at time.Duration
		for step := range 300 {
			at += randomGap(rng, rules[rng.IntN(2)])
			clk.Set(at)
			client := fmt.Sprintf("c%d", rng.IntN(2))
			keys := [2]string{client + "/route", client}
			got, err := m.AllowAll(context.Background(), []Check{
				{Key: keys[0], Rule: rules[0], N: 1},
				{Key: keys[1], Rule: rules[1], N: 1},
			})
			if err != nil {
				t.Fatal(err)
			}
			// The reference: try both on copies, commit both only if both admit.
			var want [2]Decision
			saved := [2]int64{}
			had := [2]bool{}
			for i, r := range refs {
				saved[i], had[i] = r.tat[keys[i]]
				want[i] = r.decide(keys[i], int64(at), 1)
			}
			if !want[0].Allowed || !want[1].Allowed {
				for i, r := range refs {
					if had[i] {
						r.tat[keys[i]] = saved[i]
					} else {
						delete(r.tat, keys[i])
					}
					if want[i].Allowed { // report the uncounted state
						want[i] = r.decide(keys[i], int64(at), 0)
						want[i].Allowed = false
					}
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("seed %d, step %d (t=%s, %s): check %d (%s): got %+v, want %+v",
						seed, step, at, client, i, rules[i], got[i], want[i])
				}
			}
		}
	}
}

// FuzzAllow drives Memory and the reference with arrival sequences read
// from the fuzz input.
func FuzzAllow(f *testing.F) {
	f.Add(uint16(60), uint8(72), []byte{0, 0, 0, 10, 200, 3, 0, 0})
	f.Add(uint16(1), uint8(1), []byte{255, 255, 1})
	f.Fuzz(func(t *testing.T, limit uint16, burst uint8, seq []byte) {
		rule := Rule{Limit: 1 + int(limit%1000), Period: time.Minute, Burst: 1 + int(burst%64)}
		clk := newFakeClock()
		m := NewMemory(MemoryOptions{Clock: clk.Now, Shards: 2})
		ref := newRef(rule)
		var at time.Duration
		for i := 0; i+1 < len(seq); i += 2 {
			// Gaps in 1/64ths of the interval, so values around T are common.
			at += time.Duration(seq[i]) * rule.Interval() / 64
			clk.Set(at)
			key := fmt.Sprint(seq[i+1] & 1)
			n := min(int(seq[i+1]>>1)%4, rule.Burst)
			got, err := m.Allow(context.Background(), key, rule, n)
			if err != nil {
				t.Fatal(err)
			}
			if want := ref.decide(key, int64(at), n); got != want {
				t.Fatalf("step %d (t=%s, key %s, n=%d): got %+v, want %+v", i/2, at, key, n, got, want)
			}
		}
	})
}
