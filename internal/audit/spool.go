package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults for SpoolOptions.
const (
	DefaultSpoolMaxBytes   = 64 << 20
	DefaultSpoolBatch      = 256
	DefaultSpoolMinBackoff = 100 * time.Millisecond
	DefaultSpoolMaxBackoff = 30 * time.Second
	// DefaultSpoolCloseTimeout bounds the last replay attempt of Close.
	DefaultSpoolCloseTimeout = 5 * time.Second
)

// ErrSpoolFull is wrapped by the error a Spool returns when its file has no
// room for the records its inner sink refused.
var ErrSpoolFull = errors.New("audit: spool full")

// SpoolOptions configure a Spool.
type SpoolOptions struct {
	// Path is the spool file (created 0600; its directory 0700). Required.
	Path string
	// MaxBytes bounds the spool file (DefaultSpoolMaxBytes).
	MaxBytes int64
	// Batch is the most spooled records replayed with one inner Write
	// (DefaultSpoolBatch).
	Batch int
	// MinBackoff and MaxBackoff bound how long, after the inner sink
	// failed, new records go straight to the spool without trying the
	// inner sink; the delay doubles per consecutive failure
	// (DefaultSpoolMinBackoff, DefaultSpoolMaxBackoff). A negative
	// MinBackoff tries the inner sink on every Write.
	MinBackoff, MaxBackoff time.Duration
	// CloseTimeout bounds the last replay attempt of Close
	// (DefaultSpoolCloseTimeout; negative: Close does not replay).
	CloseTimeout time.Duration
	// Now is the clock of the backoff (time.Now).
	Now func() time.Time
	// Logger receives spool and replay reports (discarded if nil).
	Logger *slog.Logger
}

// SpoolStats are a Spool's counters.
type SpoolStats struct {
	// Records is the number of records waiting in the spool file.
	Records int
	// Bytes is the size of the spool file.
	Bytes int64
	// Spooled counts records ever appended to the spool.
	Spooled uint64
	// Replayed counts spooled records later stored by the inner sink.
	Replayed uint64
	// Full counts records refused because the spool had no room (or its
	// file could not be written): they were handed back to the Logger as an error (its retry buffer and
	// drop counters take over), not lost by the Spool.
	Full uint64
	// Malformed counts unreadable spool lines skipped (a crash mid-write).
	Malformed uint64
	// InnerFailing is true from a failed inner write until one succeeds.
	InnerFailing bool
	// LastError is the inner sink's last error ("" if none yet).
	LastError string
}

// Spool is a Sink that writes to an inner sink (the database) and, while
// the inner sink fails, keeps the records in a bounded local file of JSON
// lines, fsynced, so the Logger's queue keeps flowing and no record is lost
// while the file has room. Later writes first replay the file into the
// inner sink, in order and in batches, so the inner sink receives every
// record in its original order; a file left by a previous process is
// replayed the same way. When the file is full, Write returns the inner
// error (wrapping ErrSpoolFull) and the Logger retries the records itself.
//
// Delivery is exactly once while the process runs; a crash between an
// inner write and the spool's truncation may deliver the replayed records
// again after the restart (at least once).
//
// Spool is a Querier: Query returns the matching spooled records (newest,
// since everything spooled follows what the inner sink holds) and then the
// inner sink's answer if it is a Querier.
//
// Write, Query, Stats and Close are safe for concurrent use (serialized by
// a mutex; Stats only briefly).
type Spool struct {
	inner      Sink
	path       string
	maxBytes   int64
	batch      int
	minBackoff time.Duration
	maxBackoff time.Duration
	closeWait  time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu      sync.Mutex
	f       *os.File
	size    int64
	records int
	head    int64 // bytes at the start of the file already replayed (only if a compaction failed)
	closed  bool
	fails   int       // consecutive inner failures
	lastErr error     // the inner sink's last error
	retryAt time.Time // inner is not tried before this
	st      SpoolStats
}

var (
	_ Sink      = (*Spool)(nil)
	_ Querier   = (*Spool)(nil)
	_ io.Closer = (*Spool)(nil)
)

