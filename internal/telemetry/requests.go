package telemetry

import (
	"math"
	"sync"
	"time"
)

// RequestSource reports the recent HTTP request rate and latency for the
// perf topic. The hub calls RequestStats at most once per perf frame from
// its poll goroutine (and for get_snapshot); it must be cheap and safe
// for concurrent use.
type RequestSource interface {
	RequestStats() RequestStats
}

// RequestStats are the API's requests over the last RequestWindowSeconds.
type RequestStats struct {
	RPS   float64 // requests per second
	P50Ms float64 // median latency, milliseconds
	P95Ms float64 // 95th percentile latency, milliseconds
}

// RequestWindowSeconds is the span of a RequestWindow: the perf topic's
// http_* figures cover about the last 10 s.
const RequestWindowSeconds = 10

// Latency histogram of one second of a RequestWindow: bucket i holds
// durations in [latBase·2^(i/4), latBase·2^((i+1)/4)), the first also
// everything shorter, the last everything longer. Four buckets per
// doubling keep a percentile within about 9 % (half a bucket); 10 µs to
// 10 µs·2^24 ≈ 168 s.
const (
	latBase      = 10 * time.Microsecond
	latPerDouble = 4
	latBuckets   = 24*latPerDouble + 1
)

// reqSecond is one second of observations.
type reqSecond struct {
	sec     int64 // Unix second; 0: unused
	n       uint64
	buckets [latBuckets]uint32
}

// RequestWindow is a rolling window of HTTP request observations: the
// request rate and latency percentiles of the last RequestWindowSeconds,
// in constant memory (one latency histogram per second). Observe is
// called once per request by the API's middleware; RequestStats by the
// hub. Safe for concurrent use.
type RequestWindow struct {
	now   func() time.Time
	start time.Time

	mu   sync.Mutex
	secs [RequestWindowSeconds]reqSecond
}

var _ RequestSource = (*RequestWindow)(nil)

// NewRequestWindow returns an empty window on the clock now (nil:
// time.Now).
func NewRequestWindow(now func() time.Time) *RequestWindow {
	if now == nil {
		now = time.Now
	}
	return &RequestWindow{now: now, start: now()}
}

// Observe records one request that took d.
func (w *RequestWindow) Observe(d time.Duration) {
	i := latBucket(d)
	sec := w.now().Unix()
	w.mu.Lock()
	s := &w.secs[sec%RequestWindowSeconds]
	if s.sec != sec {
		*s = reqSecond{sec: sec}
	}
	s.n++
	s.buckets[i]++
	w.mu.Unlock()
}

// latBucket is the histogram bucket of d.
func latBucket(d time.Duration) int {
	if d <= latBase {
		return 0
	}
	i := int(math.Floor(latPerDouble * math.Log2(float64(d)/float64(latBase))))
	return min(max(i, 0), latBuckets-1)
}

// latBucketMs is the representative latency of bucket i in milliseconds:
// its geometric middle.
func latBucketMs(i int) float64 {
	return float64(latBase) / float64(time.Millisecond) * math.Exp2((float64(i)+0.5)/latPerDouble)
}

// RequestStats returns the rate and latency percentiles of the requests
// of the last RequestWindowSeconds (the current second included; the rate
// is over the time actually covered, so it is right from the first
// seconds after NewRequestWindow on).
func (w *RequestWindow) RequestStats() RequestStats {
	now := w.now()
	cur := now.Unix()
	var (
		n   uint64
		agg [latBuckets]uint64
	)
	w.mu.Lock()
	for i := range w.secs {
		s := &w.secs[i]
		if s.sec == 0 || s.sec > cur || s.sec <= cur-RequestWindowSeconds {
			continue
		}
		n += s.n
		for j, c := range s.buckets {
			agg[j] += uint64(c)
		}
	}
	w.mu.Unlock()
	if n == 0 {
		return RequestStats{}
	}
	from := time.Unix(cur-RequestWindowSeconds+1, 0)
	if w.start.After(from) {
		from = w.start
	}
	span := max(now.Sub(from), time.Second).Seconds()
	return RequestStats{
		RPS:   float64(n) / span,
		P50Ms: percentile(&agg, n, 0.50),
		P95Ms: percentile(&agg, n, 0.95),
	}
}

// percentile is the q-quantile of the histogram h of n observations.
func percentile(h *[latBuckets]uint64, n uint64, q float64) float64 {
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return latBucketMs(i)
		}
	}
	return latBucketMs(latBuckets - 1)
}
