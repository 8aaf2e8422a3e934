package redislimit

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// RequestTimeout is the read and write timeout ClientOptions sets: a
// decision on the request path waits no longer for Redis before the
// Fallback answers from memory.
const RequestTimeout = 250 * time.Millisecond

// ClientOptions returns go-redis options for c (config.Cache: REDIS_HOST,
// REDIS_PORT, REDIS_DB, REDIS_PASSWORD), tuned for decisions on the request
// path: short read and write timeouts, context deadlines honoured, one
// dial attempt and one retry, so an outage is noticed in well under a
// second. Pool size and dial timeout come from c when set. Build the
// client with redis.NewClient and Close it at shutdown.
func ClientOptions(c config.Cache) *redis.Options {
	return &redis.Options{
		Addr:                  c.Addr(),
		Password:              c.Password.Reveal(),
		DB:                    c.DB,
		PoolSize:              c.PoolSize,
		DialTimeout:           c.DialTimeout(),
		ReadTimeout:           RequestTimeout,
		WriteTimeout:          RequestTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		DialerRetries:         1,
	}
}
