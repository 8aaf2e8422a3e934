package audit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

func TestNewNeedsASink(t *testing.T) {
	tests := []struct {
		name  string
		sinks []audit.Sink
	}{
		{"none", nil},
		{"nil sink", []audit.Sink{audit.NewMemorySink(1), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := audit.New(audit.Options{}, tt.sinks...)
			if !errors.Is(err, audit.ErrNoSink) || l != nil {
				t.Errorf("New = %v, %v; want nil, ErrNoSink", l, err)
			}
		})
	}
}

func TestNilLoggerIsDisabled(t *testing.T) {
	var l *audit.Logger
	l.Record(audit.Record{Method: "GET"})
	if err := l.Flush(context.Background()); err != nil {
		t.Errorf("Flush = %v", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("Close = %v", err)
	}
	if ok, why := l.Healthy(); !ok {
		t.Errorf("Healthy = false, %q", why)
	}
	if got := l.Dropped(); got != 0 {
		t.Errorf("Dropped = %d", got)
	}
}

// TestConcurrentRecordsAllWritten: 50 goroutines x 200 records, then Close:
// exactly one line per record, each request id once.
func TestConcurrentRecordsAllWritten(t *testing.T) {
	const goroutines, each = 50, 200
	tests := []struct {
		name     string
		opts     audit.Options
		maxBytes int64
	}{
		{"queue holds all", audit.Options{QueueSize: goroutines * each}, 0},
		{"callers wait for room", audit.Options{QueueSize: 64, BatchSize: 16, EnqueueWait: time.Hour}, 0},
		{"with rotation", audit.Options{QueueSize: goroutines * each}, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit_test.log", MaxBytes: tt.maxBytes, MaxBackups: 1000})
			if err != nil {
				t.Fatal(err)
			}
			l := newLogger(t, tt.opts, fs)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range each {
						l.Record(audit.Record{
							RequestID: fmt.Sprintf("g%02d-%03d", g, i),
							Principal: fmt.Sprintf("key-%d", g),
							Method:    "GET",
							Route:     "GET /scene",
							Path:      "/scene",
							Status:    200,
						})
					}
				})
			}
			wg.Wait()
			if err := l.Close(ctxTimeout(t)); err != nil {
				t.Fatalf("Close: %v", err)
			}

			files, _ := filepath.Glob(filepath.Join(dir, "audit_test.log*"))
			var got []audit.Record
			for _, f := range files {
				got = append(got, readLines(t, f)...)
			}
			if len(got) != goroutines*each {
				t.Errorf("lines = %d in %d files, want %d", len(got), len(files), goroutines*each)
			}
			seen := make(map[string]int)
			for _, r := range got {
				seen[r.RequestID]++
			}
			for g := range goroutines {
				for i := range each {
					if id := fmt.Sprintf("g%02d-%03d", g, i); seen[id] != 1 {
						t.Fatalf("request %s written %d times", id, seen[id])
					}
				}
			}
			st := l.Stats()
			if st.Written != goroutines*each || st.Dropped != 0 || st.SinkErrors != 0 {
				t.Errorf("stats = %+v, want %d written, none dropped, no errors", st, goroutines*each)
			}
			if tt.maxBytes > 0 && len(files) < 2 {
				t.Errorf("files = %d, want a rotation", len(files))
			}
		})
	}
}

// TestCloseDrainsQueue: records queued while the writer is busy are all
// written by Close.
func TestCloseDrainsQueue(t *testing.T) {
	sink := newBlockingSink()
	l := newLogger(t, audit.Options{QueueSize: 256}, sink)
	l.Record(audit.Record{RequestID: "r000"})
	<-sink.entered // the writer now holds r000 and waits
	for i := 1; i <= 200; i++ {
		l.Record(audit.Record{RequestID: fmt.Sprintf("r%03d", i)})
	}
	if got := l.Stats().Queued; got == 0 {
		t.Errorf("queued = 0 while the sink blocks, want records waiting")
	}
	close(sink.release)
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var want []string
	for i := 0; i <= 200; i++ {
		want = append(want, fmt.Sprintf("r%03d", i))
	}
	if got := ids(sink.mem.Records()); !slices.Equal(got, want) {
		t.Errorf("written %d records %v...\nwant %d in order", len(got), got[:min(5, len(got))], len(want))
	}
	if got := l.Dropped(); got != 0 {
		t.Errorf("dropped = %d", got)
	}
}

