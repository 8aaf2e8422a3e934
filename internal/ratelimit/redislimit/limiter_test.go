package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// frozen is a clock that never moves: Memory sees a burst as one instant.
func frozen() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) }

// step is one call: Allow when len(checks) is 1 and single is set, else
// AllowAll.
type step struct {
	checks []ratelimit.Check
	single bool
}

func allow(key string, r ratelimit.Rule, n int) step {
	return step{checks: []ratelimit.Check{{Key: key, Rule: r, N: n}}, single: true}
}

func allowAll(checks ...ratelimit.Check) step { return step{checks: checks} }

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func do(ctx context.Context, l ratelimit.Limiter, s step) ([]ratelimit.Decision, error) {
	if s.single {
		c := s.checks[0]
		d, err := l.Allow(ctx, c.Key, c.Rule, c.N)
		return []ratelimit.Decision{d}, err
	}
	return l.AllowAll(ctx, s.checks)
}

// sameDecision compares a Redis decision with Memory's for the same
// request: Allowed, Limit and Remaining exactly; Reset and RetryAfter may
// be smaller by at most the time the Redis clock moved during the
// sequence (Memory's clock is frozen), and are zero exactly when Memory's
// are.
func sameDecision(got, want ratelimit.Decision, elapsed time.Duration) bool {
	near := func(g, w time.Duration) bool {
		if w == 0 || g == 0 {
			return g == w
		}
		return g <= w && w-g <= elapsed
	}
	return got.Allowed == want.Allowed && got.Limit == want.Limit && got.Remaining == want.Remaining &&
		near(got.Reset, want.Reset) && near(got.RetryAfter, want.RetryAfter)
}

// TestMatchesMemory drives Memory (frozen clock) and the Redis limiter
// with the same request sequences, fast enough that Redis time barely
// moves, and compares every decision and the admitted counts.
func TestMatchesMemory(t *testing.T) {
	per60 := ratelimit.PerMinute(60, 1.2)                                  // T = 1 s, bucket 72
	small := ratelimit.Rule{Limit: 10, Period: 10 * time.Second, Burst: 3} // T = 1 s
	odd := ratelimit.PerMinute(7, 1)                                       // T = 8571428571 ns
	route := ratelimit.PerMinute(100, 1.2)                                 // bucket 120
	tests := []struct {
		name         string
		steps        []step
		wantAdmitted int
	}{
		{"burst of 200 against 60/min×1.2", repeat(200, allow("c", per60, 1)), 72},
		{"cost 2 then 1", append(repeat(2, allow("c", small, 2)), allow("c", small, 1)), 2},
		{"peeks count nothing", []step{
			allow("c", small, 0), allow("c", small, 3), allow("c", small, 0), allow("c", small, 1), allow("c", small, 0),
		}, 1},
		{"odd interval keeps nanoseconds", repeat(10, allow("c", odd, 1)), 7},
		{"keys are independent", []step{
			allow("a", small, 3), allow("b", small, 3), allow("a", small, 1), allow("b", small, 1),
		}, 2},
		{"rule change applies to the existing state", []step{
			allow("c", small, 3), allow("c", per60, 1), allow("c", small, 1),
		}, 2},
		{"all or none", append(repeat(5, allowAll(
			ratelimit.Check{Key: "c\x00/scene", Rule: small, N: 1},
			ratelimit.Check{Key: "c", Rule: route, N: 1},
		)), allow("c", route, 0)), 3},
		{"global bucket binds across routes", append(
			repeat(4, allowAll(ratelimit.Check{Key: "c\x00/a", Rule: small, N: 1}, ratelimit.Check{Key: "c", Rule: ratelimit.Rule{Limit: 5, Period: 5 * time.Second, Burst: 5}, N: 1})),
			repeat(4, allowAll(ratelimit.Check{Key: "c\x00/b", Rule: small, N: 1}, ratelimit.Check{Key: "c", Rule: ratelimit.Rule{Limit: 5, Period: 5 * time.Second, Burst: 5}, N: 1}))...,
		), 5},
		{"a key named twice", repeat(3, allowAll(
			ratelimit.Check{Key: "c", Rule: small, N: 1},
			ratelimit.Check{Key: "c", Rule: small, N: 1},
		)), 1},
		{"a peek next to a refusal", repeat(3, allowAll(
			ratelimit.Check{Key: "c", Rule: small, N: 2},
			ratelimit.Check{Key: "d", Rule: small, N: 0},
		)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix, clients := redisEnv(t, 1)
			ctx := context.Background()
			rl := New(clients[0], Options{Prefix: prefix})
			mem := ratelimit.NewMemory(ratelimit.MemoryOptions{Clock: frozen})
			start := time.Now()
			var gotAdmitted, wantAdmitted int
			for i, s := range tt.steps {
				got, err := do(ctx, rl, s)
				if err != nil {
					t.Fatalf("step %d: redis: %v", i, err)
				}
				want, err := do(ctx, mem, s)
				if err != nil {
					t.Fatalf("step %d: memory: %v", i, err)
				}
				elapsed := time.Since(start)
				for j := range want {
					if !sameDecision(got[j], want[j], elapsed) {
						t.Errorf("step %d check %d (%+v): redis %+v, memory %+v (elapsed %s)", i, j, s.checks[j], got[j], want[j], elapsed)
					}
				}
				if got[0].Allowed && s.checks[0].N > 0 {
					gotAdmitted++
				}
				if want[0].Allowed && s.checks[0].N > 0 {
					wantAdmitted++
				}
			}
			if gotAdmitted != tt.wantAdmitted || wantAdmitted != tt.wantAdmitted {
				t.Errorf("admitted: redis %d, memory %d; want %d", gotAdmitted, wantAdmitted, tt.wantAdmitted)
			}
		})
	}
}

