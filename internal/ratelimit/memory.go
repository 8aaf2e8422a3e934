package ratelimit

import (
	"context"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultShards        = 64
	DefaultMaxKeys       = 1 << 18
	DefaultSweepInterval = 10 * time.Second
	// evictSample is how many entries a full shard samples to choose the
	// one to evict.
	evictSample = 8
)

// MemoryOptions configure NewMemory. The zero value is usable.
type MemoryOptions struct {
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Shards is the number of independently locked partitions of the key
	// space, rounded up to a power of two; default DefaultShards.
	Shards int
	// MaxKeys bounds the number of keys held (each shard holds at most
	// ceil(MaxKeys/Shards)); default DefaultMaxKeys. See Memory for the
	// policy when a shard is full.
	MaxKeys int
	// SweepInterval is how often each shard drops its expired keys, at the
	// next insertion of a new key; default DefaultSweepInterval.
	SweepInterval time.Duration
}

// Memory is the in-memory Limiter: one TAT per key, kept in shards chosen
// by a seeded hash of the key, each behind its own mutex.
//
// Memory is bounded. A key whose TAT has passed carries no information (a
// fresh key behaves the same), so each shard deletes such keys at most once
// per SweepInterval, when a new key arrives; Sweep does it on demand. When
// a shard is full of live keys, a new key evicts the sampled key with the
// earliest TAT (the one closest to a full bucket) among a few taken at
// random: new clients are never refused for lack of space, and the evicted
// client at worst gets its bucket refilled early. Evictions counts those
// evictions; a non-zero count means MaxKeys is too small for the traffic.
//
// Memory starts no goroutine and needs no Close. It is safe for concurrent
// use.
type Memory struct {
	now        func() time.Time
	epoch      time.Time
	seed       maphash.Seed
	shards     []memShard
	mask       uint64
	perShard   int
	sweepEvery int64
	evictions  atomic.Uint64
}

var _ Limiter = (*Memory)(nil)

// memShard is one partition; padded so neighbouring locks do not share a
// cache line.
type memShard struct {
	mu        sync.Mutex
	tat       map[string]int64 // TAT in ns since Memory.epoch
	nextSweep int64
	_         [40]byte
}

// NewMemory returns an empty in-memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	n := opts.Shards
	if n <= 0 {
		n = DefaultShards
	}
	n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	m := &Memory{
		now:        opts.Clock,
		epoch:      opts.Clock(),
		seed:       maphash.MakeSeed(),
		shards:     make([]memShard, n),
		mask:       uint64(n - 1),
		perShard:   max(1, (opts.MaxKeys+n-1)/n),
		sweepEvery: int64(opts.SweepInterval),
	}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

// clock returns the current time in ns since the epoch (monotonic when the
// clock reports monotonic readings).
func (m *Memory) clock() int64 { return int64(m.now().Sub(m.epoch)) }

func (m *Memory) shardIndex(key string) int {
	return int(maphash.String(m.seed, key) & m.mask)
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, rule Rule, n int) (Decision, error) {
	g, err := compile(rule, n)
	if err != nil {
		return Decision{}, err
	}
	s := &m.shards[m.shardIndex(key)]
	now := m.clock()
	s.mu.Lock()
	tat, ok := s.tat[key]
	next, d := g.decide(tat, ok, now, n)
	if d.Allowed && n > 0 {
		if ok {
			s.tat[key] = next
		} else {
			m.insert(s, key, next, now)
		}
	}
	s.mu.Unlock()
	return d, nil
}

// AllowAll implements Limiter. The shards involved are locked in index
// order, so the decision is atomic across keys.
func (m *Memory) AllowAll(ctx context.Context, checks []Check) ([]Decision, error) {
	out := make([]Decision, len(checks))
	if err := m.allowAll(checks, out); err != nil {
		return nil, err
	}
	return out, nil
}

