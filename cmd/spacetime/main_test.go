package main

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	redis.SetLogger(redisLogger{}) // as main does: no dial errors on stderr
	goleak.VerifyTestMain(cleanupAfter{m})
}

// cleanupAfter runs the tests, then removes what they shared.
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	defer removeSharedBinary()
	return c.m.Run()
}
