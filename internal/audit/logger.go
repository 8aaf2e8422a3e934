package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors.
var (
	// ErrClosed is returned by operations on a closed Logger or Sink.
	ErrClosed = errors.New("audit: closed")
	// ErrNoSink is returned by New without a (non-nil) sink.
	ErrNoSink = errors.New("audit: no sink")
	// ErrBadFilter wraps every problem Filter.Validate finds.
	ErrBadFilter = errors.New("audit: bad filter")
)

// Sink stores batches of records for a Logger.
//
// Concurrency and ownership: a Logger calls Write from its single writer
// goroutine only, never concurrently, with records already normalized
// (UTC time, capped fields). Write must not retain recs after it returns.
// A nil error means every record is stored. An error means none is, unless
// it wraps a *PartialError, which says how many leading records are. The
// Logger keeps the unstored records and retries them later with backoff, so
// a Sink must never store a record it reports as unstored (no duplicates).
// Write should return promptly once ctx is done: Close cancels it when its
// own context ends. If a Sink implements io.Closer, Logger.Close closes it
// after the last write. If it implements fmt.Stringer, the string names it
// in Healthy and Stats.
type Sink interface {
	Write(ctx context.Context, recs []Record) error
}

// PartialError reports a Sink write that stored only the first Written
// records of its batch before failing with Err.
type PartialError struct {
	Written int
	Err     error
}

// Error implements error.
func (e *PartialError) Error() string {
	return fmt.Sprintf("audit: %d records written, then: %v", e.Written, e.Err)
}

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// Defaults for Options.
const (
	DefaultQueueSize   = 8192
	DefaultEnqueueWait = 5 * time.Millisecond
	DefaultBatchSize   = 256
	DefaultRetryBuffer = 65536
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
)

// Options configure a Logger. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// QueueSize is the capacity of the queue between Record and the writer
	// goroutine (DefaultQueueSize).
	QueueSize int
	// EnqueueWait bounds how long Record waits for room in a full queue
	// before dropping the record (DefaultEnqueueWait; negative: drop at
	// once). It is real time, not the injected clock: it bounds a caller's
	// latency.
	EnqueueWait time.Duration
	// BatchSize is the most records handed to one Sink.Write
	// (DefaultBatchSize).
	BatchSize int
	// RetryBuffer is the most records kept per sink while the sink fails
	// (DefaultRetryBuffer). When a sink's buffer is full the writer stops
	// draining the queue, so the queue fills and Record drops (counted).
	RetryBuffer int
	// MinBackoff and MaxBackoff bound the retry delay of a failing sink,
	// which doubles on each failure (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Now stamps records that arrive without a time (time.Now).
	Now func() time.Time
	// After waits out a retry backoff (time.After); tests inject a fake.
	After func(time.Duration) <-chan time.Time
	// Logger receives overflow and sink-failure reports (discarded if nil).
	Logger *slog.Logger
}

// Stats are a Logger's counters.
type Stats struct {
	// Queued is the number of records waiting in the queue.
	Queued int
	// Pending is the largest number of records any sink holds for retry.
	Pending int
	// Written is the number of records every sink has stored.
	Written uint64
	// Dropped is DroppedFull + DroppedClosed + DroppedShutdown.
	Dropped uint64
	// DroppedFull counts records dropped because the queue stayed full for
	// EnqueueWait.
	DroppedFull uint64
	// DroppedClosed counts records submitted after Close.
	DroppedClosed uint64
	// DroppedShutdown counts records still unwritten when Close's context
	// ended.
	DroppedShutdown uint64
	// SinkErrors counts failed Sink.Write calls, over all sinks.
	SinkErrors uint64
	// Sinks has one entry per sink, in the order given to New.
	Sinks []SinkStats
}

// SinkStats describe one sink of a Logger.
type SinkStats struct {
	Name    string
	Written uint64
	Errors  uint64
	// Pending is the number of records held for retry.
	Pending int
	// Failing is true from a failed write until a retry succeeds.
	Failing bool
	// FailingSince is when the current failure began (zero if healthy).
	FailingSince time.Time
	// LastError is the last write error's text ("" if none yet).
	LastError string
}

