package engine

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestRealClockSleepUntil(t *testing.T) {
	c := RealClock{}
	if err := c.SleepUntil(context.Background(), c.Now().Add(-time.Second)); err != nil {
		t.Errorf("past deadline: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SleepUntil(ctx, c.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v, want context.Canceled", err)
	}
}

func TestRealClockSpinNeverReturnsEarly(t *testing.T) {
	for _, spin := range []time.Duration{0, DefaultSpin, time.Hour} {
		c := RealClock{Spin: spin}
		for range 20 {
			target := c.Now().Add(2 * time.Millisecond)
			if err := c.SleepUntil(context.Background(), target); err != nil {
				t.Fatal(err)
			}
			if now := c.Now(); now.Before(target) {
				t.Fatalf("spin %v: returned %v before the deadline", spin, target.Sub(now))
			}
		}
	}
	// A cancellation ends the spin too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	c := RealClock{Spin: time.Hour}
	if err := c.SleepUntil(ctx, c.Now().Add(time.Minute)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled while spinning: %v", err)
	}
}

func TestRealClockWithOneP(t *testing.T) {
	// With one P the sleep does not hold it: another goroutine runs while
	// the loop waits, and the wait still ends on time, never before.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c := RealClock{Spin: DefaultSpin}
	var ran atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				ran.Add(1)
				runtime.Gosched()
			}
		}
	}()
	for range 5 {
		target := c.Now().Add(time.Millisecond) // within holdBefore
		before := ran.Load()
		if err := c.SleepUntil(context.Background(), target); err != nil {
			t.Fatal(err)
		}
		if now := c.Now(); now.Before(target) {
			t.Fatalf("returned %v before the deadline", target.Sub(now))
		}
		if ran.Load() == before {
			t.Errorf("no other goroutine ran during a 1 ms sleep with one P")
		}
	}
	close(stop)
	<-done
}

func TestRealClockCancelledWhileSleeping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	c := RealClock{Spin: DefaultSpin}
	if err := c.SleepUntil(ctx, c.Now().Add(time.Minute)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled while sleeping: %v, want context.DeadlineExceeded", err)
	}
}

// BenchmarkRealClockLateness sleeps to deadlines one engine period apart,
// with 1 ms of work between them, and reports how late SleepUntil
// returned (p50, p99): the loop's own jitter.
func BenchmarkRealClockLateness(b *testing.B) {
	c := RealClock{Spin: DefaultSpin}
	period := time.Second / 90
	var lates []time.Duration
	next := c.Now().Add(period)
	for b.Loop() {
		if err := c.SleepUntil(context.Background(), next); err != nil {
			b.Fatal(err)
		}
		lates = append(lates, c.Now().Sub(next))
		for busy := c.Now().Add(time.Millisecond); c.Now().Before(busy); {
		}
		next = next.Add(period)
	}
	slices.Sort(lates)
	b.ReportMetric(float64(lates[len(lates)/2].Microseconds()), "µs-late-p50")
	b.ReportMetric(float64(lates[len(lates)*99/100].Microseconds()), "µs-late-p99")
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(fakeStart)
	ctx := context.Background()
	if err := c.SleepUntil(ctx, fakeStart.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(fakeStart.Add(time.Minute)) {
		t.Errorf("after an auto-advanced sleep: %v", got)
	}
	c.SetNowStep(time.Second)
	a, b := c.Now(), c.Now()
	if b.Sub(a) != time.Second {
		t.Errorf("Now step: %v apart, want 1s", b.Sub(a))
	}
	c.SetNowStep(0)
	c.SetAutoAdvance(false)
	done := make(chan error, 1)
	target := c.Now().Add(time.Hour)
	go func() { done <- c.SleepUntil(ctx, target) }()
	if err := c.WaitSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(30 * time.Minute)
	if err := c.WaitSleepers(ctx, 1); err != nil { // still asleep
		t.Fatal(err)
	}
	c.Set(target)
	if err := <-done; err != nil {
		t.Errorf("SleepUntil: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- c.SleepUntil(cctx, target.Add(time.Hour)) }()
	if err := c.WaitSleepers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled sleep: %v", err)
	}
}
