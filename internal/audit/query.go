package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Query limits.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 10000
)

// querySlack is how far a record's time may run behind the log order:
// records are stamped when a request ends and written shortly after, so a
// later line can carry a slightly earlier time. Query stops reading older
// files only once it has seen a record this much older than Filter.Since.
const querySlack = time.Minute

// maxLine is the longest line Query reads; longer lines are skipped as
// malformed (a normalized record is a few KiB at most).
const maxLine = 64 << 10

// Querier answers audit queries (GET /admin/audit). Query returns the
// matching records newest first, at most Filter's limit.
type Querier interface {
	Query(ctx context.Context, f Filter) ([]Record, error)
}

// Filter selects records. Zero fields do not filter.
type Filter struct {
	// Since (inclusive) and Until (exclusive) bound Record.Time.
	Since, Until time.Time
	// Principal matches Record.Principal exactly ("anonymous" included).
	Principal string
	// Status matches one HTTP status.
	Status int
	// StatusClass matches a class of statuses: 4 for 4xx.
	StatusClass int
	// Reason matches Record.Reason exactly.
	Reason string
	// Limit is the most records returned: 0 means DefaultQueryLimit; at
	// most MaxQueryLimit.
	Limit int
}

// Validate reports every problem of f in one error wrapping ErrBadFilter.
func (f Filter) Validate() error {
	var errs []error
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		errs = append(errs, fmt.Errorf("status %d is not an HTTP status", f.Status))
	}
	if f.StatusClass < 0 || f.StatusClass > 5 {
		errs = append(errs, fmt.Errorf("status class %d is not 1 to 5", f.StatusClass))
	}
	if f.Status != 0 && f.StatusClass != 0 && StatusClass(f.Status) != f.StatusClass {
		errs = append(errs, fmt.Errorf("status %d is not in class %dxx", f.Status, f.StatusClass))
	}
	if f.Limit < 0 || f.Limit > MaxQueryLimit {
		errs = append(errs, fmt.Errorf("limit %d is not 0 to %d", f.Limit, MaxQueryLimit))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("since %s is not before until %s",
			f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBadFilter, errors.Join(errs...))
}

// Match reports whether r passes f (Limit aside).
func (f Filter) Match(r Record) bool {
	switch {
	case !f.Since.IsZero() && r.Time.Before(f.Since),
		!f.Until.IsZero() && !r.Time.Before(f.Until),
		f.Principal != "" && r.Principal != f.Principal,
		f.Status != 0 && r.Status != f.Status,
		f.StatusClass != 0 && StatusClass(r.Status) != f.StatusClass,
		f.Reason != "" && r.Reason != f.Reason:
		return false
	}
	return true
}

func (f Filter) limit() int {
	if f.Limit == 0 {
		return DefaultQueryLimit
	}
	return f.Limit
}

// lastLines keeps copies of the last n lines it is given, reusing its
// buffers.
type lastLines struct {
	buf  [][]byte
	n    int
	next int // where the next line goes once buf is full
}

func (k *lastLines) add(line []byte) {
	if len(k.buf) < k.n {
		k.buf = append(k.buf, append([]byte(nil), line...))
		return
	}
	k.buf[k.next] = append(k.buf[k.next][:0], line...)
	k.next = (k.next + 1) % k.n
}

// each calls fn on the kept lines, newest first.
func (k *lastLines) each(fn func(line []byte)) {
	for i := len(k.buf) - 1; i >= 0; i-- {
		fn(k.buf[(k.next+i)%len(k.buf)])
	}
}

// needles returns byte strings every line matching f's principal, reason
// and status must contain, as this package's encoder writes them: a cheap
// test before a line is decoded.
func (f Filter) needles() [][]byte {
	var ns [][]byte
	str := func(key, v string) {
		b, _ := json.Marshal(v) // a string always encodes
		ns = append(ns, append([]byte(`"`+key+`":`), b...))
	}
	if f.Principal != "" {
		str("principal", f.Principal)
	}
	if f.Reason != "" {
		str("reason", f.Reason)
	}
	switch {
	case f.Status != 0:
		ns = append(ns, fmt.Appendf(nil, `"status":%d,`, f.Status))
	case f.StatusClass != 0:
		ns = append(ns, fmt.Appendf(nil, `"status":%d`, f.StatusClass))
	}
	return ns
}

