package redislimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// DefaultProbeInterval is how often a degraded Fallback tries its primary
// again, unless FallbackOptions say otherwise.
const DefaultProbeInterval = time.Second

// FallbackOptions configure NewFallback. The zero value is usable.
type FallbackOptions struct {
	// Logger receives one line per transition (Warn when degrading, Info
	// when recovering); default: no logging.
	Logger *slog.Logger
	// OnChange, when set, is called on each transition with the new state
	// (true: degraded), in order, under the Fallback's lock: it must not
	// block or call back into the Fallback. Use it to set a gauge.
	OnChange func(degraded bool)
	// ProbeInterval is the least time between two tries of the primary
	// while degraded; default DefaultProbeInterval.
	ProbeInterval time.Duration
	// Clock returns the current time (for probe spacing); default time.Now.
	Clock func() time.Time
}

// Fallback is a ratelimit.Limiter that asks its primary (Redis) and, when
// the primary fails with a technical error (connection refused, timeout,
// anything but the ratelimit rule and cost errors and the caller's own
// cancelled context), answers from its local limiter (an in-memory one:
// per-replica limits) instead of failing the request.
//
// The first failure turns it degraded: logged once, OnChange(true). While
// degraded, calls go to the local limiter, except that at most one call
// per ProbeInterval tries the primary; the first probe that succeeds
// turns it back (logged once, OnChange(false)) and its decision is used.
// Local and Redis state are independent: after a transition each side
// continues from the state it had.
//
// Fallback is safe for concurrent use.
type Fallback struct {
	primary, local ratelimit.Limiter
	log            *slog.Logger
	onChange       func(bool)
	every          time.Duration
	now            func() time.Time

	degraded    atomic.Bool
	transitions atomic.Uint64
	fallbacks   atomic.Uint64

	mu        sync.Mutex // serializes transitions and probe claims
	nextProbe time.Time
}

var _ ratelimit.Limiter = (*Fallback)(nil)

// NewFallback returns primary backed by local.
func NewFallback(primary, local ratelimit.Limiter, opts FallbackOptions) *Fallback {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Fallback{
		primary:  primary,
		local:    local,
		log:      opts.Logger,
		onChange: opts.OnChange,
		every:    opts.ProbeInterval,
		now:      opts.Clock,
	}
}

// Degraded reports whether decisions currently come from the local
// limiter (for /status and metrics).
func (f *Fallback) Degraded() bool { return f.degraded.Load() }

// Transitions returns how many times the Fallback degraded or recovered.
func (f *Fallback) Transitions() uint64 { return f.transitions.Load() }

// LocalDecisions returns how many calls the local side answered (limiter
// and ban store).
func (f *Fallback) LocalDecisions() uint64 { return f.fallbacks.Load() }

// Allow implements ratelimit.Limiter.
func (f *Fallback) Allow(ctx context.Context, key string, rule ratelimit.Rule, n int) (ratelimit.Decision, error) {
	return run(f, ctx, f.primary, f.local, func(l ratelimit.Limiter) (ratelimit.Decision, error) {
		return l.Allow(ctx, key, rule, n)
	})
}

// AllowAll implements ratelimit.Limiter.
func (f *Fallback) AllowAll(ctx context.Context, checks []ratelimit.Check) ([]ratelimit.Decision, error) {
	return run(f, ctx, f.primary, f.local, func(l ratelimit.Limiter) ([]ratelimit.Decision, error) {
		return l.AllowAll(ctx, checks)
	})
}

// run asks the primary when healthy or when a probe is due, and the local
// one otherwise or when the primary fails.
func run[S, T any](f *Fallback, ctx context.Context, primary, local S, call func(S) (T, error)) (T, error) {
	healthy := !f.degraded.Load()
	if healthy || f.claimProbe() {
		v, err := call(primary)
		switch {
		case err == nil:
			if !healthy {
				f.recovered()
			}
			return v, nil
		case !isOutage(ctx, err):
			return v, err
		}
		f.degrade(err) // a no-op when already degraded
	}
	f.fallbacks.Add(1)
	return call(local)
}