// NewSpool opens (or creates) the spool file of opts and returns a Spool
// writing to inner. Records left in the file by a previous process are
// replayed by the first Write that reaches inner. A partial last line is
// closed with a newline and skipped (counted as Malformed) at replay.
func NewSpool(inner Sink, opts SpoolOptions) (*Spool, error) {
	if inner == nil {
		return nil, ErrNoSink
	}
	if opts.Path == "" {
		return nil, errors.New("audit: spool: no path")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultSpoolMaxBytes
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultSpoolBatch
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = DefaultSpoolMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultSpoolMaxBackoff
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = DefaultSpoolCloseTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Spool{
		closeWait:  opts.CloseTimeout,
		inner:      inner,
		path:       opts.Path,
		maxBytes:   opts.MaxBytes,
		batch:      opts.Batch,
		minBackoff: opts.MinBackoff,
		maxBackoff: max(opts.MaxBackoff, opts.MinBackoff),
		now:        opts.Now,
		log:        log.With("component", "audit", "spool", opts.Path),
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: spool: create directory: %w", err)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	if s.records > 0 {
		s.log.Warn("audit spool holds records from a previous run; they will be replayed",
			"records", s.records, "bytes", s.size)
	}
	return s, nil
}

// open opens the file, closes a partial last line and counts the records.
func (s *Spool) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: spool: open %s: %w", s.path, err)
	}
	fail := func(what string, err error) error {
		f.Close()
		return fmt.Errorf("audit: spool: %s %s: %w", what, s.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail("stat", err)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return fail("chmod", err)
		}
	}
	size := fi.Size()
	records := 0
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return fail("read", err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return fail("repair", err)
			}
			size++
			s.log.Warn("audit spool ended in a partial line; it will be skipped")
		}
		err := scanSpool(io.NewSectionReader(f, 0, size), func(r Record, ok bool, _ int64) bool {
			if ok {
				records++
			}
			return true
		})
		if err != nil {
			return fail("read", err)
		}
	}
	s.f, s.size, s.records, s.head = f, size, records, 0
	return nil
}

// scanSpool calls fn for each line of r with the decoded record (ok false
// for a malformed line) and the offset just past the line, until fn
// returns false.
func scanSpool(r io.Reader, fn func(rec Record, ok bool, end int64) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			off += int64(len(line))
			var rec Record
			ok := line[len(line)-1] == '\n' && json.Unmarshal(bytes.TrimSpace(line), &rec) == nil
			if !fn(rec, ok, off) {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// String names the sink in Logger reports.
func (s *Spool) String() string {
	name := fmt.Sprintf("%T", s.inner)
	if st, ok := s.inner.(fmt.Stringer); ok {
		name = st.String()
	}
	return name + " (spool " + s.path + ")"
}

// Path returns the spool file's path.
func (s *Spool) Path() string { return s.path }

// Stats returns the Spool's counters.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Records, st.Bytes = s.records, s.size
	return st
}

// Healthy reports false, with the reason, while records wait in the spool
// or the inner sink fails.
func (s *Spool) Healthy() (bool, string) {
	st := s.Stats()
	switch {
	case st.InnerFailing:
		return false, fmt.Sprintf("audit sink failing (%s); %d records (%d bytes) spooled", st.LastError, st.Records, st.Bytes)
	case st.Records > 0:
		return false, fmt.Sprintf("%d audit records (%d bytes) waiting in the spool", st.Records, st.Bytes)
	}
	return true, "ok"
}

// Write stores recs in the inner sink, after replaying the spool, or else
// appends them to the spool and returns nil. See Spool.
func (s *Spool) Write(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(recs) == 0 {
		return nil
	}
	var innerErr error
	if s.fails > 0 && s.now().Before(s.retryAt) {
		innerErr = fmt.Errorf("audit: spool: inner sink in backoff: %w", s.lastErr)
	} else {
		innerErr = s.replayLocked(ctx)
	}
	written := 0
	if innerErr == nil {
		err := s.inner.Write(ctx, recs)
		if err == nil {
			s.succeeded()
			return nil
		}
		if pe, ok := errors.AsType[*PartialError](err); ok {
			written = min(max(pe.Written, 0), len(recs))
		}
		s.failed(err)
		innerErr = err
	}
	n, err := s.appendRecords(recs[written:])
	if err == nil && written+n == len(recs) {
		return nil
	}
	s.st.Full += uint64(len(recs) - written - n)
	if err == nil {
		err = ErrSpoolFull
		s.log.Error("audit spool full: records handed back to the logger",
			"records", len(recs)-written-n, "spool_bytes", s.size, "max_bytes", s.maxBytes)
	}
	err = errors.Join(innerErr, err)
	if written+n == 0 {
		return err
	}
	return &PartialError{Written: written + n, Err: err}
}

// Replay writes the spooled records to the inner sink now, ignoring the
// backoff, and returns nil when the spool is empty afterwards. Write
// replays by itself; Replay is for a caller that wants the spool drained
// without waiting for audit traffic (a periodic tick, a health check).
func (s *Spool) Replay(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.replayLocked(ctx)
}

// replayLocked replays if the spool is not empty. Caller holds mu.
func (s *Spool) replayLocked(ctx context.Context) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.size == 0 {
		return nil
	}
	if err := s.replay(ctx); err != nil {
		return err
	}
	s.succeeded()
	return nil
}

