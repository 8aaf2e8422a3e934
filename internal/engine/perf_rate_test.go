package engine

import (
	"math"
	"testing"
	"time"
)

// The rate over the last second after a stall: the ticks that resume
// count as the few the second held, never as the rate of the last two
// (which read as thousands of fps right after a stall, found by
// cmd/spacetime's flood test).
func TestPerfRateAfterStall(t *testing.T) {
	p := newPerfStats(90, 64)
	t0 := time.Unix(1_000_000, 0)
	dt := time.Second / 90
	at := t0
	tick := func() float64 {
		p.observe(at, at, at)
		return p.fps
	}
	for range 180 { // two seconds at 90 Hz
		tick()
		at = at.Add(dt)
	}
	if got := p.fps; math.Abs(got-90) > 0.5 {
		t.Fatalf("steady fps = %.3f, want 90", got)
	}
	at = at.Add(1500 * time.Millisecond) // a stall
	tests := []struct {
		after    time.Duration // from the previous tick
		min, max float64
	}{
		{0, 0.4, 1},                      // the first tick after 1.5 s: two thirds of an interval in the last second
		{time.Millisecond, 1.4, 2},       // one more at once
		{time.Millisecond, 2.4, 3},       // and another
		{500 * time.Millisecond, 2.4, 4}, // half a second later
	}
	for i, tt := range tests {
		at = at.Add(tt.after)
		if got := tick(); got < tt.min || got > tt.max {
			t.Errorf("tick %d after the stall: fps %.3f, want %.1f..%.1f", i+1, got, tt.min, tt.max)
		}
	}
	for range 180 { // back to 90 Hz for two seconds
		at = at.Add(dt)
		tick()
	}
	if got := p.fps; math.Abs(got-90) > 0.5 {
		t.Errorf("fps after recovering = %.3f, want 90", got)
	}
}