// Logger queues records and writes them to its sinks from one goroutine.
// Record, Flush, Close, Stats, Dropped and Healthy are safe for concurrent
// use. A nil *Logger is a disabled audit log: Record does nothing.
type Logger struct {
	idPrefix   string        // random per logger, so IDs never repeat across processes
	idSeq      atomic.Uint64 // the rest of the record IDs
	queue      chan Record
	wait       time.Duration
	batch      int
	retryMax   int
	minBackoff time.Duration
	maxBackoff time.Duration
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time
	log        *slog.Logger

	// mu orders Close after every Record that is sending on queue: Record
	// holds it shared while it checks closed and sends, Close takes it
	// exclusively to set closed. After that no record enters the queue.
	mu     sync.RWMutex
	closed bool

	overflow        atomic.Bool // queue full, dropping, since the last accepted record
	closedWarned    atomic.Bool
	droppedFull     atomic.Uint64
	droppedClosed   atomic.Uint64
	droppedShutdown atomic.Uint64

	flushes   chan flushReq
	closing   chan struct{} // closed by the first Close
	done      chan struct{} // closed when the writer goroutine has ended
	closeErr  error         // written by the writer before done is closed
	runCtx    context.Context
	cancelRun context.CancelCauseFunc

	smu sync.Mutex  // guards pub
	pub []SinkStats // published by the writer after each delivery

	// Owned by the writer goroutine.
	sinks      []*sinkState
	taken      uint64 // records taken from the queue
	waiters    []flushReq
	backlogged bool // a retry buffer is full (reported once per episode)
}

type flushReq struct {
	target uint64
	done   chan error // buffered, 1
}

// sinkState is the writer's view of one sink: records not yet stored are
// pending[head:].
type sinkState struct {
	sink    Sink
	name    string
	pending []Record
	head    int
	written uint64
	errors  uint64
	fails   int // consecutive failures
	since   time.Time
	lastErr string
}

func (s *sinkState) backlog() int { return len(s.pending) - s.head }

