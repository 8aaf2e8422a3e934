package ratelimit

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ban refuses every request of one client key until Until.
type Ban struct {
	// Key is the client key (see ClientKey).
	Key string
	// Reason says why, for operators and the audit log.
	Reason string
	// Since is when the ban started; Until when it ends by itself.
	Since time.Time
	Until time.Time
	// Violations is how many refused requests within the ban window
	// earned the ban; 0 for a ban an admin imposed.
	Violations int
}

// Left returns the time the ban still runs at now (0 once it ended).
func (b Ban) Left(now time.Time) time.Duration {
	return max(0, b.Until.Sub(now))
}

// BanStore keeps bans and the recent violations that lead to them.
//
// Implementations are safe for concurrent use. Bans end by themselves at
// Until: a store may keep an ended ban for a while (Get may return it),
// but List never reports it. Times come from the caller (the Policy's
// clock). Errors are technical failures only.
type BanStore interface {
	// Get returns the ban of key, if any. It may return a ban that has
	// ended (the caller compares Until with its clock). It is called on
	// every request, so it must be cheap when nobody is banned.
	Get(ctx context.Context, key string) (Ban, bool, error)
	// Put stores b, replacing any ban of b.Key, and forgets b.Key's
	// violations.
	Put(ctx context.Context, b Ban) error
	// Delete lifts the ban of key and forgets its violations; it reports
	// whether a ban was in force at now.
	Delete(ctx context.Context, key string, now time.Time) (bool, error)
	// List returns the bans in force at now, oldest first (then by key).
	List(ctx context.Context, now time.Time) ([]Ban, error)
	// AddViolation records a violation of key at now under r. When key
	// then has more than r.Limit violations within the sliding window
	// (now−r.Window, now] and no ban in force, the store bans it in the
	// same atomic step (Since now, Until now+r.Duration, Reason r.Reason,
	// Violations the count) and forgets its violations, so concurrent
	// violations earn exactly one ban. Violations of a key banned at now
	// are not recorded. It returns the ban in force after the call (the
	// zero Ban if none) and whether this call created it. A store needs to
	// keep no more than the r.Limit+1 latest violations of a key.
	AddViolation(ctx context.Context, key string, now time.Time, r BanRule) (Ban, bool, error)
}

// BanRule says when violations earn a ban, and what ban.
type BanRule struct {
	// Window is the sliding window violations are counted over.
	Window time.Duration
	// Limit is how many violations within Window are tolerated; one more
	// earns a ban.
	Limit int
	// Duration is how long an earned ban lasts.
	Duration time.Duration
	// Reason is the Reason of an earned ban.
	Reason string
}

// Defaults of MemoryBanStoreOptions.
const (
	DefaultMaxViolators     = 1 << 16
	DefaultBanSweepInterval = time.Minute
)

// MemoryBanStoreOptions configure NewMemoryBanStore. The zero value is
// usable.
type MemoryBanStoreOptions struct {
	// MaxViolators bounds how many keys have violations on record; when it
	// is reached, a new key replaces the sampled key with the oldest
	// latest violation. Default DefaultMaxViolators.
	MaxViolators int
	// SweepInterval is how often ended bans and stale violations are
	// dropped, at the next write; default DefaultBanSweepInterval.
	SweepInterval time.Duration
}

// MemoryBanStore is the in-memory BanStore. Get is lock-free (a sync.Map
// plus a count that short-cuts the lookup while nobody is banned); writes
// take one mutex. Ended bans and violations older than their window are
// swept at most once per SweepInterval, at the next write. The number of
// bans is not capped: each costs a client a full bucket plus more than
// ban_after_violations refused requests, and ends after the ban duration.
type MemoryBanStore struct {
	bans  sync.Map // key → Ban
	count atomic.Int64

	mu           sync.Mutex
	viol         map[string]*violationLog
	maxViolators int
	sweepEvery   time.Duration
	nextSweep    time.Time
}

var _ BanStore = (*MemoryBanStore)(nil)

// violationLog holds a key's latest violation times (UnixNano), oldest
// first.
type violationLog struct {
	times  []int64
	window int64
}

// NewMemoryBanStore returns an empty in-memory ban store.
func NewMemoryBanStore(opts MemoryBanStoreOptions) *MemoryBanStore {
	if opts.MaxViolators <= 0 {
		opts.MaxViolators = DefaultMaxViolators
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultBanSweepInterval
	}
	return &MemoryBanStore{
		viol:         make(map[string]*violationLog),
		maxViolators: opts.MaxViolators,
		sweepEvery:   opts.SweepInterval,
	}
}