// succeeded records a successful inner write.
func (s *Spool) succeeded() {
	if s.fails > 0 {
		s.log.Info("audit sink recovered", "failed_attempts", s.fails)
	}
	s.fails = 0
	s.retryAt = time.Time{}
	s.st.InnerFailing = false
}

// failed records a failed inner write and schedules the next attempt.
func (s *Spool) failed(err error) {
	s.fails++
	s.st.InnerFailing = true
	s.lastErr = err
	s.st.LastError = err.Error()
	if s.fails == 1 {
		s.log.Error("audit sink failing: spooling records", "err", err)
	}
	if s.minBackoff < 0 {
		return
	}
	d := s.minBackoff
	for i := 1; i < s.fails && d < s.maxBackoff; i++ {
		d *= 2
	}
	s.retryAt = s.now().Add(min(d, s.maxBackoff))
}

// replay writes the spooled records to inner in batches, from the start
// of the file. When all are stored the file is truncated; when a write
// fails the records stored so far are cut from the file (rewritten) and
// the error is returned.
func (s *Spool) replay(ctx context.Context) error {
	var (
		done      = s.head // offset past the last stored (or skipped) line
		batch     []Record
		ends      []int64  // ends[i]: offset past batch[i]
		mals      []uint64 // mals[i]: malformed lines of the batch before batch[i]
		malformed uint64   // malformed lines of the batch
		writeErr  error
		stored    int
	)
	commit := func(n int) {
		if n > 0 {
			done = ends[n-1]
		}
		stored += n
		s.records -= n
		s.st.Replayed += uint64(n)
	}
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		err := s.inner.Write(ctx, batch)
		if err == nil {
			commit(len(batch))
			batch, ends, mals = batch[:0], ends[:0], mals[:0]
			return true
		}
		if pe, ok := errors.AsType[*PartialError](err); ok {
			if n := min(max(pe.Written, 0), len(batch)); n > 0 {
				commit(n)
				s.st.Malformed += mals[n-1]
			}
		}
		writeErr = err
		return false
	}
	err := scanSpool(io.NewSectionReader(s.f, s.head, s.size-s.head), func(r Record, ok bool, end int64) bool {
		end += s.head
		if !ok {
			malformed++
			if len(batch) == 0 {
				done = end
				s.st.Malformed += malformed
				malformed = 0
			}
			return true
		}
		batch = append(batch, r)
		ends = append(ends, end)
		mals = append(mals, malformed)
		if len(batch) < s.batch {
			return true
		}
		if !flush() {
			return false
		}
		s.st.Malformed += malformed
		malformed = 0
		return true
	})
	if err == nil && writeErr == nil && flush() {
		s.st.Malformed += malformed
		done = s.size
	}
	if err != nil {
		err = fmt.Errorf("audit: spool: read %s: %w", s.path, err)
	} else if writeErr != nil {
		s.failed(writeErr)
		err = writeErr
	}
	if stored > 0 {
		s.log.Info("audit spool replayed", "records", stored, "left", s.records)
	}
	if done == s.head {
		return err
	}
	if done == s.size {
		if terr := s.truncate(); terr != nil {
			return errors.Join(err, terr)
		}
		return err
	}
	if cerr := s.cut(done); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// truncate empties the spool file.
