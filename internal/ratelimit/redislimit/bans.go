package redislimit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// listGrace is how long an ended ban stays in the ban index after its
// end by the caller's clock, so a replica whose clock lags still lists it.
const listGrace = time.Minute

// Ban hash fields.
const (
	fieldReason     = "reason"
	fieldSince      = "since"
	fieldUntil      = "until"
	fieldViolations = "violations"
)

// lessScript is the Lua comparison of two non-negative decimal integer
// strings (nanosecond times do not fit a Lua number exactly).
const lessScript = `
local function lt(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end
`

// violationScript is AddViolation. KEYS: ban hash, violation list, ban
// index. ARGV: now ns, window cutoff ns, keep, limit, until ns, until ms,
// reason, window ms, index member. It returns {} (no ban), or {created,
// reason, since, until, violations}.
const violationScript = lessScript + `
local ban, viol, index = KEYS[1], KEYS[2], KEYS[3]
local now, cutoff = ARGV[1], ARGV[2]
local keep, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local u = redis.call('HGET', ban, 'until')
if u and lt(now, u) then
  local b = redis.call('HMGET', ban, 'reason', 'since', 'until', 'violations')
  return {0, b[1] or '', b[2] or '0', b[3], b[4] or '0'}
end
local times = {}
for _, v in ipairs(redis.call('LRANGE', viol, 0, -1)) do
  if lt(cutoff, v) then
    times[#times + 1] = v
  end
end
times[#times + 1] = now
while #times > keep do
  table.remove(times, 1)
end
redis.call('DEL', viol)
local n = #times
if n <= limit then
  redis.call('RPUSH', viol, unpack(times))
  redis.call('PEXPIRE', viol, ARGV[8])
  return {}
end
redis.call('DEL', ban)
redis.call('HSET', ban, 'reason', ARGV[7], 'since', now, 'until', ARGV[5], 'violations', n)
redis.call('PEXPIREAT', ban, ARGV[6])
redis.call('ZADD', index, ARGV[6], ARGV[9])
return {1, ARGV[7], now, ARGV[5], n}
`

// deleteScript is Delete. KEYS: ban hash, violation list, ban index.
// ARGV: index member. It returns the ban's until (ns) or false.
const deleteScript = `
local u = redis.call('HGET', KEYS[1], 'until')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return u
`

// BanStore is the Redis ratelimit.BanStore. Bans are hashes (reason,
// since, until in Unix ns, violations) that Redis expires at their end;
// a sorted set indexes them by end for List. A key's violations are a list
// of at most Limit+1 Unix-ns times, expiring one window after the latest.
// Times come from the caller, as the interface says; times before 1970
// count as 1970. It is safe for concurrent use by any number of processes.
type BanStore struct {
	client    redis.Cmdable
	prefix    string
	violation *redis.Script
	delete    *redis.Script
}

var _ ratelimit.BanStore = (*BanStore)(nil)

// NewBanStore returns a ban store on client under opts.Prefix.
func NewBanStore(client redis.Cmdable, opts Options) *BanStore {
	return &BanStore{
		client:    client,
		prefix:    opts.Prefix,
		violation: redis.NewScript(violationScript),
		delete:    redis.NewScript(deleteScript),
	}
}

func (s *BanStore) banKey(key string) string  { return s.prefix + "ban:" + key }
func (s *BanStore) violKey(key string) string { return s.prefix + "viol:" + key }
func (s *BanStore) indexKey() string          { return s.prefix + "bans" }

// Get implements ratelimit.BanStore with one HGETALL.
func (s *BanStore) Get(ctx context.Context, key string) (ratelimit.Ban, bool, error) {
	m, err := s.client.HGetAll(ctx, s.banKey(key)).Result()
	if err != nil {
		return ratelimit.Ban{}, false, fmt.Errorf("redislimit: get ban %q: %w", key, err)
	}
	if len(m) == 0 {
		return ratelimit.Ban{}, false, nil
	}
	b, err := parseBan(key, m[fieldReason], m[fieldSince], m[fieldUntil], m[fieldViolations])
	if err != nil {
		return ratelimit.Ban{}, false, fmt.Errorf("redislimit: get ban %q: %w", key, err)
	}
	return b, true, nil
}

// Put implements ratelimit.BanStore in one MULTI/EXEC.
func (s *BanStore) Put(ctx context.Context, b ratelimit.Ban) error {
	bk := s.banKey(b.Key)
	until := unixNano(b.Until)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, bk, s.violKey(b.Key))
		p.HSet(ctx, bk,
			fieldReason, b.Reason,
			fieldSince, strconv.FormatInt(unixNano(b.Since), 10),
			fieldUntil, strconv.FormatInt(until, 10),
			fieldViolations, b.Violations)
		p.PExpireAt(ctx, bk, time.UnixMilli(ceilMilli(until)))
		p.ZAdd(ctx, s.indexKey(), redis.Z{Score: float64(ceilMilli(until)), Member: b.Key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("redislimit: put ban %q: %w", b.Key, err)
	}
	return nil
}