// TestOverflowCountedAndReported: a blocked sink fills the queue; Record
// returns (after at most EnqueueWait) and the drops are counted and
// reported once.
func TestOverflowCountedAndReported(t *testing.T) {
	const queue, extra = 4, 6
	log, msgs := newCapture()
	sink := newBlockingSink()
	l := newLogger(t, audit.Options{QueueSize: queue, Logger: log}, sink)

	l.Record(audit.Record{RequestID: "first"})
	<-sink.entered // the writer is stuck in Write holding "first"
	for i := range queue + extra {
		l.Record(audit.Record{RequestID: fmt.Sprintf("r%d", i)}) // returns: that is the test
	}
	st := l.Stats()
	if st.DroppedFull != extra || l.Dropped() != extra || st.Queued != queue {
		t.Errorf("dropped full = %d, Dropped() = %d, queued = %d; want %d, %d, %d",
			st.DroppedFull, l.Dropped(), st.Queued, extra, extra, queue)
	}
	if ok, why := l.Healthy(); ok || !strings.Contains(why, "queue full") {
		t.Errorf("Healthy = %v, %q; want false, queue full", ok, why)
	}
	if got := countContaining(msgs(), "audit queue full"); got != 1 {
		t.Errorf("overflow warnings = %d, want 1 for one episode", got)
	}

	close(sink.release)
	if err := l.Flush(ctxTimeout(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	l.Record(audit.Record{RequestID: "after"}) // ends the episode
	if err := l.Flush(ctxTimeout(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if ok, why := l.Healthy(); !ok {
		t.Errorf("Healthy after recovery = false, %q", why)
	}
	if got := countContaining(msgs(), "accepting records again"); got != 1 {
		t.Errorf("recovery reports = %d, want 1", got)
	}
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{"first", "r0", "r1", "r2", "r3", "after"}
	if got := ids(sink.mem.Records()); !slices.Equal(got, want) {
		t.Errorf("written = %v, want %v", got, want)
	}
	if got := l.Stats().Written; got != uint64(len(want)) {
		t.Errorf("stats written = %d, want %d", got, len(want))
	}
}

func TestRecordAfterCloseDropped(t *testing.T) {
	log, msgs := newCapture()
	mem := audit.NewMemorySink(10)
	l := newLogger(t, audit.Options{Logger: log}, mem)
	l.Record(audit.Record{RequestID: "before"})
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	l.Record(audit.Record{RequestID: "late1"})
	l.Record(audit.Record{RequestID: "late2"})
	st := l.Stats()
	if st.DroppedClosed != 2 || st.Dropped != 2 || st.Written != 1 {
		t.Errorf("stats = %+v, want 2 dropped after close, 1 written", st)
	}
	if got := countContaining(msgs(), "after close"); got != 1 {
		t.Errorf("after-close warnings = %d, want 1", got)
	}
	if ok, why := l.Healthy(); ok || !strings.Contains(why, "closed") {
		t.Errorf("Healthy = %v, %q; want false, closed", ok, why)
	}
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := l.Flush(ctxTimeout(t)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if got := ids(mem.Records()); !slices.Equal(got, []string{"before"}) {
		t.Errorf("written = %v", got)
	}
}

// TestSinkFailureRetried: a sink failing N times makes the Logger
// unhealthy; the records are retried with doubling backoff and written
// exactly once when it recovers.
func TestSinkFailureRetried(t *testing.T) {
	tests := []struct {
		name    string
		fails   int
		partial int
	}{
		{"whole batches fail", 3, 0},
		{"partial writes", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 10
			timer := newManualTimer()
			sink := &flakySink{fails: tt.fails, partial: tt.partial, mem: audit.NewMemorySink(100)}
			l := newLogger(t, audit.Options{
				BatchSize: 4, MinBackoff: time.Second, MaxBackoff: 3 * time.Second, After: timer.After,
			}, sink)
			for i := range n {
				l.Record(audit.Record{RequestID: fmt.Sprintf("r%02d", i)})
			}
			var delays []time.Duration
			for range tt.fails {
				delays = append(delays, <-timer.requested) // a failure was recorded
				ok, why := l.Healthy()
				if ok || !strings.Contains(why, "flaky failing") || !strings.Contains(why, errDiskFull.Error()) {
					t.Errorf("Healthy = %v, %q; want false naming the sink and its error", ok, why)
				}
				timer.fire <- time.Time{}
			}
			if err := l.Flush(ctxTimeout(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if ok, why := l.Healthy(); !ok {
				t.Errorf("Healthy after recovery = false, %q", why)
			}
			if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(delays, want) {
				t.Errorf("backoff = %v, want %v", delays, want)
			}
			st := l.Stats()
			if st.SinkErrors != uint64(tt.fails) || st.Written != n || st.Pending != 0 || st.Dropped != 0 {
				t.Errorf("stats = %+v, want %d errors, %d written", st, tt.fails, n)
			}
			var want []string
			for i := range n {
				want = append(want, fmt.Sprintf("r%02d", i))
			}
			if got := ids(sink.mem.Records()); !slices.Equal(got, want) {
				t.Errorf("sink holds %v\nwant %v (each once, in order)", got, want)
			}
		})
	}
}

// TestCloseGivesUpWhenContextEnds: a sink that never recovers loses its
// records at Close once the context ends; they are counted.
func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	const n = 5
	timer := newManualTimer()
	sink := &flakySink{fails: 1 << 30, mem: audit.NewMemorySink(10)}
	l := newLogger(t, audit.Options{After: timer.After}, sink)
	for i := range n {
		l.Record(audit.Record{RequestID: fmt.Sprint(i)})
	}
	<-timer.requested // failed once
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Close(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "5 records not written") {
		t.Errorf("Close = %v, want 5 records not written: context canceled", err)
	}
	if st := l.Stats(); st.DroppedShutdown != n || st.Dropped != n || st.Written != 0 {
		t.Errorf("stats = %+v, want %d dropped at shutdown", st, n)
	}
}

// TestRetryBufferBounded: while a sink fails, at most RetryBuffer records
// are held; the rest wait in the queue and then drop, counted.
func TestRetryBufferBounded(t *testing.T) {
	const retryBuf, queue, total = 8, 4, 20
	timer := newManualTimer()
	sink := &flakySink{fails: 1 << 30, mem: audit.NewMemorySink(10)}
	l := newLogger(t, audit.Options{RetryBuffer: retryBuf, QueueSize: queue, EnqueueWait: -1, After: timer.After}, sink)
	l.Record(audit.Record{RequestID: "first"})
	<-timer.requested // failing, "first" held
	for i := range total - 1 {
		l.Record(audit.Record{RequestID: fmt.Sprint(i)})
	}
	// Recover the sink and fire the retry.
	sink.mu.Lock()
	sink.fails = 0
	sink.mu.Unlock()
	timer.fire <- time.Time{}
	if err := l.Flush(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Written+st.DroppedFull != total {
		t.Errorf("written %d + dropped %d != %d submitted", st.Written, st.DroppedFull, total)
	}
	if st.Written > retryBuf+queue {
		t.Errorf("written = %d, want at most retry buffer + queue = %d", st.Written, retryBuf+queue)
	}
	if st.DroppedFull == 0 {
		t.Errorf("no drops: the retry buffer is not bounded")
	}
}

// TestFlushSeesEarlierRecords: Flush returns once every earlier record is
// stored.
func TestFlushSeesEarlierRecords(t *testing.T) {
	mem := audit.NewMemorySink(1000)
	l := newLogger(t, audit.Options{}, mem)
	for round := 1; round <= 3; round++ {
		for i := range 100 {
			l.Record(audit.Record{RequestID: fmt.Sprint(round, "-", i)})
		}
		if err := l.Flush(ctxTimeout(t)); err != nil {
			t.Fatal(err)
		}
		if got := len(mem.Records()); got != round*100 {
			t.Errorf("round %d: stored %d, want %d", round, got, round*100)
		}
	}
}

// TestMultipleSinks: a failing sink does not hold up a healthy one; each
// gets every record once.
func TestMultipleSinks(t *testing.T) {
	timer := newManualTimer()
	good := audit.NewMemorySink(100)
	bad := &flakySink{fails: 1, mem: audit.NewMemorySink(100)}
	l := newLogger(t, audit.Options{After: timer.After}, good, bad)
	for i := range 10 {
		l.Record(audit.Record{RequestID: fmt.Sprint(i)})
	}
	<-timer.requested
	timer.fire <- time.Time{}
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	for name, got := range map[string][]string{"good": ids(good.Records()), "bad": ids(bad.mem.Records())} {
		if !slices.Equal(got, want) {
			t.Errorf("%s sink = %v, want %v", name, got, want)
		}
	}
	st := l.Stats()
	if len(st.Sinks) != 2 || st.Sinks[0].Name != "memory" || st.Sinks[1].Name != "flaky" || st.Sinks[1].Errors != 1 {
		t.Errorf("sink stats = %+v", st.Sinks)
	}
}

func TestRecordStampsTime(t *testing.T) {
	mem := audit.NewMemorySink(10)
	l := newLogger(t, audit.Options{Now: fixedClock(base)}, mem)
	given := time.Date(2031, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*3600))
	l.Record(audit.Record{RequestID: "stamped"})
	l.Record(audit.Record{RequestID: "given", Time: given})
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	got := mem.Records()
	if len(got) != 2 {
		t.Fatalf("records = %d", len(got))
	}
	if !got[0].Time.Equal(base) || got[0].Principal != audit.Anonymous {
		t.Errorf("stamped = %v %q, want %v anonymous", got[0].Time, got[0].Principal, base)
	}
	if !got[1].Time.Equal(given) || got[1].Time.Location() != time.UTC {
		t.Errorf("given = %v, want %v in UTC", got[1].Time, given)
	}
}