// linePrefix starts every line this package writes.
var linePrefix = []byte(`{"time":"`)

// lineTime reads the time of an encoded record without decoding the rest.
func lineTime(line []byte) (time.Time, bool) {
	rest, ok := bytes.CutPrefix(line, linePrefix)
	if !ok {
		return time.Time{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:end]))
	return t, err == nil
}

// snapFile is one log file opened for a query, read up to size.
type snapFile struct {
	f    *os.File
	size int64
}

// Query scans the current file and then its backups (.1, .2, ...) and
// returns the matching records newest first (in log order: the order they
// were written), at most f's limit. It stops at the limit, and stops
// reading older backups once one holds records older than f.Since. Lines
// are tested on their raw bytes (time prefix, field needles) and only the
// kept ones decoded, about 0.3 µs a line: a 100 MB file takes about 0.1 s.
// Unreadable lines are skipped and counted (Malformed). The persistence
// work moves queries to a database.
func (s *FileSink) Query(ctx context.Context, f Filter) ([]Record, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	files, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, sf := range files {
			sf.f.Close()
		}
	}()
	limit := f.limit()
	needles := f.needles()
	out := make([]Record, 0, min(limit, 256))
	var malformed uint64
	for _, sf := range files {
		keep := lastLines{n: limit - len(out)}
		oldest, bad, err := scanFile(ctx, sf, f, needles, &keep)
		malformed += bad
		if err != nil {
			s.malformed.Add(malformed)
			return nil, fmt.Errorf("audit: query %s: %w", sf.f.Name(), err)
		}
		keep.each(func(line []byte) {
			var r Record
			if json.Unmarshal(line, &r) != nil {
				malformed++
				return
			}
			if f.Match(r) {
				out = append(out, r)
			}
		})
		if len(out) >= limit {
			break
		}
		if !f.Since.IsZero() && !oldest.IsZero() && oldest.Before(f.Since.Add(-querySlack)) {
			break // older files hold older records only
		}
	}
	if malformed > 0 {
		s.malformed.Add(malformed)
		s.log.Warn("audit query skipped malformed lines", "lines", malformed, "file", s.path)
	}
	return out, nil
}

// snapshot opens the current file and the backups, newest first, and notes
// their sizes, holding mu so no write or rotation is half done. Open files
// stay readable through later renames and deletions.
func (s *FileSink) snapshot() ([]snapFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []snapFile
	for i := 0; i <= s.maxBackups; i++ {
		f, err := os.Open(s.backup(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				files = append(files, snapFile{f: f, size: fi.Size()})
				continue
			}
			f.Close()
		}
		for _, sf := range files {
			sf.f.Close()
		}
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	return files, nil
}

// scanFile gives keep the lines of sf that pass f, and returns the time of
// its first record and the number of malformed lines. Only the time of a
// line is decoded here, and only when f bounds the time; the other fields
// are checked by needles, and Query decodes just the lines it keeps. A line
// that is not {"time":"<RFC 3339>",...} is malformed; one that breaks after
// its time is found only if kept (and then costs the query that slot).
func scanFile(ctx context.Context, sf snapFile, f Filter, needles [][]byte, keep *lastLines) (oldest time.Time, malformed uint64, err error) {
	br := bufio.NewReaderSize(io.NewSectionReader(sf.f, 0, sf.size), maxLine)
	timed := !f.Since.IsZero() || !f.Until.IsZero()
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return oldest, malformed, err
			}
		}
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			malformed++
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				_, err = br.ReadSlice('\n')
			}
			if errors.Is(err, io.EOF) {
				return oldest, malformed, nil
			}
			if err != nil {
				return oldest, malformed, err
			}
			continue
		case errors.Is(err, io.EOF):
			if len(line) > 0 {
				malformed++ // a partial last line
			}
			return oldest, malformed, nil
		case err != nil:
			return oldest, malformed, err
		}
		if len(line) < 2 || line[len(line)-2] != '}' || !bytes.HasPrefix(line, linePrefix) {
			malformed++
			continue
		}
		if oldest.IsZero() || timed {
			t, ok := lineTime(line)
			if !ok {
				malformed++
				continue
			}
			if oldest.IsZero() {
				oldest = t
			}
			if (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && !t.Before(f.Until)) {
				continue
			}
		}
		if containsAll(line, needles) {
			keep.add(line)
		}
	}
}

func containsAll(line []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}