// Get implements BanStore.
func (s *MemoryBanStore) Get(_ context.Context, key string) (Ban, bool, error) {
	if s.count.Load() == 0 {
		return Ban{}, false, nil
	}
	v, ok := s.bans.Load(key)
	if !ok {
		return Ban{}, false, nil
	}
	return v.(Ban), true, nil
}

// Put implements BanStore.
func (s *MemoryBanStore) Put(_ context.Context, b Ban) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(b.Since)
	if _, loaded := s.bans.Swap(b.Key, b); !loaded {
		s.count.Add(1)
	}
	delete(s.viol, b.Key)
	return nil
}

// Delete implements BanStore.
func (s *MemoryBanStore) Delete(_ context.Context, key string, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.viol, key)
	v, loaded := s.bans.LoadAndDelete(key)
	if !loaded {
		return false, nil
	}
	s.count.Add(-1)
	return now.Before(v.(Ban).Until), nil
}

// List implements BanStore.
func (s *MemoryBanStore) List(_ context.Context, now time.Time) ([]Ban, error) {
	var out []Ban
	s.bans.Range(func(_, v any) bool {
		if b := v.(Ban); now.Before(b.Until) {
			out = append(out, b)
		}
		return true
	})
	slices.SortFunc(out, func(a, b Ban) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// AddViolation implements BanStore.
func (s *MemoryBanStore) AddViolation(_ context.Context, key string, now time.Time, r BanRule) (Ban, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.bans.Load(key); ok && now.Before(v.(Ban).Until) {
		return v.(Ban), false, nil
	}
	s.maybeSweep(now)
	t := now.UnixNano()
	l := s.viol[key]
	if l == nil {
		for len(s.viol) >= s.maxViolators {
			s.evictViolator()
		}
		l = &violationLog{times: make([]int64, 0, min(max(r.Limit+1, 1), 64))}
		s.viol[key] = l
	}
	l.window = int64(r.Window)
	keep := max(r.Limit+1, 1)
	i := 0
	for i < len(l.times) && l.times[i] <= t-l.window {
		i++
	}
	l.times = append(l.times[:0], l.times[i:]...)
	l.times = append(l.times, t)
	if over := len(l.times) - keep; over > 0 {
		l.times = append(l.times[:0], l.times[over:]...)
	}
	n := len(l.times)
	if n <= r.Limit {
		return Ban{}, false, nil
	}
	delete(s.viol, key)
	b := Ban{Key: key, Reason: r.Reason, Since: now, Until: now.Add(r.Duration), Violations: n}
	if _, loaded := s.bans.Swap(key, b); !loaded {
		s.count.Add(1)
	}
	return b, true, nil
}

// evictViolator drops, among a few keys sampled at random, the one whose
// latest violation is oldest. s.mu is held.
func (s *MemoryBanStore) evictViolator() {
	var victim string
	var least int64
	n := 0
	for k, l := range s.viol {
		last := int64(0)
		if len(l.times) > 0 {
			last = l.times[len(l.times)-1]
		}
		if n == 0 || last < least {
			victim, least = k, last
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(s.viol, victim)
}

// maybeSweep drops ended bans and stale violation logs when a sweep is
// due. s.mu is held.
func (s *MemoryBanStore) maybeSweep(now time.Time) {
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(s.sweepEvery)
	s.sweep(now)
}

// sweep drops ended bans and violation logs whose latest violation left
// its window. s.mu is held.
func (s *MemoryBanStore) sweep(now time.Time) {
	s.bans.Range(func(k, v any) bool {
		if !now.Before(v.(Ban).Until) {
			s.bans.Delete(k)
			s.count.Add(-1)
		}
		return true
	})
	t := now.UnixNano()
	for k, l := range s.viol {
		if len(l.times) == 0 || l.times[len(l.times)-1] <= t-l.window {
			delete(s.viol, k)
		}
	}
}

// Sweep drops ended bans and stale violations now.
func (s *MemoryBanStore) Sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSweep = now.Add(s.sweepEvery)
	s.sweep(now)
}

// Len returns how many bans (ended ones included until swept) and how many
// violation logs the store holds.
func (s *MemoryBanStore) Len() (bans, violators int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.count.Load()), len(s.viol)
}