// allowAll is AllowAll writing into out (len(checks)); it keeps neither
// slice, so callers may pass stack arrays.
func (m *Memory) allowAll(checks []Check, out []Decision) error {
	switch len(checks) {
	case 0:
		return nil
	case 1:
		d, err := m.Allow(context.Background(), checks[0].Key, checks[0].Rule, checks[0].N)
		out[0] = d
		return err
	}
	var buf [4]evalState
	st := buf[:0]
	if len(checks) > len(buf) {
		st = make([]evalState, 0, len(checks))
	}
	for _, c := range checks {
		g, err := compile(c.Rule, c.N)
		if err != nil {
			return err
		}
		st = append(st, evalState{g: g, shard: m.shardIndex(c.Key)})
	}
	var idxBuf [4]int
	locked := m.lockShards(st, idxBuf[:0])
	now := m.clock()
	all := true
	for i, c := range checks {
		s := &m.shards[st[i].shard]
		tat, ok := s.tat[c.Key]
		st[i].stored = ok
		for j := i - 1; j >= 0; j-- { // a key named earlier in this call
			if checks[j].Key == c.Key {
				tat, ok = st[j].next, true
				break
			}
		}
		st[i].before, st[i].ok = tat, ok
		st[i].next, out[i] = st[i].g.decide(tat, ok, now, c.N)
		if !out[i].Allowed {
			all = false
			st[i].next = tat
		}
	}
	if all {
		for i, c := range checks {
			if c.N == 0 {
				continue
			}
			s := &m.shards[st[i].shard]
			if st[i].stored {
				s.tat[c.Key] = st[i].next
			} else {
				m.insert(s, c.Key, st[i].next, now)
			}
		}
	} else {
		for i := range checks {
			if out[i].Allowed {
				before := st[i].before
				if !st[i].ok {
					before = now
				}
				out[i] = st[i].g.unconsumed(before, now)
			}
		}
	}
	for _, i := range locked {
		m.shards[i].mu.Unlock()
	}
	return nil
}

// evalState is the per-check scratch of AllowAll.
type evalState struct {
	g      gcra
	shard  int
	stored bool // the key was in its shard
	ok     bool
	before int64
	next   int64
}

// lockShards locks the distinct shards of st in ascending order and
// returns them, appended to idx.
func (m *Memory) lockShards(st []evalState, idx []int) []int {
	for _, e := range st {
		i := len(idx)
		idx = append(idx, e.shard)
		for i > 0 && idx[i-1] > idx[i] { // insertion sort: few checks
			idx[i-1], idx[i] = idx[i], idx[i-1]
			i--
		}
	}
	u := idx[:1]
	for _, i := range idx[1:] {
		if i != u[len(u)-1] {
			u = append(u, i)
		}
	}
	for _, i := range u {
		m.shards[i].mu.Lock()
	}
	return u
}

// insert adds a new key to s (locked), sweeping or evicting first when due.
func (m *Memory) insert(s *memShard, key string, tat, now int64) {
	if now >= s.nextSweep {
		s.sweep(now)
		s.nextSweep = now + m.sweepEvery
	}
	for len(s.tat) >= m.perShard {
		s.evict()
		m.evictions.Add(1)
	}
	s.tat[strings.Clone(key)] = tat
}

// sweep deletes the keys of s (locked) whose TAT is not after now.
func (s *memShard) sweep(now int64) int {
	n := 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
			n++
		}
	}
	return n
}

// evict deletes, among up to evictSample keys of s (locked) taken at
// random by map iteration, the one with the earliest TAT.
func (s *memShard) evict() {
	var victim string
	var least int64
	n := 0
	for k, tat := range s.tat {
		if n == 0 || tat < least {
			victim, least = k, tat
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(s.tat, victim)
}

// Sweep deletes every key whose TAT has passed (their buckets are full, so
// no decision changes) and returns how many it deleted.
func (m *Memory) Sweep() int {
	now := m.clock()
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.sweep(now)
		s.nextSweep = now + m.sweepEvery
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held, expired ones included until swept.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// Evictions returns how many live keys were evicted because their shard
// was full.
func (m *Memory) Evictions() uint64 { return m.evictions.Load() }
