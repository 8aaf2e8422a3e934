package main

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	redis.SetLogger(redisLogger{}) // as main does: no dial errors on stderr
	goleak.VerifyTestMain(m)
}
