// Package redislimit keeps rate limits and bans in Redis, so that several
// replicas of the server enforce one policy together: a burst split across
// replicas admits the bucket once, not once per replica.
//
// [Limiter] implements ratelimit.Limiter with GCRA in one atomic Lua script
// (run with EVALSHA, falling back to EVAL when the server does not have it
// cached). Time comes from the Redis server (TIME), so replicas with skewed
// clocks agree. Each bucket is one string key holding the key's TAT in
// integer nanoseconds since the Unix epoch, expiring when the bucket is full
// again. Decisions equal those of ratelimit.Memory for the same instants
// (Redis time has microsecond resolution).
//
// [BanStore] implements ratelimit.BanStore: bans are hashes expiring at
// their end, indexed by a sorted set for List; violations are short lists,
// and counting them and creating the ban is one Lua script.
//
// [Fallback] wraps a Redis limiter with a local in-memory one: while Redis
// fails, decisions come from the local limiter (per-replica limits), the
// transition is logged once each way, Degraded reports it, and Redis is
// probed again at most once per probe interval. Fallback.BanStore wraps
// the ban store the same way, on the same state: Policy looks bans up
// before it asks the limiter, so both must fall back together.
//
// [ClientOptions] turns config.Cache into go-redis options with short
// timeouts and one dial attempt, so an outage is noticed quickly.
//
// Keys are Prefix+"rl:"+key for buckets, Prefix+"ban:"+key and
// Prefix+"viol:"+key for bans and violations, and Prefix+"bans" for the ban
// index. AllowAll touches several keys in one script, so on Redis Cluster
// its keys must hash to one slot; a single Redis (or a replicated primary)
// has no such constraint.
package redislimit
