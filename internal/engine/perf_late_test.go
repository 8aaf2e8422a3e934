package engine

import (
	"testing"
	"time"
)

// The loop's jitter is how late ticks start against their schedule, apart
// from how long they take.
func TestPerfStatsMeasuresStartLateness(t *testing.T) {
	p := newPerfStats(90, 100)
	t0 := time.Unix(0, 0)
	budget := time.Second / 90
	for k := range 100 {
		deadline := t0.Add(time.Duration(k) * budget)
		late := time.Duration(0)
		if k%10 == 9 { // one tick in ten starts 2 ms late
			late = 2 * time.Millisecond
		}
		start := deadline.Add(late)
		p.observe(deadline, start, start.Add(3*time.Millisecond))
	}
	p.percentiles()
	if got, want := p.lateP99, 2*time.Millisecond; got != want {
		t.Errorf("late p99 = %v, want %v", got, want)
	}
	if got, want := p.p99, 3*time.Millisecond; got != want {
		t.Errorf("duration p99 = %v, want %v (lateness must not leak into durations)", got, want)
	}

	early := newPerfStats(90, 10)
	early.observe(t0.Add(time.Millisecond), t0, t0.Add(time.Millisecond)) // a tick that started early counts as on time
	early.percentiles()
	if early.lateP99 != 0 {
		t.Errorf("an early start gave lateness %v, want 0", early.lateP99)
	}
}