// New starts a Logger writing to sinks, which it owns from now on: Close
// closes those that implement io.Closer. It fails with ErrNoSink when no
// sink is given or one is nil.
func New(opts Options, sinks ...Sink) (*Logger, error) {
	if len(sinks) == 0 {
		return nil, ErrNoSink
	}
	for i, s := range sinks {
		if s == nil {
			return nil, fmt.Errorf("%w: sink %d is nil", ErrNoSink, i)
		}
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.EnqueueWait == 0 {
		opts.EnqueueWait = DefaultEnqueueWait
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.RetryBuffer <= 0 {
		opts.RetryBuffer = DefaultRetryBuffer
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand since Go 1.24)
	l := &Logger{
		idPrefix:   hex.EncodeToString(rnd[:]) + "-",
		queue:      make(chan Record, opts.QueueSize),
		wait:       opts.EnqueueWait,
		batch:      opts.BatchSize,
		retryMax:   opts.RetryBuffer,
		minBackoff: opts.MinBackoff,
		maxBackoff: opts.MaxBackoff,
		now:        opts.Now,
		after:      opts.After,
		log:        log.With("component", "audit"),
		flushes:    make(chan flushReq),
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		pub:        make([]SinkStats, len(sinks)),
	}
	l.runCtx, l.cancelRun = context.WithCancelCause(context.Background())
	for i, s := range sinks {
		name := fmt.Sprintf("%T", s)
		if st, ok := s.(fmt.Stringer); ok {
			name = st.String()
		}
		l.sinks = append(l.sinks, &sinkState{sink: s, name: name})
		l.pub[i].Name = name
	}
	go l.run()
	return l, nil
}

// Record submits r. It stamps r.Time from the clock when zero and queues
// the record for the writer. If the queue is full it waits at most
// Options.EnqueueWait, then drops r: the drop is counted (DroppedFull) and
// the first drop of an overflow episode is logged as a warning. A record
// submitted after Close is dropped and counted (DroppedClosed), with one
// warning. Record never touches a sink or the disk.
func (l *Logger) Record(r Record) {
	if l == nil {
		return
	}
	if r.Time.IsZero() {
		r.Time = l.now()
	}
	if r.ID == "" {
		r.ID = l.idPrefix + strconv.FormatUint(l.idSeq.Add(1), 36)
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		n := l.droppedClosed.Add(1)
		if l.closedWarned.CompareAndSwap(false, true) {
			l.log.Warn("audit record submitted after close: dropped", "dropped_closed", n)
		}
		return
	}
	select {
	case l.queue <- r:
		l.mu.RUnlock()
		l.accepted()
		return
	default:
	}
	sent := false
	if l.wait > 0 {
		t := time.NewTimer(l.wait)
		select {
		case l.queue <- r:
			sent = true
		case <-t.C:
		}
		t.Stop()
	}
	l.mu.RUnlock()
	if sent {
		l.accepted()
		return
	}
	n := l.droppedFull.Add(1)
	if l.overflow.CompareAndSwap(false, true) {
		l.log.Warn("audit queue full: dropping records",
			"queue_size", cap(l.queue), "wait", l.wait, "dropped_full_total", n)
	}
}

// accepted ends an overflow episode.
func (l *Logger) accepted() {
	if l.overflow.Load() && l.overflow.CompareAndSwap(true, false) {
		l.log.Info("audit queue accepting records again", "dropped_full_total", l.droppedFull.Load())
	}
}

// Flush waits until every record submitted before the call is stored by
// every sink, or ctx ends (ctx.Err()), or the Logger closes first
// (ErrClosed).
func (l *Logger) Flush(ctx context.Context) error {
	if l == nil {
		return nil
	}
	req := flushReq{done: make(chan error, 1)}
	select {
	case l.flushes <- req:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting records, writes everything already queued (and
// held for retry) to the sinks, closes the sinks and stops the writer
// goroutine. If ctx ends first, sink writes are cancelled, the records
// still unwritten are counted as DroppedShutdown and Close returns an error
// wrapping ctx's error. A second Close waits for the first and returns nil.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	l.mu.Unlock()
	if !first {
		select {
		case <-l.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stop := context.AfterFunc(ctx, func() { l.cancelRun(ctx.Err()) })
	close(l.closing)
	<-l.done
	stop()
	l.cancelRun(ErrClosed)
	return l.closeErr
}

// Dropped returns the number of records dropped for any reason.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.droppedFull.Load() + l.droppedClosed.Load() + l.droppedShutdown.Load()
}

// Stats returns the Logger's counters.
func (l *Logger) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	st := Stats{
		Queued:          len(l.queue),
		DroppedFull:     l.droppedFull.Load(),
		DroppedClosed:   l.droppedClosed.Load(),
		DroppedShutdown: l.droppedShutdown.Load(),
	}
	st.Dropped = st.DroppedFull + st.DroppedClosed + st.DroppedShutdown
	l.smu.Lock()
	st.Sinks = append([]SinkStats(nil), l.pub...)
	l.smu.Unlock()
	for i, s := range st.Sinks {
		if i == 0 || s.Written < st.Written {
			st.Written = s.Written
		}
		st.Pending = max(st.Pending, s.Pending)
		st.SinkErrors += s.Errors
	}
	return st
}

// Healthy reports whether the audit log is keeping up: false, with the
// reasons, while a sink fails (its records held for retry), while the
// queue overflows (records dropped), and after Close.
func (l *Logger) Healthy() (bool, string) {
	if l == nil {
		return true, "disabled"
	}
	var problems []string
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		problems = append(problems, "closed")
	}
	if l.overflow.Load() {
		problems = append(problems, fmt.Sprintf("queue full: %d records dropped so far", l.droppedFull.Load()))
	}
	l.smu.Lock()
	for _, s := range l.pub {
		if s.Failing {
			problems = append(problems, fmt.Sprintf("sink %s failing since %s (%d errors, %d records held for retry): %s",
				s.Name, s.FailingSince.UTC().Format(time.RFC3339), s.Errors, s.Pending, s.LastError))
		}
	}
	l.smu.Unlock()
	if len(problems) == 0 {
		return true, "ok"
	}
	return false, strings.Join(problems, "; ")
}

// run is the writer goroutine.
func (l *Logger) run() {
	defer close(l.done)
	var retry <-chan time.Time
	for {
		var in chan Record
		if l.room() {
			in = l.queue
		}
		select {
		case r := <-in:
			l.take(r)
			l.drain(l.batch - 1)
			l.deliver(false)
		case <-retry:
			retry = nil
			l.deliver(true)
		case req := <-l.flushes:
			req.target = l.taken + uint64(len(l.queue))
			l.waiters = append(l.waiters, req)
		case <-l.closing:
			l.shutdown(retry)
			return
		}
		l.resolveWaiters()
		if retry == nil && l.failing() {
			retry = l.after(l.backoff())
		}
	}
}

// shutdown drains the queue (Close has stopped new records), writes
// everything with retries until done or Close's context ends, then closes
// the sinks.
func (l *Logger) shutdown(retry <-chan time.Time) {
	for {
		select {
		case r := <-l.queue:
			l.take(r)
			continue
		default:
		}
		break
	}
	l.deliver(true)
	for l.pendingMax() > 0 && l.runCtx.Err() == nil {
		if retry == nil {
			retry = l.after(l.backoff())
		}
		select {
		case <-retry:
			retry = nil
			l.deliver(true)
		case <-l.runCtx.Done():
		}
	}
	if lost := l.pendingMax(); lost > 0 {
		l.droppedShutdown.Add(uint64(lost))
		l.closeErr = fmt.Errorf("audit: close: %d records not written: %w", lost, context.Cause(l.runCtx))
		l.log.Error("audit records lost at shutdown", "records", lost, "err", l.closeErr)
	}
	var errs []error
	if l.closeErr != nil {
		errs = append(errs, l.closeErr)
	}
	for _, s := range l.sinks {
		if c, ok := s.sink.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("audit: close sink %s: %w", s.name, err))
			}
		}
	}
	l.closeErr = errors.Join(errs...)
	l.resolveWaiters()
	for _, w := range l.waiters {
		w.done <- ErrClosed
	}
	l.waiters = nil
	l.publish()
}

