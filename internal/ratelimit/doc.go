// Package ratelimit limits request rates with GCRA (the Generic Cell Rate
// Algorithm) and bans clients that keep exceeding their limits.
//
// The package has three layers:
//
//   - [Limiter] makes one decision for one key and one [Rule]: is a request
//     admitted, and what are the Limit, Remaining, Reset and Retry-After
//     values to report. [Memory] is the in-memory implementation; a Redis
//     implementation (GCRA in one Lua script) satisfies the same interface.
//   - [Policy] turns config.RateLimiting into rules: a global rule per
//     client across all routes, per-endpoint rules matched by path prefix on
//     whole segments, and routes disabled by a limit of 0.
//   - Bans: a client refused more than ban_after_violations times within
//     the ban window is banned for ban_duration_minutes. Bans live behind
//     [BanStore]; [MemoryBanStore] is the in-memory implementation.
//
// # GCRA
//
// For a rule of Limit requests per Period with a bucket of Burst requests,
// the emission interval is T = Period/Limit (whole nanoseconds, rounded
// down) and the burst tolerance is τ = (Burst−1)·T. Each key has a
// theoretical arrival time TAT. A request of cost n at time t is admitted
// iff max(TAT, t) + n·T − t ≤ τ + T; when admitted, TAT becomes
// max(TAT, t) + n·T. For n = 1 this is the textbook test TAT − t ≤ τ.
// A fresh key therefore admits Burst requests at once and then one every T.
// A key whose TAT is not after t is indistinguishable from a fresh key, so
// such entries are dropped without changing any decision.
//
// # Reported values
//
// Every [Decision] reports Limit (the bucket, Rule.Burst), Remaining (how
// many more cost-1 requests would be admitted at the same instant), Reset
// (the time until the bucket is full again, TAT − t) and, when refused,
// RetryAfter (the wait until this request would be admitted,
// max(TAT, t) + n·T − τ − T − t). [Decision.SetHeaders] writes them as
// RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds, rounded
// up) and Retry-After (seconds, rounded up, at least 1).
//
// # Time
//
// Every type takes an injected clock (func() time.Time); nothing in the
// package sleeps or starts a goroutine.
package ratelimit