// Delete implements ratelimit.BanStore.
func (s *BanStore) Delete(ctx context.Context, key string, now time.Time) (bool, error) {
	keys := []string{s.banKey(key), s.violKey(key), s.indexKey()}
	u, err := s.delete.Run(ctx, s.client, keys, key).Text()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redislimit: delete ban %q: %w", key, err)
	}
	until, err := strconv.ParseInt(u, 10, 64)
	if err != nil {
		return false, fmt.Errorf("redislimit: delete ban %q: %w: until %q", key, ErrBadReply, u)
	}
	return unixNano(now) < until, nil
}

// List implements ratelimit.BanStore: the index entries that may be in
// force, their hashes in one pipeline, filtered by now. It also drops index
// entries that ended more than a minute ago.
func (s *BanStore) List(ctx context.Context, now time.Time) ([]ratelimit.Ban, error) {
	nowMs := unixNano(now) / 1e6
	idx := s.indexKey()
	keys, err := s.client.ZRangeByScore(ctx, idx, &redis.ZRangeBy{
		Min: strconv.FormatInt(nowMs, 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redislimit: list bans: %w", err)
	}
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, idx, "-inf", "("+strconv.FormatInt(nowMs-listGrace.Milliseconds(), 10))
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, s.banKey(k), fieldReason, fieldSince, fieldUntil, fieldViolations)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redislimit: list bans: %w", err)
	}
	var out []ratelimit.Ban
	for i, k := range keys {
		v := cmds[i].Val()
		if len(v) != 4 || v[2] == nil { // expired since the range
			continue
		}
		str := func(x any) string { s, _ := x.(string); return s }
		b, err := parseBan(k, str(v[0]), str(v[1]), str(v[2]), str(v[3]))
		if err != nil {
			return nil, fmt.Errorf("redislimit: list bans: %q: %w", k, err)
		}
		if now.Before(b.Until) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b ratelimit.Ban) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Key, b.Key))
	})
	return out, nil
}

// AddViolation implements ratelimit.BanStore in one Lua script: the
// check for a ban in force, the sliding-window count and the ban creation
// are atomic across all clients of the Redis.
func (s *BanStore) AddViolation(ctx context.Context, key string, now time.Time, r ratelimit.BanRule) (ratelimit.Ban, bool, error) {
	nowNs := unixNano(now)
	until := now.Add(r.Duration)
	untilNs := unixNano(until)
	keys := []string{s.banKey(key), s.violKey(key), s.indexKey()}
	res, err := s.violation.Run(ctx, s.client, keys,
		nowNs,
		nowNs-int64(r.Window),
		max(r.Limit+1, 1),
		r.Limit,
		untilNs,
		ceilMilli(untilNs),
		r.Reason,
		max(ceilMilli(int64(r.Window)), 1),
		key,
	).Slice()
	if err != nil {
		return ratelimit.Ban{}, false, fmt.Errorf("redislimit: add violation %q: %w", key, err)
	}
	if len(res) == 0 {
		return ratelimit.Ban{}, false, nil
	}
	if len(res) != 5 {
		return ratelimit.Ban{}, false, fmt.Errorf("redislimit: add violation %q: %w: %d values", key, ErrBadReply, len(res))
	}
	created, _ := res[0].(int64)
	if created == 1 {
		n, _ := res[4].(int64)
		return ratelimit.Ban{Key: key, Reason: r.Reason, Since: now, Until: until, Violations: int(n)}, true, nil
	}
	str := func(x any) string {
		switch v := x.(type) {
		case string:
			return v
		case int64:
			return strconv.FormatInt(v, 10)
		}
		return ""
	}
	b, err := parseBan(key, str(res[1]), str(res[2]), str(res[3]), str(res[4]))
	if err != nil {
		return ratelimit.Ban{}, false, fmt.Errorf("redislimit: add violation %q: %w", key, err)
	}
	return b, false, nil
}

// parseBan decodes a ban hash.
func parseBan(key, reason, since, until, violations string) (ratelimit.Ban, error) {
	sn, err1 := strconv.ParseInt(since, 10, 64)
	un, err2 := strconv.ParseInt(until, 10, 64)
	v, err3 := strconv.Atoi(violations)
	if err := errors.Join(err1, err2, err3); err != nil {
		return ratelimit.Ban{}, fmt.Errorf("%w: ban hash: %w", ErrBadReply, err)
	}
	return ratelimit.Ban{
		Key:        key,
		Reason:     reason,
		Since:      time.Unix(0, sn).UTC(),
		Until:      time.Unix(0, un).UTC(),
		Violations: v,
	}, nil
}

// unixNano returns t in ns since the Unix epoch, 0 for earlier times.
func unixNano(t time.Time) int64 { return max(0, t.UnixNano()) }

// ceilMilli returns ns rounded up to whole milliseconds.
func ceilMilli(ns int64) int64 { return (ns + 999_999) / 1_000_000 }