// redisNow returns the Redis server's time in ns since the Unix epoch.
func redisNow(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixNano()
}

// TestStoredState checks the bucket's representation: the TAT in integer
// nanoseconds since the epoch and a TTL of the time to a full bucket.
func TestStoredState(t *testing.T) {
	prefix, clients := redisEnv(t, 1)
	c := clients[0]
	ctx := context.Background()
	rl := New(c, Options{Prefix: prefix})
	rule := ratelimit.PerMinute(7, 1) // T = 8571428571 ns
	before := redisNow(t, c)
	if _, err := rl.Allow(ctx, "k", rule, 3); err != nil {
		t.Fatal(err)
	}
	after := redisNow(t, c)
	s, err := c.Get(ctx, rl.Key("k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	tat, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("stored TAT %q: %v", s, err)
	}
	span := 3 * int64(rule.Interval())
	if tat < before/1000*1000+span || tat > after+span {
		t.Errorf("stored TAT %d, want now+%d with now in [%d, %d]", tat, span, before, after)
	}
	if tat%1000 != span%1000 {
		t.Errorf("stored TAT %d lost its nanoseconds: want …%03d", tat, span%1000)
	}
	ttl, err := c.PTTL(ctx, rl.Key("k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if wantMax := time.Duration(span).Round(time.Millisecond) + time.Millisecond; ttl <= 0 || ttl > wantMax || ttl < wantMax-time.Second {
		t.Errorf("PTTL %s, want about %s", ttl, time.Duration(span))
	}
	// A TAT far in the future (the server's clock went back): nothing is
	// admitted, Remaining is 0, and the wait runs to TAT − span.
	if err := c.Set(ctx, rl.Key("k"), strconv.FormatInt(redisNow(t, c)+10*span, 10), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := rl.Allow(ctx, "k", rule, 1)
	if err != nil {
		t.Fatal(err)
	}
	full := time.Duration(7 * int64(rule.Interval()))
	if d.Allowed || d.Remaining != 0 || d.RetryAfter < time.Duration(10*span)+rule.Interval()-full-time.Second {
		t.Errorf("after a clock jump: %+v", d)
	}
}

func TestAllowErrors(t *testing.T) {
	prefix, clients := redisEnv(t, 1)
	ctx := context.Background()
	rl := New(clients[0], Options{Prefix: prefix})
	tests := []struct {
		name string
		rule ratelimit.Rule
		n    int
		want error
	}{
		{"invalid rule", ratelimit.Rule{Limit: 1}, 1, ratelimit.ErrInvalidRule},
		{"negative cost", ratelimit.PerMinute(10, 1), -1, ratelimit.ErrInvalidCost},
		{"cost above burst", ratelimit.PerMinute(10, 1), 11, ratelimit.ErrCostExceedsBurst},
		{"bucket beyond MaxSpan", ratelimit.Rule{Limit: 1, Period: 24 * time.Hour, Burst: 60}, 1, ratelimit.ErrInvalidRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rl.Allow(ctx, "k", tt.rule, tt.n); !errors.Is(err, tt.want) {
				t.Errorf("Allow error = %v, want %v", err, tt.want)
			}
			checks := []ratelimit.Check{{Key: "a", Rule: ratelimit.PerMinute(10, 1), N: 1}, {Key: "k", Rule: tt.rule, N: tt.n}}
			if _, err := rl.AllowAll(ctx, checks); !errors.Is(err, tt.want) {
				t.Errorf("AllowAll error = %v, want %v", err, tt.want)
			}
		})
	}
	if n, err := clients[0].Exists(ctx, rl.Key("a"), rl.Key("k")).Result(); err != nil || n != 0 {
		t.Errorf("%d keys written by refused calls (%v), want 0", n, err)
	}
	if ds, err := rl.AllowAll(ctx, nil); err != nil || len(ds) != 0 {
		t.Errorf("AllowAll(nil) = %v, %v; want empty", ds, err)
	}
}

// TestTwoReplicas: a burst split across two limiters with their own
// clients (two replicas) admits exactly the bucket, not twice it, for
// Allow and for AllowAll.
func TestTwoReplicas(t *testing.T) {
	tests := []struct {
		name   string
		checks []ratelimit.Check
		want   int
	}{
		{"allow 60/min×1.2", []ratelimit.Check{{Key: "ip:192.0.2.1", Rule: ratelimit.PerMinute(60, 1.2), N: 1}}, 72},
		{"allow 300/min×1.2", []ratelimit.Check{{Key: "ip:192.0.2.1", Rule: ratelimit.PerMinute(300, 1.2), N: 1}}, 360},
		{"route and global", []ratelimit.Check{
			{Key: "ip:192.0.2.1\x00/scene", Rule: ratelimit.PerMinute(10, 1.2), N: 1},
			{Key: "ip:192.0.2.1", Rule: ratelimit.PerMinute(60, 1.2), N: 1},
		}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix, clients := redisEnv(t, 2)
			replicas := []*Limiter{New(clients[0], Options{Prefix: prefix}), New(clients[1], Options{Prefix: prefix})}
			const perWorker, workersPerReplica = 50, 4
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for _, rl := range replicas {
				for range workersPerReplica {
					wg.Go(func() {
						for range perWorker {
							var ok bool
							var err error
							if len(tt.checks) == 1 {
								var d ratelimit.Decision
								d, err = rl.Allow(context.Background(), tt.checks[0].Key, tt.checks[0].Rule, 1)
								ok = d.Allowed
							} else {
								var ds []ratelimit.Decision
								ds, err = rl.AllowAll(context.Background(), tt.checks)
								ok = err == nil && ds[0].Allowed && ds[1].Allowed
							}
							if err != nil {
								t.Error(err)
								return
							}
							if ok {
								admitted.Add(1)
							}
						}
					})
				}
			}
			wg.Wait()
			if got := admitted.Load(); got != int64(tt.want) {
				t.Errorf("%d requests over 2 replicas admitted %d, want %d", 2*workersPerReplica*perWorker, got, tt.want)
			}
		})
	}
}

// ExampleLimiter shows the key layout.
func ExampleLimiter_Key() {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer c.Close()
	l := New(c, Options{Prefix: "spacetime:"})
	fmt.Printf("%q\n", l.Key("ip:192.0.2.1"))
	// Output: "spacetime:rl:ip:192.0.2.1"
}