// take normalizes r and appends it to every sink's pending records.
func (l *Logger) take(r Record) {
	r.normalize(l.now)
	l.taken++
	for _, s := range l.sinks {
		s.pending = append(s.pending, r)
	}
}

// drain takes up to n more queued records without blocking, while there
// is room in the retry buffers.
func (l *Logger) drain(n int) {
	for ; n > 0 && l.room(); n-- {
		select {
		case r := <-l.queue:
			l.take(r)
		default:
			return
		}
	}
}

// room reports whether every sink can hold another record. The first
// "no" of an episode is logged.
func (l *Logger) room() bool {
	for _, s := range l.sinks {
		if s.backlog() >= l.retryMax {
			if !l.backlogged {
				l.backlogged = true
				l.log.Warn("audit retry buffer full: the queue will fill and records will be dropped",
					"sink", s.name, "records", s.backlog())
			}
			return false
		}
	}
	l.backlogged = false
	return true
}

// deliver writes pending records to every sink that is healthy, and to the
// failing ones too when retry is true.
func (l *Logger) deliver(retry bool) {
	for _, s := range l.sinks {
		if s.backlog() == 0 || (s.fails > 0 && !retry) {
			continue
		}
		l.writeSink(s)
	}
	l.publish()
}

// writeSink writes s's pending records in batches until done or a write
// fails.
func (l *Logger) writeSink(s *sinkState) {
	for s.backlog() > 0 {
		end := min(s.head+l.batch, len(s.pending))
		err := s.sink.Write(l.runCtx, s.pending[s.head:end])
		if err == nil {
			s.advance(end - s.head)
			continue
		}
		if pe, ok := errors.AsType[*PartialError](err); ok {
			s.advance(min(max(pe.Written, 0), end-s.head))
		}
		s.errors++
		s.fails++
		s.lastErr = err.Error()
		if s.fails == 1 {
			s.since = l.now()
			l.log.Error("audit sink failing: records held for retry",
				"sink", s.name, "err", err, "pending", s.backlog())
		} else {
			l.log.Debug("audit sink retry failed", "sink", s.name, "err", err,
				"attempt", s.fails, "pending", s.backlog())
		}
		return
	}
	if s.fails > 0 {
		l.log.Info("audit sink recovered", "sink", s.name, "failed_attempts", s.fails,
			"since", s.since)
		s.fails = 0
		s.since = time.Time{}
	}
}

// advance marks the next n pending records as stored.
func (s *sinkState) advance(n int) {
	clear(s.pending[s.head : s.head+n]) // let the strings go
	s.head += n
	s.written += uint64(n)
	switch {
	case s.head == len(s.pending):
		s.pending, s.head = s.pending[:0], 0
	case s.head > cap(s.pending)/2:
		k := copy(s.pending, s.pending[s.head:])
		clear(s.pending[k:])
		s.pending, s.head = s.pending[:k], 0
	}
}

// failing reports whether some sink has records waiting for a retry.
func (l *Logger) failing() bool {
	for _, s := range l.sinks {
		if s.fails > 0 && s.backlog() > 0 {
			return true
		}
	}
	return false
}

// pendingMax is the largest backlog of a sink.
func (l *Logger) pendingMax() int {
	n := 0
	for _, s := range l.sinks {
		n = max(n, s.backlog())
	}
	return n
}

// backoff is the retry delay: MinBackoff doubled per consecutive failure
// of the worst sink, at most MaxBackoff.
func (l *Logger) backoff() time.Duration {
	fails := 0
	for _, s := range l.sinks {
		fails = max(fails, s.fails)
	}
	d := l.minBackoff
	for i := 1; i < fails && d < l.maxBackoff; i++ {
		d *= 2
	}
	return min(d, l.maxBackoff)
}

// resolveWaiters answers the Flush calls whose records are all stored.
func (l *Logger) resolveWaiters() {
	if len(l.waiters) == 0 {
		return
	}
	written := l.sinks[0].written
	for _, s := range l.sinks[1:] {
		written = min(written, s.written)
	}
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if w.target <= written {
			w.done <- nil
			continue
		}
		kept = append(kept, w)
	}
	clear(l.waiters[len(kept):])
	l.waiters = kept
}

// publish copies the sink states for Stats and Healthy.
func (l *Logger) publish() {
	l.smu.Lock()
	defer l.smu.Unlock()
	for i, s := range l.sinks {
		l.pub[i] = SinkStats{
			Name:         s.name,
			Written:      s.written,
			Errors:       s.errors,
			Pending:      s.backlog(),
			Failing:      s.fails > 0,
			FailingSince: s.since,
			LastError:    s.lastErr,
		}
	}
}
