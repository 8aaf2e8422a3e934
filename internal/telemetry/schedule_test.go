package telemetry

import (
	"testing"
	"time"
)

func TestDueSchedule(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		perTick float64
		ticks   []uint64 // ticks the poll sees
		want    int
	}{
		{"every tick", 90, 90, seq(1, 90), 90},
		{"a third", 30, 90, seq(1, 90), 30},
		{"2.25 ticks apart", 40, 90, seq(1, 90), 40},
		{"1 Hz", 1, 90, seq(1, 270), 3},
		{"engine at 60 Hz", 30, 60, seq(1, 60), 30},
		{"missed ticks are not made up", 90, 90, []uint64{1, 2, 5, 6}, 4},
		{"a backwards tick count restarts", 30, 90, []uint64{1000, 1001, 1002, 1003, 1, 2, 3, 4}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{}
			tc := &topicConfig{on: true, rate: tt.rate, gen: 1}
			got := 0
			for _, tick := range tt.ticks {
				if c.due(topicPlayerI, tc, tick, tt.perTick) {
					got++
				}
			}
			if got != tt.want {
				t.Errorf("due %d times, want %d", got, tt.want)
			}
		})
	}
}

func TestDueRestartsOnResubscribe(t *testing.T) {
	c := &conn{}
	tc := &topicConfig{on: true, rate: 1, gen: 1}
	if !c.due(topicPerfI, tc, 10, 90) || c.due(topicPerfI, tc, 11, 90) {
		t.Fatal("1 Hz: want due at 10, not at 11")
	}
	tc.gen = 2
	if !c.due(topicPerfI, tc, 12, 90) {
		t.Error("a new subscription is not due at once")
	}
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestNextPoll(t *testing.T) {
	period := 90 * time.Millisecond // easy eighths
	now := time.Unix(1000, 0)
	tests := []struct {
		name  string
		fresh bool
		wall  time.Time
		want  time.Duration
	}{
		{"nothing new: retry soon", false, now, period / 8},
		{"fresh, just published", true, now, period + period/8},
		{"fresh, published 30 ms ago", true, now.Add(-30 * time.Millisecond), period - 30*time.Millisecond + period/8},
		{"fresh but old: we are late", true, now.Add(-period), period / 8},
		{"no wall time", true, time.Time{}, period},
		{"wall time from another clock", true, now.Add(time.Hour), period},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextPoll(period, tt.fresh, tt.wall, now); got != tt.want {
				t.Errorf("nextPoll = %s, want %s", got, tt.want)
			}
		})
	}
}
