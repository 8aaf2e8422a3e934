package ratelimit

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the start of every fake clock: an arbitrary wall time.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeClock is a settable clock, safe for concurrent reads.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock { return &fakeClock{} }

// Now returns t0 plus the elapsed time.
func (c *fakeClock) Now() time.Time { return t0.Add(time.Duration(c.ns.Load())) }

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Set moves the clock to t0 + d.
func (c *fakeClock) Set(d time.Duration) { c.ns.Store(int64(d)) }