// isOutage tells a failure of the primary from errors of the call itself.
func isOutage(ctx context.Context, err error) bool {
	switch {
	case errors.Is(err, ratelimit.ErrInvalidRule),
		errors.Is(err, ratelimit.ErrInvalidCost),
		errors.Is(err, ratelimit.ErrCostExceedsBurst):
		return false
	case ctx.Err() != nil: // the caller gave up, Redis may be fine
		return false
	}
	return true
}

// claimProbe reports whether this call should try the primary.
func (f *Fallback) claimProbe() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded.Load() { // recovered meanwhile
		return true
	}
	now := f.now()
	if now.Before(f.nextProbe) {
		return false
	}
	f.nextProbe = now.Add(f.every)
	return true
}

func (f *Fallback) degrade(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.degraded.Load() {
		return
	}
	f.nextProbe = f.now().Add(f.every)
	f.degraded.Store(true)
	f.transitions.Add(1)
	f.log.Warn("rate limiter degraded: Redis unavailable, using per-replica in-memory limits", "err", err)
	if f.onChange != nil {
		f.onChange(true)
	}
}

func (f *Fallback) recovered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded.Load() {
		return
	}
	f.degraded.Store(false)
	f.transitions.Add(1)
	f.log.Info("rate limiter recovered: Redis reachable again, using shared limits")
	if f.onChange != nil {
		f.onChange(false)
	}
}

// BanStore returns a ratelimit.BanStore that follows f: while f is healthy
// it uses primary (the Redis store), while degraded local (an in-memory
// store), and a failure of primary degrades f like a limiter failure (one
// state, one log line per transition, one Degraded for both). Without it,
// Policy.Check fails on the ban lookup whenever Redis is down, before the
// limiter is asked. Bans and violations recorded locally during an outage
// stay local: they are not copied to Redis on recovery (an admin ban made
// during an outage should be repeated afterwards).
func (f *Fallback) BanStore(primary, local ratelimit.BanStore) ratelimit.BanStore {
	return &fallbackBans{f: f, primary: primary, local: local}
}

// fallbackBans is Fallback.BanStore.
type fallbackBans struct {
	f              *Fallback
	primary, local ratelimit.BanStore
}

// banReply carries a Get or AddViolation result through run.
type banReply struct {
	ban ratelimit.Ban
	ok  bool
}

// Get implements ratelimit.BanStore.
func (b *fallbackBans) Get(ctx context.Context, key string) (ratelimit.Ban, bool, error) {
	r, err := run(b.f, ctx, b.primary, b.local, func(s ratelimit.BanStore) (banReply, error) {
		ban, ok, err := s.Get(ctx, key)
		return banReply{ban, ok}, err
	})
	return r.ban, r.ok, err
}

// Put implements ratelimit.BanStore.
func (b *fallbackBans) Put(ctx context.Context, ban ratelimit.Ban) error {
	_, err := run(b.f, ctx, b.primary, b.local, func(s ratelimit.BanStore) (struct{}, error) {
		return struct{}{}, s.Put(ctx, ban)
	})
	return err
}

// Delete implements ratelimit.BanStore.
func (b *fallbackBans) Delete(ctx context.Context, key string, now time.Time) (bool, error) {
	return run(b.f, ctx, b.primary, b.local, func(s ratelimit.BanStore) (bool, error) {
		return s.Delete(ctx, key, now)
	})
}

// List implements ratelimit.BanStore.
func (b *fallbackBans) List(ctx context.Context, now time.Time) ([]ratelimit.Ban, error) {
	return run(b.f, ctx, b.primary, b.local, func(s ratelimit.BanStore) ([]ratelimit.Ban, error) {
		return s.List(ctx, now)
	})
}

// AddViolation implements ratelimit.BanStore.
func (b *fallbackBans) AddViolation(ctx context.Context, key string, now time.Time, r ratelimit.BanRule) (ratelimit.Ban, bool, error) {
	rep, err := run(b.f, ctx, b.primary, b.local, func(s ratelimit.BanStore) (banReply, error) {
		ban, created, err := s.AddViolation(ctx, key, now, r)
		return banReply{ban, created}, err
	})
	return rep.ban, rep.ok, err
}
