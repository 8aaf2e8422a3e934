package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisURLEnv names the variable that points the tests at a Redis server.
const redisURLEnv = "SPACETIME_TEST_REDIS_URL"

// redisEnv returns a fresh random key prefix and n clients of the test
// Redis (as n replicas would have), skipping the test when no Redis is
// configured. The prefix's keys are deleted and the clients closed when
// the test ends.
func redisEnv(tb testing.TB, n int) (string, []*redis.Client) {
	tb.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		tb.Skipf("needs Redis: run with %s=redis://127.0.0.1:6379/0 (redis-server --port 6379)", redisURLEnv)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", redisURLEnv, err)
	}
	clients := make([]*redis.Client, n)
	for i := range clients {
		c := redis.NewClient(opt)
		clients[i] = c
		tb.Cleanup(func() { c.Close() })
	}
	if err := clients[0].Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("ping %s: %v", url, err)
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "spacetime-test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() { deletePrefix(tb, clients[0], prefix) })
	return prefix, clients
}

// deletePrefix deletes every key under prefix.
func deletePrefix(tb testing.TB, c *redis.Client, prefix string) {
	tb.Helper()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scan %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			tb.Errorf("delete %d keys: %v", len(keys), err)
		}
	}
}
