package engine

import (
	"slices"
	"time"
)

// Measurement and quality-control tuning.
const (
	// durationWindow is how many recent tick durations the p50/p99/max
	// are taken over (about 2.8 s at 90 Hz).
	durationWindow = 256
	// statsEvery is how often (in ticks) the percentiles are recomputed.
	statsEvery = 8

	// degradeP99 and recoverP99 are fractions of the tick budget: an
	// interval whose p99 is above degradeP99 (or with more than one
	// overrun, or FPS below MinFPS) lowers the quality one level; one
	// below recoverP99 without overruns counts as headroom, and
	// recoverIntervals such intervals in a row raise it one level. The gap
	// between the two is the hysteresis: a level roughly doubles the cost
	// of the one below it.
	degradeP99       = 0.9
	recoverP99       = 0.4
	recoverIntervals = 3
)

// perfStats measures the loop: FPS over a sliding second, tick durations
// over a recent window, overruns.
type perfStats struct {
	budget time.Duration

	ends     []time.Time // ring of recent tick end times
	endHead  int
	endCount int

	durs     []time.Duration // ring of recent tick durations
	lates    []time.Duration // ring of how late those ticks started
	durHead  int
	durCount int
	scratch  []time.Duration
	since    int

	p50, p99, max time.Duration
	lateP99       time.Duration
	fps           float64
	overruns      uint64
	skipped       uint64
	ticks         uint64
}

func newPerfStats(fps int, window int) *perfStats {
	return &perfStats{
		budget:  time.Second / time.Duration(fps),
		ends:    make([]time.Time, 2*fps+2),
		durs:    make([]time.Duration, window),
		lates:   make([]time.Duration, window),
		scratch: make([]time.Duration, window),
	}
}

// observe records one tick scheduled for deadline that ran from start to
// end. How late it started is the loop's jitter: what a subscriber or a
// headset sees beyond the tick's own duration.
func (p *perfStats) observe(deadline, start, end time.Time) time.Duration {
	d := end.Sub(start)
	p.lates[p.durHead] = max(start.Sub(deadline), 0)
	p.ticks++
	if d > p.budget {
		p.overruns++
	}
	p.durs[p.durHead] = d
	p.durHead = (p.durHead + 1) % len(p.durs)
	p.durCount = min(p.durCount+1, len(p.durs))
	p.ends[p.endHead] = end
	p.endHead = (p.endHead + 1) % len(p.ends)
	p.endCount = min(p.endCount+1, len(p.ends))
	p.fps = p.rate(end)
	p.since++
	if p.since >= statsEvery || p.durCount < statsEvery {
		p.since = 0
		p.percentiles()
	}
	return d
}

// rate is the tick rate over the second before now: the n−1 intervals
// between the n ticks that ended within it, plus the fraction inside it
// of the interval that straddles its start, per second. Ticks that
// resume after a stall thus read as the few ticks the second held, not as
// the rate of the last two. Before a tick older than a second exists, it
// is (n−1)/(newest−oldest).
func (p *perfStats) rate(now time.Time) float64 {
	n := 0
	var oldest, prev time.Time
	for i := 1; i <= p.endCount; i++ {
		e := p.ends[(p.endHead-i+len(p.ends))%len(p.ends)]
		if now.Sub(e) >= time.Second {
			prev = e
			break
		}
		n, oldest = n+1, e
	}
	if n > 0 && !prev.IsZero() {
		inside := oldest.Sub(now.Add(-time.Second))
		return float64(n-1) + float64(inside)/float64(oldest.Sub(prev))
	}
	span := now.Sub(oldest)
	if n < 2 || span <= 0 {
		return 0
	}
	return float64(n-1) / span.Seconds()
}

func (p *perfStats) percentiles() {
	s := p.scratch[:p.durCount]
	copy(s, p.durs[:p.durCount])
	slices.Sort(s)
	p.p50 = nearestRank(s, 0.50)
	p.p99 = nearestRank(s, 0.99)
	p.max = s[len(s)-1]
	copy(s, p.lates[:p.durCount])
	slices.Sort(s)
	p.lateP99 = nearestRank(s, 0.99)
}

// nearestRank is the q-quantile of sorted s (nearest-rank method).
func nearestRank(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// qualityController picks the quality level from measured tick durations,
// evaluated once per interval (one second of ticks).
type qualityController struct {
	enabled  bool
	level    int
	budget   time.Duration
	minFPS   float64
	interval int
	window   []time.Duration
	overruns int
	good     int
}

func newQualityController(enabled bool, fps int, minFPS float64) *qualityController {
	return &qualityController{
		enabled:  enabled,
		budget:   time.Second / time.Duration(fps),
		minFPS:   minFPS,
		interval: fps,
		window:   make([]time.Duration, 0, fps),
	}
}

// observe adds one tick's duration and the current FPS; at the end of an
// interval it returns the level to use and whether it changed.
func (q *qualityController) observe(d time.Duration, fps float64) (int, bool) {
	if !q.enabled {
		return q.level, false
	}
	q.window = append(q.window, d)
	if d > q.budget {
		q.overruns++
	}
	if len(q.window) < q.interval {
		return q.level, false
	}
	slices.Sort(q.window)
	p99 := nearestRank(q.window, 0.99)
	overruns := q.overruns
	q.window, q.overruns = q.window[:0], 0
	old := q.level
	switch {
	case overruns > 1 || p99 > time.Duration(degradeP99*float64(q.budget)) || (fps > 0 && fps < q.minFPS):
		q.good = 0
		if q.level < MaxQualityLevel {
			q.level++
		}
	case overruns == 0 && p99 < time.Duration(recoverP99*float64(q.budget)):
		q.good++
		if q.good >= recoverIntervals && q.level > 0 {
			q.level--
			q.good = 0
		}
	default:
		q.good = 0
	}
	return q.level, q.level != old
}
