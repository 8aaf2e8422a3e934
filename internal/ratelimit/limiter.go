package ratelimit

import "context"

// Limiter decides, per key, whether requests conform to a Rule (GCRA).
//
// Implementations are safe for concurrent use by any number of goroutines;
// decisions on one key are linearizable. A Limiter owns its notion of time
// (the in-memory one an injected clock, a Redis one the server's clock), so
// callers never pass timestamps. The rule is passed with every call and not
// stored: changing a key's rule (a config reload) takes effect at the next
// call, against the key's existing state.
//
// Errors are technical failures (a store that cannot be reached) or calls
// that can never succeed (ErrInvalidRule, ErrInvalidCost,
// ErrCostExceedsBurst); a refused request is not an error but a Decision
// with Allowed false. The ctx only matters to implementations doing I/O.
type Limiter interface {
	// Allow decides a request of cost n (usually 1) for key under rule and,
	// when it is admitted, counts it. A cost of 0 counts nothing and
	// reports the key's current state (Allowed true).
	Allow(ctx context.Context, key string, rule Rule, n int) (Decision, error)
	// AllowAll decides all checks as one request: it is admitted, and every
	// check counted, only if every check admits it; otherwise nothing is
	// counted. The decisions are returned in the order of checks; when the
	// request is refused every Decision has Allowed false, and those checks
	// that would have admitted it on their own report RetryAfter 0. Checks
	// should name distinct keys (a key named twice is evaluated against the
	// state its earlier check would leave).
	AllowAll(ctx context.Context, checks []Check) ([]Decision, error)
}

// Check is one key, rule and cost of an AllowAll call.
type Check struct {
	Key  string
	Rule Rule
	N    int
}
