package engine

import (
	"context"
	"errors"
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
