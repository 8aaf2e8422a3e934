package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Errors returned by limiters for calls that can never succeed.
var (
	// ErrInvalidRule reports a rule whose limit, period or burst is out of
	// range (see Rule.Validate).
	ErrInvalidRule = errors.New("ratelimit: invalid rule")
	// ErrInvalidCost reports a negative request cost.
	ErrInvalidCost = errors.New("ratelimit: invalid cost")
	// ErrCostExceedsBurst reports a request cost larger than the rule's
	// bucket: such a request could never be admitted.
	ErrCostExceedsBurst = errors.New("ratelimit: cost exceeds burst")
)

// Rule is a rate: Limit requests per Period, in bursts of up to Burst
// requests. The zero Rule is invalid; build rules with PerMinute or set
// all three fields.
type Rule struct {
	// Limit is the sustained number of requests per Period (≥ 1).
	Limit int
	// Period is the window Limit is counted over (> 0).
	Period time.Duration
	// Burst is the bucket: how many requests a fresh key may make at once
	// (≥ 1). Burst = Limit means no extra burst allowance.
	Burst int
}

// PerMinute returns the rule of limit requests per minute with the bucket
// BurstFor(limit, burstMultiplier), as config.RateLimiting describes it.
func PerMinute(limit int, burstMultiplier float64) Rule {
	return Rule{Limit: limit, Period: time.Minute, Burst: BurstFor(limit, burstMultiplier)}
}

// BurstFor returns the bucket of a limit under a burst multiplier:
// max(1, floor(limit × multiplier)). A tolerance of 1e-9 absorbs
// floating-point error, so 5 × 1.2 is 6 and never 5.
func BurstFor(limit int, multiplier float64) int {
	b := math.Floor(float64(limit)*multiplier + 1e-9)
	switch {
	case !(b >= 1): // also NaN
		return 1
	case b >= math.MaxInt32:
		return math.MaxInt32
	}
	return int(b)
}

// Interval returns the emission interval T = Period/Limit, rounded down to
// whole nanoseconds: the sustained spacing between admitted requests.
func (r Rule) Interval() time.Duration {
	if r.Limit <= 0 {
		return 0
	}
	return r.Period / time.Duration(r.Limit)
}

// Tolerance returns the burst tolerance τ = (Burst−1)·T.
func (r Rule) Tolerance() time.Duration {
	return time.Duration(r.Burst-1) * r.Interval()
}

// String returns the rule as "100/1m0s burst 120".
func (r Rule) String() string {
	return fmt.Sprintf("%d/%s burst %d", r.Limit, r.Period, r.Burst)
}

// Validate reports whether r can be used: Limit ≥ 1, Period > 0, Burst ≥
// 1, an interval of at least 1 ns, and Burst·T representable in an int64.
func (r Rule) Validate() error {
	if r.Limit < 1 || r.Period <= 0 || r.Burst < 1 {
		return fmt.Errorf("%w: %s", ErrInvalidRule, r)
	}
	t := int64(r.Interval())
	if t < 1 || int64(r.Burst) > math.MaxInt64/t {
		return fmt.Errorf("%w: %s: interval out of range", ErrInvalidRule, r)
	}
	return nil
}

// gcra is a validated rule in integer nanoseconds.
type gcra struct {
	t     int64 // emission interval T
	span  int64 // τ + T = Burst·T: the largest admissible TAT − now
	burst int
}

// compile validates r and the cost n.
func compile(r Rule, n int) (gcra, error) {
	if err := r.Validate(); err != nil {
		return gcra{}, err
	}
	if n < 0 {
		return gcra{}, fmt.Errorf("%w: %d", ErrInvalidCost, n)
	}
	if n > r.Burst {
		return gcra{}, fmt.Errorf("%w: cost %d, rule %s", ErrCostExceedsBurst, n, r)
	}
	t := int64(r.Interval())
	return gcra{t: t, span: int64(r.Burst) * t, burst: r.Burst}, nil
}

// decide applies GCRA to a key whose stored TAT is tat (ok false: no
// entry) at time now for a request of cost n. It returns the TAT to store
// when the request is admitted, and the decision.
func (g gcra) decide(tat int64, ok bool, now int64, n int) (int64, Decision) {
	if !ok || tat < now {
		tat = now
	}
	if n == 0 { // a peek: admitted even if the clock went back
		d := g.unconsumed(tat, now)
		d.Allowed = true
		return tat, d
	}
	next := tat + int64(n)*g.t
	if next-now > g.span {
		return tat, Decision{
			Allowed:    false,
			Limit:      g.burst,
			Remaining:  g.remaining(tat, now),
			Reset:      time.Duration(tat - now),
			RetryAfter: time.Duration(next - g.span - now),
		}
	}
	return next, Decision{
		Allowed:   true,
		Limit:     g.burst,
		Remaining: g.remaining(next, now),
		Reset:     time.Duration(next - now),
	}
}

// unconsumed reports the state of a key without consuming (the decision a
// request would see if it were not counted).
func (g gcra) unconsumed(tat, now int64) Decision {
	if tat < now {
		tat = now
	}
	return Decision{Limit: g.burst, Remaining: g.remaining(tat, now), Reset: time.Duration(tat - now)}
}

// remaining is how many cost-1 requests TAT tat still admits at now.
func (g gcra) remaining(tat, now int64) int {
	r := (g.span - (tat - now)) / g.t
	if r < 0 { // only when the clock went backwards
		return 0
	}
	return int(r)
}

// Decision is the outcome of one limiter call and the values to report.
type Decision struct {
	// Allowed reports whether the request was admitted (and counted).
	Allowed bool
	// Limit is the bucket of the rule (Rule.Burst): the most requests a
	// client may make at once.
	Limit int
	// Remaining is how many more cost-1 requests would be admitted now.
	Remaining int
	// Reset is the time until the bucket is full again (0: full).
	Reset time.Duration
	// RetryAfter is, for a refused request, the wait until the same
	// request would be admitted; 0 when Allowed.
	RetryAfter time.Duration
}

// SetHeaders writes d as response headers: RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset (seconds, rounded up), plus
// Retry-After (seconds, rounded up, at least 1) when d refused the
// request. A zero Decision (no limit applied) writes nothing.
func (d Decision) SetHeaders(h http.Header) {
	if d.Limit > 0 {
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", strconv.FormatInt(CeilSeconds(d.Reset), 10))
	}
	if !d.Allowed && (d.Limit > 0 || d.RetryAfter > 0) {
		h.Set("Retry-After", strconv.FormatInt(max(1, CeilSeconds(d.RetryAfter)), 10))
	}
}

// CeilSeconds returns d in whole seconds, rounded up; 0 for d ≤ 0.
func CeilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
