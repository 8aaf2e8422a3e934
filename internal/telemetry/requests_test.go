package telemetry

import (
	"math"
	"testing"
	"time"
)

func TestRequestWindow(t *testing.T) {
	clock := newFakeClock()
	w := NewRequestWindow(clock.Now)
	if got := w.RequestStats(); got != (RequestStats{}) {
		t.Fatalf("empty window = %+v, want zeros", got)
	}
	// 10 s of traffic: each second 90 requests of 1 ms and 10 of 40 ms.
	for range RequestWindowSeconds {
		for range 90 {
			w.Observe(time.Millisecond)
		}
		for range 10 {
			w.Observe(40 * time.Millisecond)
		}
		clock.Advance(time.Second)
	}
	clock.Advance(-time.Millisecond) // still inside the 10th second
	got := w.RequestStats()
	if math.Abs(got.RPS-100) > 1 {
		t.Errorf("rps = %g, want about 100", got.RPS)
	}
	// Within half a histogram bucket (2^(1/8) ≈ 9 %).
	near := func(name string, got, want float64) {
		if math.Abs(got-want)/want > 0.1 {
			t.Errorf("%s = %g ms, want about %g", name, got, want)
		}
	}
	near("p50", got.P50Ms, 1)
	near("p95", got.P95Ms, 40)

	// Seconds older than the window drop out.
	clock.Advance(5 * time.Second)
	got = w.RequestStats()
	if math.Abs(got.RPS-50) > 1 {
		t.Errorf("rps 5 s later = %g, want about 50 (half the window)", got.RPS)
	}
	clock.Advance(RequestWindowSeconds * time.Second)
	if got := w.RequestStats(); got != (RequestStats{}) {
		t.Errorf("window after %d quiet seconds = %+v, want zeros", RequestWindowSeconds, got)
	}
}

func TestRequestWindowEarlyRate(t *testing.T) {
	// Two seconds after start, 20 requests are 10 per second, not 2.
	clock := newFakeClock()
	w := NewRequestWindow(clock.Now)
	for range 20 {
		w.Observe(time.Millisecond)
	}
	clock.Advance(2 * time.Second)
	if got := w.RequestStats(); math.Abs(got.RPS-10) > 0.01 {
		t.Errorf("rps = %g, want 10", got.RPS)
	}
}

func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want float64 // ms, within 10 %
	}{
		{time.Nanosecond, 0.01},
		{10 * time.Microsecond, 0.01},
		{250 * time.Microsecond, 0.25},
		{3 * time.Millisecond, 3},
		{2 * time.Second, 2000},
	}
	for _, tt := range tests {
		got := latBucketMs(latBucket(tt.d))
		if math.Abs(got-tt.want)/tt.want > 0.1 {
			t.Errorf("%v: bucket value %g ms, want about %g", tt.d, got, tt.want)
		}
	}
	if latBucket(time.Hour) != latBuckets-1 || latBucket(-time.Second) != 0 {
		t.Error("out-of-range durations are not clamped to the end buckets")
	}
}

type fixedRequests RequestStats

func (f fixedRequests) RequestStats() RequestStats { return RequestStats(f) }

func TestPerfCarriesHTTPFigures(t *testing.T) {
	h := newHarness(t, HubOptions{Requests: fixedRequests{RPS: 12.345, P50Ms: 0.8123, P95Ms: 4.56789}})
	c := h.connect()
	c.subscribe(90, TopicPerf)
	h.step(1)
	msgs := c.sync()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want one perf frame", len(msgs))
	}
	var perf PerfData
	decode(t, msgs[0].Data, &perf)
	if perf.HTTPRPS != 12.35 || perf.HTTPP50Ms != 0.812 || perf.HTTPP95Ms != 4.568 {
		t.Errorf("perf http = %g rps, p50 %g, p95 %g; want 12.35, 0.812, 4.568", perf.HTTPRPS, perf.HTTPP50Ms, perf.HTTPP95Ms)
	}
}