func (s *Spool) truncate() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("audit: spool: truncate %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit: spool: sync %s: %w", s.path, err)
	}
	s.size, s.records, s.head = 0, 0, 0
	return nil
}

// cut removes the first n bytes of the spool: the rest is copied to a new
// file that atomically replaces it. If that fails, the file is left as it
// is and head remembers that its first n bytes are replayed, so they are
// never written twice by this process.
func (s *Spool) cut(n int64) error {
	s.head = n
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("audit: spool: compact: %w", err)
	}
	_, err = io.Copy(f, io.NewSectionReader(s.f, n, s.size-n))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("audit: spool: compact %s: %w", s.path, err)
	}
	syncDir(filepath.Dir(s.path))
	f.Close()
	s.f.Close()
	s.f, s.size, s.head = nil, s.size-n, 0
	nf, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: spool: reopen %s: %w", s.path, err) // open() retries
	}
	s.f = nf
	return nil
}

// appendRecords appends as many of recs as fit to the spool, fsynced, and
// returns how many it stored.
func (s *Spool) appendRecords(recs []Record) (int, error) {
	if s.f == nil {
		if err := s.open(); err != nil {
			return 0, err
		}
	}
	var buf []byte
	n := 0
	for i := range recs {
		line, err := json.Marshal(&recs[i])
		if err != nil {
			// Cannot happen for normalized records; keep it for the
			// Logger rather than lose it.
			break
		}
		if s.size+int64(len(buf))+int64(len(line))+1 > s.maxBytes {
			break
		}
		buf = append(buf, line...)
		buf = append(buf, '\n')
		n++
	}
	if n == 0 {
		return 0, nil
	}
	w, err := s.f.Write(buf)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if w > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.log.Error("audit spool: cannot remove a partial write", "err", terr)
				s.size += int64(w) // a partial line, skipped at replay
			}
		}
		return 0, fmt.Errorf("audit: spool: write %s: %w", s.path, err)
	}
	s.size += int64(w)
	s.records += n
	s.st.Spooled += uint64(n)
	return n, nil
}

// Query returns the matching spooled records, newest first, followed by
// the inner sink's answer if it is a Querier, at most f's limit in all.
func (s *Spool) Query(ctx context.Context, f Filter) ([]Record, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	limit := f.limit()
	var out []Record
	s.mu.Lock()
	if s.f != nil && s.size > 0 {
		err := scanSpool(io.NewSectionReader(s.f, s.head, s.size-s.head), func(r Record, ok bool, _ int64) bool {
			if ok && f.Match(r) {
				out = append(out, r)
			}
			return ctx.Err() == nil
		})
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("audit: spool: query %s: %w", s.path, err)
		}
	}
	s.mu.Unlock()
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) >= limit {
		return out[:limit], nil
	}
	q, ok := s.inner.(Querier)
	if !ok {
		return out, nil
	}
	f.Limit = limit - len(out)
	more, err := q.Query(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: query inner: %w", err)
	}
	return append(out, more...), nil
}

// Close makes a last attempt to replay the spool (bounded by
// SpoolOptions.CloseTimeout), closes the spool file, keeping the records
// still in it for the next run, and then the inner sink if it is an io.Closer (the Logger that owns the
// Spool closes it, so the Spool owns inner). Later writes fail with
// ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.closeWait > 0 && s.size > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), s.closeWait)
		if err := s.replayLocked(ctx); err != nil {
			s.log.Warn("audit spool: last replay failed", "err", err)
		}
		cancel()
	}
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("audit: spool: sync %s: %w", s.path, err))
		}
		if err := s.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit: spool: close %s: %w", s.path, err))
		}
		s.f = nil
	}
	if s.records > 0 {
		s.log.Warn("audit spool closed with records waiting; they will be replayed at the next start",
			"records", s.records)
	}
	if c, ok := s.inner.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit: spool: close inner: %w", err))
		}
	}
	return errors.Join(errs...)
}
