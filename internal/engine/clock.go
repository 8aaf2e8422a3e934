package engine

import (
	"context"
	"sync"
	"time"
)

// Clock is the engine's source of time. The loop calls Now exactly twice
// per tick (at its start and at its end, to measure it) and SleepUntil
// between ticks to wait for the next deadline.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// SleepUntil blocks until the clock reaches t (returning at once when
	// it already has) or ctx ends (returning ctx.Err()).
	SleepUntil(ctx context.Context, t time.Time) error
}

// RealClock is the wall clock.
//
// Spin trades CPU for punctuality: SleepUntil sleeps until Spin before the
// deadline and then spins on the clock until it is reached. The sleep is a
// Go timer, which may wake a goroutine up to a millisecond late; on Linux
// its last 1.5 ms are a nanosleep that keeps the thread's P and wakes
// within tens of microseconds (see sleep). The spin keeps its thread: an earlier form that
// yielded (runtime.Gosched) sent the loop to the back of the run queue
// behind hundreds of telemetry writers and made ticks later, not earlier.
// At 90 Hz a spin of 0.3 ms costs about 2.7 % of one core. Zero sleeps
// alone.
type RealClock struct {
	Spin time.Duration
}

// DefaultSpin is the engine's RealClock.Spin.
const DefaultSpin = 300 * time.Microsecond

var _ Clock = RealClock{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// SleepUntil sleeps until Spin before t, then spins until t.
func (c RealClock) SleepUntil(ctx context.Context, t time.Time) error {
	if d := time.Until(t) - c.Spin; d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// FakeClock is a manual Clock for tests, here and in other packages: the
// engine loop runs on it without real sleeps.
//
// By default SleepUntil jumps the clock straight to the deadline (auto
// advance), so the loop runs as fast as the CPU allows while seeing exact
// fake times: a 90 Hz engine measures 90 FPS. SetAutoAdvance(false) makes
// SleepUntil block until Advance or Set moves the clock past the deadline
// (use WaitSleepers to know when the loop is waiting).
//
// SetNowStep(d) makes every Now call move the clock on by d after reading
// it: since the engine calls Now at the start and the end of each tick,
// each tick then appears to take d, which drives the engine's tick-time
// statistics, overrun counting and dynamic quality from a test.
//
// FakeClock is safe for concurrent use.
type FakeClock struct {
	mu       sync.Mutex
	now      time.Time
	step     time.Duration
	manual   bool
	changed  chan struct{} // closed and replaced whenever now or sleepers change
	sleepers int
}

var _ Clock = (*FakeClock)(nil)

// NewFakeClock returns an auto-advancing fake clock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, changed: make(chan struct{})}
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Now returns the fake time, then moves it on by the Now step (if any).
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	if c.step > 0 {
		c.now = c.now.Add(c.step)
		c.notifyLocked()
	}
	return t
}

// SleepUntil returns when the clock reaches t: at once in auto-advance mode
// (moving the clock to t if it is earlier), else when Advance or Set gets
// there, or when ctx ends.
func (c *FakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if !c.manual {
		if c.now.Before(t) {
			c.now = t
			c.notifyLocked()
		}
		c.mu.Unlock()
		return ctx.Err()
	}
	if !c.now.Before(t) {
		c.mu.Unlock()
		return nil // due already: never counted as a sleeper
	}
	c.sleepers++
	c.notifyLocked()
	defer func() {
		c.mu.Lock()
		c.sleepers--
		c.notifyLocked()
		c.mu.Unlock()
	}()
	for {
		if !c.now.Before(t) {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		if !c.manual {
			if c.now.Before(t) {
				c.now = t
				c.notifyLocked()
			}
			c.mu.Unlock()
			return nil
		}
	}
}

// Advance moves the clock on by d, waking sleepers whose deadline passed.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.notifyLocked()
}

// Set moves the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.notifyLocked()
}

// SetNowStep sets how far each Now call moves the clock on (0 to stop).
func (c *FakeClock) SetNowStep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}

// SetAutoAdvance selects auto-advance (true, the default) or manual mode.
func (c *FakeClock) SetAutoAdvance(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.manual = !on
	c.notifyLocked()
}

// WaitSleepers blocks until at least n goroutines are blocked in
// SleepUntil (manual mode) on a deadline still ahead, or ctx ends. A
// sleeper stays counted until SleepUntil returns.
func (c *FakeClock) WaitSleepers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.sleepers >= n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
