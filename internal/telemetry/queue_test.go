package telemetry

import (
	"testing"
	"time"
)

func frame(n int) outItem { return outItem{size: n, stream: true} }

func ctrlItem(n int) outItem { return outItem{size: n, ctrl: true} }

func sizes(items []outItem) []int {
	var out []int
	for _, it := range items {
		out = append(out, it.size)
	}
	return out
}

func TestQueueDropsOldestFrame(t *testing.T) {
	now := time.Unix(0, 0)
	q := newSendQueue(3, 2)
	var streaks []int
	var dropped int
	for i := 1; i <= 5; i++ {
		r := q.push(now, frame(i))
		if r.dropped > 0 {
			dropped++
		}
		streaks = append(streaks, r.streak)
	}
	if dropped != 2 {
		t.Errorf("dropped %d, want 2", dropped)
	}
	if got, want := sizes(q.take(nil)), []int{3, 4, 5}; !equalInts(got, want) {
		t.Errorf("queue = %v, want %v (the newest)", got, want)
	}
	if want := []int{0, 0, 0, 1, 2}; !equalInts(streaks, want) {
		t.Errorf("streaks = %v, want %v", streaks, want)
	}
	if r := q.push(now, frame(6)); r.streak != 0 || r.dropped > 0 {
		t.Errorf("after take: %+v, want the streak restarted", r)
	}
}

func TestQueueKeepsControlItemsInOrder(t *testing.T) {
	now := time.Unix(0, 0)
	q := newSendQueue(2, 2)
	q.push(now, frame(1))
	q.push(now, ctrlItem(100))
	q.push(now, frame(2))
	q.push(now, frame(3)) // drops frame 1, not the control item
	if r := q.push(now, ctrlItem(101)); r.overflow {
		t.Fatalf("second control item overflowed")
	}
	if r := q.push(now, ctrlItem(102)); !r.overflow {
		t.Errorf("third control item fitted in a queue of 2")
	}
	if got, want := sizes(q.take(nil)), []int{100, 2, 3, 101}; !equalInts(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
}

func TestQueueBehind(t *testing.T) {
	t0 := time.Unix(100, 0)
	q := newSendQueue(4, 4)
	if r := q.push(t0, frame(1)); r.behind != 0 {
		t.Errorf("first push behind %s, want 0", r.behind)
	}
	if r := q.push(t0.Add(3*time.Second), frame(2)); r.behind != 3*time.Second {
		t.Errorf("behind = %s, want 3s (since the queue stopped being empty)", r.behind)
	}
	q.take(nil)
	if r := q.push(t0.Add(5*time.Second), frame(3)); r.behind != 0 {
		t.Errorf("after take behind = %s, want 0", r.behind)
	}
}

func TestQueueClosed(t *testing.T) {
	q := newSendQueue(2, 2)
	q.push(time.Time{}, frame(1))
	q.close()
	if r := q.push(time.Time{}, frame(2)); !r.closed {
		t.Errorf("push after close: %+v", r)
	}
	if n := q.len(); n != 0 {
		t.Errorf("len after close = %d", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
