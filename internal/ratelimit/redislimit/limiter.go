package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

// ErrBadReply reports a reply from Redis that the scripts never produce.
var ErrBadReply = errors.New("redislimit: unexpected reply from redis")

// MaxSpan is the longest bucket (Rule.Burst × Rule.Interval) the Redis
// limiter accepts: the script computes in Lua numbers (doubles), which hold
// nanosecond offsets exactly up to 2^53; 2^52 ns (about 52 days) leaves room
// for a cost on top of a full bucket. Longer rules are refused with
// ratelimit.ErrInvalidRule.
const MaxSpan = time.Duration(1 << 52)

// gcraScript decides every check (KEYS[i], ARGV[3i-2..3i] = interval ns,
// span ns, cost) as one request at the server's time and counts it in all
// buckets or none. A bucket holds its TAT as a decimal string of
// nanoseconds since the Unix epoch; arithmetic is on offsets from now
// (microsecond TIME), which stay far below 2^53. It returns four integers
// per check: allowed (0/1), remaining, reset ns, retry-after ns.
const gcraScript = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function remaining(x, span, T)
  if x > span then
    return 0
  end
  return idiv(span - x, T)
end

local state = {}
local before = {}
local nexts = {}
local out = {}
local all = true
for i = 1, #KEYS do
  local k = KEYS[i]
  local T = tonumber(ARGV[3 * i - 2])
  local span = tonumber(ARGV[3 * i - 1])
  local n = tonumber(ARGV[3 * i])
  local cur = state[k]
  if cur == nil then
    cur = 0
    local s = redis.call('GET', k)
    if s then
      local us, ns = 0, tonumber(s)
      if #s > 3 then
        us = tonumber(string.sub(s, 1, -4))
        ns = tonumber(string.sub(s, -3))
      end
      cur = (us - now) * 1000 + ns
    end
  end
  if cur < 0 then
    cur = 0
  end
  before[i] = cur
  local base = 4 * (i - 1)
  local nxt = cur + n * T
  if n == 0 then
    nxt = cur
    out[base + 1], out[base + 2], out[base + 3], out[base + 4] = 1, remaining(cur, span, T), cur, 0
  elseif nxt > span then
    all = false
    out[base + 1], out[base + 2], out[base + 3], out[base + 4] = 0, remaining(cur, span, T), cur, nxt - span
    nxt = cur
  else
    out[base + 1], out[base + 2], out[base + 3], out[base + 4] = 1, remaining(nxt, span, T), nxt, 0
  end
  nexts[i] = nxt
  state[k] = nxt
end

for i = 1, #KEYS do
  local base = 4 * (i - 1)
  local n = tonumber(ARGV[3 * i])
  if all then
    if n > 0 then
      local nxt = nexts[i]
      local q = idiv(nxt, 1000)
      local v = string.format('%.0f%03d', now + q, nxt - q * 1000)
      redis.call('SET', KEYS[i], v, 'PX', idiv(nxt + 999999, 1000000))
    end
  elseif out[base + 1] == 1 then
    local T = tonumber(ARGV[3 * i - 2])
    local span = tonumber(ARGV[3 * i - 1])
    out[base + 1], out[base + 2], out[base + 3], out[base + 4] = 0, remaining(before[i], span, T), before[i], 0
  end
end
return out
`

// Options configure New. The zero value is usable.
type Options struct {
	// Prefix is prepended to every Redis key (config.Cache.KeyPrefix,
	// e.g. "spacetime:"); replicas enforcing one policy share it.
	Prefix string
}

// Limiter is the Redis ratelimit.Limiter. It holds no state of its own and
// is safe for concurrent use; any number of Limiters (in any number of
// processes) sharing a Redis and a Prefix share their buckets.
type Limiter struct {
	client redis.Scripter
	prefix string
	script *redis.Script
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// New returns a limiter on client (a *redis.Client or any go-redis
// Scripter). The client's timeouts bound each decision; keep them short
// (see Fallback).
func New(client redis.Scripter, opts Options) *Limiter {
	return &Limiter{client: client, prefix: opts.Prefix, script: redis.NewScript(gcraScript)}
}

// Key returns the Redis key of a bucket.
func (l *Limiter) Key(key string) string { return l.prefix + "rl:" + key }

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, rule ratelimit.Rule, n int) (ratelimit.Decision, error) {
	ds, err := l.AllowAll(ctx, []ratelimit.Check{{Key: key, Rule: rule, N: n}})
	if err != nil {
		return ratelimit.Decision{}, err
	}
	return ds[0], nil
}

// AllowAll implements ratelimit.Limiter: every check is decided and counted
// (or not) in one script run.
func (l *Limiter) AllowAll(ctx context.Context, checks []ratelimit.Check) ([]ratelimit.Decision, error) {
	if len(checks) == 0 {
		return []ratelimit.Decision{}, nil
	}
	keys := make([]string, len(checks))
	args := make([]any, 0, 3*len(checks))
	for i, c := range checks {
		t, span, err := compile(c.Rule, c.N)
		if err != nil {
			return nil, err
		}
		keys[i] = l.Key(c.Key)
		args = append(args, t, span, c.N)
	}
	res, err := l.script.Run(ctx, l.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("redislimit: decide %q: %w", checks[0].Key, err)
	}
	if len(res) != 4*len(checks) {
		return nil, fmt.Errorf("%w: %d values for %d checks", ErrBadReply, len(res), len(checks))
	}
	out := make([]ratelimit.Decision, len(checks))
	for i, c := range checks {
		r := res[4*i : 4*i+4]
		out[i] = ratelimit.Decision{
			Allowed:    r[0] == 1,
			Limit:      c.Rule.Burst,
			Remaining:  int(r[1]),
			Reset:      time.Duration(r[2]),
			RetryAfter: time.Duration(r[3]),
		}
	}
	return out, nil
}

// compile validates a rule and cost as ratelimit.Memory does, plus the
// MaxSpan bound, and returns the interval and span in nanoseconds.
func compile(r ratelimit.Rule, n int) (t, span int64, err error) {
	if err := r.Validate(); err != nil {
		return 0, 0, err
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("%w: %d", ratelimit.ErrInvalidCost, n)
	}
	if n > r.Burst {
		return 0, 0, fmt.Errorf("%w: cost %d, rule %s", ratelimit.ErrCostExceedsBurst, n, r)
	}
	t = int64(r.Interval())
	if int64(r.Burst) > int64(MaxSpan)/t {
		return 0, 0, fmt.Errorf("%w: %s: bucket longer than %s", ratelimit.ErrInvalidRule, r, MaxSpan)
	}
	return t, int64(r.Burst) * t, nil
}
