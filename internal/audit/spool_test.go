package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

var errDown = errors.New("database unreachable (fake)")

// switchSink is a fake database sink: while down it fails (storing the
// first `partial` records of a batch, with a PartialError, when partial >
// 0); okCalls > 0 lets that many writes succeed even while down. With
// flipEvery > 0 it toggles down every flipEvery calls.
type switchSink struct {
	mu        sync.Mutex
	down      bool
	partial   int
	okCalls   int
	flipEvery int
	calls     int
	mem       *audit.MemorySink
}

func newSwitchSink() *switchSink { return &switchSink{mem: audit.NewMemorySink(1 << 20)} }

func (s *switchSink) Write(ctx context.Context, recs []audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.flipEvery > 0 && s.calls%s.flipEvery == 0 {
		s.down = !s.down
	}
	if s.down && s.okCalls == 0 {
		n := min(s.partial, len(recs))
		if n == 0 {
			return errDown
		}
		_ = s.mem.Write(ctx, recs[:n])
		return &audit.PartialError{Written: n, Err: errDown}
	}
	if s.okCalls > 0 {
		s.okCalls--
	}
	return s.mem.Write(ctx, recs)
}

func (s *switchSink) Query(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	return s.mem.Query(ctx, f)
}

func (s *switchSink) set(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.flipEvery = down, 0
}

func (s *switchSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// spoolRecs returns records with request ids from..to (inclusive).
func spoolRecs(from, to int) []audit.Record {
	var out []audit.Record
	for i := from; i <= to; i++ {
		out = append(out, audit.Record{
			Time:      base.Add(time.Duration(i) * time.Second),
			RequestID: strconv.Itoa(i),
			Principal: "alice",
			Method:    "GET",
			Path:      "/state",
			Status:    200,
		})
	}
	return out
}

func idRange(from, to int) []string { return ids(spoolRecs(from, to)) }

func newSpool(t *testing.T, inner audit.Sink, opts audit.SpoolOptions) *audit.Spool {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "spool", "audit_spool.jsonl")
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = -1
	}
	s, err := audit.NewSpool(inner, opts)
	if err != nil {
		t.Fatalf("NewSpool: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func write(t *testing.T, s audit.Sink, rs []audit.Record) {
	t.Helper()
	if err := s.Write(context.Background(), rs); err != nil {
		t.Fatalf("Write(%s..%s): %v", rs[0].RequestID, rs[len(rs)-1].RequestID, err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return fi.Size()
}

func TestSpoolDownThenUp(t *testing.T) {
	inner := newSwitchSink()
	inner.set(true)
	s := newSpool(t, inner, audit.SpoolOptions{Batch: 7})
	write(t, s, spoolRecs(1, 10))
	write(t, s, spoolRecs(11, 20))
	write(t, s, spoolRecs(21, 30))
	if got := inner.mem.Records(); len(got) != 0 {
		t.Fatalf("inner got %d records while down, want 0", len(got))
	}
	st := s.Stats()
	if st.Records != 30 || st.Spooled != 30 || st.Replayed != 0 || !st.InnerFailing {
		t.Errorf("stats while down = %+v, want 30 records spooled, inner failing", st)
	}
	if got, want := fileSize(t, s.Path()), st.Bytes; got != want || got == 0 {
		t.Errorf("spool file size = %d, stats say %d", got, want)
	}
	if ok, _ := s.Healthy(); ok {
		t.Error("Healthy = true while the inner sink is down")
	}
	spooled := readLines(t, s.Path())
	if got, want := ids(spooled), idRange(1, 30); !slices.Equal(got, want) {
		t.Errorf("spool file ids = %v, want %v", got, want)
	}

	inner.set(false)
	write(t, s, spoolRecs(31, 40))
	if got, want := ids(inner.mem.Records()), idRange(1, 40); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
	st = s.Stats()
	if st.Records != 0 || st.Bytes != 0 || st.Replayed != 30 || st.InnerFailing {
		t.Errorf("stats after recovery = %+v, want empty spool, 30 replayed", st)
	}
	if got := fileSize(t, s.Path()); got != 0 {
		t.Errorf("spool file size after replay = %d, want 0", got)
	}
	if ok, why := s.Healthy(); !ok {
		t.Errorf("Healthy = false (%s) after recovery", why)
	}
}

func TestSpoolPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := newSpool(t, newSwitchSink(), audit.SpoolOptions{Path: filepath.Join(dir, "audit_spool.jsonl")})
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", path, got, want)
		}
	}
}

func TestSpoolBackoff(t *testing.T) {
	now := base
	inner := newSwitchSink()
	inner.set(true)
	s := newSpool(t, inner, audit.SpoolOptions{
		MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		Now: func() time.Time { return now },
	})
	write(t, s, spoolRecs(1, 1)) // fails, backoff 1s
	inner.set(false)
	calls := inner.callCount()
	write(t, s, spoolRecs(2, 2)) // within the backoff: straight to the spool
	if got := inner.callCount(); got != calls {
		t.Errorf("inner called %d times during the backoff, want 0", got-calls)
	}
	now = now.Add(time.Second)
	write(t, s, spoolRecs(3, 3))
	if got, want := ids(inner.mem.Records()), idRange(1, 3); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
}

func TestSpoolFull(t *testing.T) {
	line, err := json.Marshal(spoolRecs(1, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	inner := newSwitchSink()
	inner.set(true)
	// Ids 1..9 have the same length: room for exactly 5 lines.
	s := newSpool(t, inner, audit.SpoolOptions{MaxBytes: int64(5*(len(line)+1) + len(line)/2)})
	write(t, s, spoolRecs(1, 3))

	err = s.Write(context.Background(), spoolRecs(4, 7))
	var pe *audit.PartialError
	if !errors.As(err, &pe) || pe.Written != 2 {
		t.Fatalf("Write(4..7) = %v, want a PartialError with 2 written", err)
	}
	if !errors.Is(err, audit.ErrSpoolFull) || !errors.Is(err, errDown) {
		t.Errorf("Write(4..7) = %v, want it to wrap ErrSpoolFull and the inner error", err)
	}
	err = s.Write(context.Background(), spoolRecs(6, 6))
	if !errors.Is(err, audit.ErrSpoolFull) || errors.As(err, &pe) {
		t.Errorf("Write(6) = %v, want ErrSpoolFull, not partial", err)
	}
	if got := s.Stats(); got.Full != 3 || got.Records != 5 {
		t.Errorf("stats = %+v, want Full 3, Records 5", got)
	}

	// The Logger retries what was refused once the database is back.
	inner.set(false)
	write(t, s, spoolRecs(6, 7))
	if got, want := ids(inner.mem.Records()), idRange(1, 7); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
}

func TestSpoolPartialInnerWrite(t *testing.T) {
	inner := newSwitchSink()
	inner.set(true)
	inner.partial = 3
	s := newSpool(t, inner, audit.SpoolOptions{})
	write(t, s, spoolRecs(1, 5)) // 1..3 stored, 4..5 spooled
	if got := s.Stats().Records; got != 2 {
		t.Errorf("spooled %d records, want 2", got)
	}
	inner.set(false)
	write(t, s, spoolRecs(6, 8))
	if got, want := ids(inner.mem.Records()), idRange(1, 8); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
}

func TestSpoolReplayFailsMidway(t *testing.T) {
	inner := newSwitchSink()
	inner.set(true)
	s := newSpool(t, inner, audit.SpoolOptions{Batch: 4})
	write(t, s, spoolRecs(1, 10))
	inner.mu.Lock()
	inner.okCalls = 1 // replays 1..4, then fails on 5..8
	inner.mu.Unlock()
	write(t, s, spoolRecs(11, 12))
	if got, want := ids(inner.mem.Records()), idRange(1, 4); !slices.Equal(got, want) {
		t.Fatalf("inner ids = %v, want %v", got, want)
	}
	if got, want := ids(readLines(t, s.Path())), idRange(5, 12); !slices.Equal(got, want) {
		t.Errorf("spool ids after a failed replay = %v, want %v", got, want)
	}
	st := s.Stats()
	if st.Records != 8 || st.Replayed != 4 || st.Bytes != fileSize(t, s.Path()) {
		t.Errorf("stats = %+v, want 8 records, 4 replayed, Bytes = file size", st)
	}
	inner.set(false)
	write(t, s, spoolRecs(13, 13))
	if got, want := ids(inner.mem.Records()), idRange(1, 13); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
}

func TestSpoolSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit_spool.jsonl")
	inner := newSwitchSink()
	inner.set(true)
	first, err := audit.NewSpool(inner, audit.SpoolOptions{Path: path, MinBackoff: -1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, first, spoolRecs(1, 10))
	if err := first.Close(); err != nil { // replay fails: records stay
		t.Fatalf("Close: %v", err)
	}
	if err := first.Write(context.Background(), spoolRecs(11, 11)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}

	inner.set(false)
	second := newSpool(t, inner, audit.SpoolOptions{Path: path})
	if got := second.Stats().Records; got != 10 {
		t.Errorf("reopened spool holds %d records, want 10", got)
	}
	write(t, second, spoolRecs(11, 12))
	if got, want := ids(inner.mem.Records()), idRange(1, 12); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
}

func TestSpoolCloseReplays(t *testing.T) {
	inner := newSwitchSink()
	inner.set(true)
	s, err := audit.NewSpool(inner, audit.SpoolOptions{
		Path: filepath.Join(t.TempDir(), "audit_spool.jsonl"), MinBackoff: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, spoolRecs(1, 4))
	inner.set(false)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, want := ids(inner.mem.Records()), idRange(1, 4); !slices.Equal(got, want) {
		t.Errorf("inner ids after Close = %v, want %v", got, want)
	}
}

func TestSpoolMalformedLines(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated last line", func(t *testing.T, path string) {
			appendFile(t, path, `{"time":"2030-01-02T03:04:05Z","request_id":"9`)
		}},
		{"garbage line in the middle", func(t *testing.T, path string) {
			lines := readLines(t, path)
			var b []byte
			for i, r := range lines {
				line, _ := json.Marshal(r)
				b = append(append(b, line...), '\n')
				if i == 2 {
					b = append(b, "not json\n"...)
				}
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit_spool.jsonl")
			inner := newSwitchSink()
			inner.set(true)
			first, err := audit.NewSpool(inner, audit.SpoolOptions{Path: path, MinBackoff: -1})
			if err != nil {
				t.Fatal(err)
			}
			write(t, first, spoolRecs(1, 5))
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path)

			inner.set(false)
			s := newSpool(t, inner, audit.SpoolOptions{Path: path})
			if got := s.Stats().Records; got != 5 {
				t.Errorf("reopened spool counts %d records, want 5", got)
			}
			write(t, s, spoolRecs(6, 6))
			if got, want := ids(inner.mem.Records()), idRange(1, 6); !slices.Equal(got, want) {
				t.Errorf("inner ids = %v, want %v", got, want)
			}
			if got := s.Stats().Malformed; got != 1 {
				t.Errorf("Malformed = %d, want 1", got)
			}
			if got := fileSize(t, path); got != 0 {
				t.Errorf("spool size after replay = %d, want 0", got)
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestSpoolQuery(t *testing.T) {
	inner := newSwitchSink()
	s := newSpool(t, inner, audit.SpoolOptions{})
	write(t, s, spoolRecs(1, 3))
	inner.set(true)
	write(t, s, spoolRecs(4, 6))
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"spool then inner", 0, []string{"6", "5", "4", "3", "2", "1"}},
		{"limit within the spool", 2, []string{"6", "5"}},
		{"limit across both", 4, []string{"6", "5", "4", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(context.Background(), audit.Filter{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Query ids = %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestSpoolWithLogger(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64 // 0: the default, room for everything
		wantFull bool
	}{
		{"spool has room", 0, false},
		{"spool fills, the logger retries", 4 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testSpoolWithLogger(t, tt.maxBytes, tt.wantFull) })
	}
}

// testSpoolWithLogger: 20 goroutines × 100 records through a real Logger
// while the inner sink flips down and up; after Close the inner sink holds
// every record once, each goroutine's in order.
func testSpoolWithLogger(t *testing.T, maxBytes int64, wantFull bool) {
	t.Helper()
	const goroutines, each = 20, 100
	inner := newSwitchSink()
	inner.partial = 1
	inner.flipEvery = 3
	s, err := audit.NewSpool(inner, audit.SpoolOptions{
		Path: filepath.Join(t.TempDir(), "audit_spool.jsonl"), MinBackoff: -1, Batch: 16,
		MaxBytes: maxBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, audit.Options{
		BatchSize: 32, EnqueueWait: time.Minute, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
	}, s)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				l.Record(audit.Record{RequestID: fmt.Sprintf("%d-%d", g, i), Method: "GET", Status: 200})
			}
		})
	}
	wg.Wait()
	if err := l.Flush(ctxTimeout(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	inner.set(false)
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := inner.mem.Records()
	if len(got) != goroutines*each {
		t.Errorf("inner holds %d records, want %d", len(got), goroutines*each)
	}
	next := make(map[int]int) // per goroutine, the next index expected
	seen := make(map[string]bool)
	for _, r := range got {
		if seen[r.RequestID] {
			t.Errorf("request id %s stored twice", r.RequestID)
		}
		seen[r.RequestID] = true
		var g, i int
		if _, err := fmt.Sscanf(r.RequestID, "%d-%d", &g, &i); err != nil {
			t.Fatalf("bad id %q", r.RequestID)
		}
		if i != next[g] {
			t.Errorf("goroutine %d: got record %d, want %d (order broken)", g, i, next[g])
		}
		next[g] = i + 1
	}
	if st := l.Stats(); st.Dropped != 0 {
		t.Errorf("logger dropped %d records", st.Dropped)
	}
	if st := s.Stats(); st.Spooled == 0 || st.Replayed != st.Spooled || st.Records != 0 || (st.Full > 0) != wantFull {
		t.Errorf("spool stats = %+v, want some spooled, all replayed, none left, refusals %v", st, wantFull)
	}
}

func TestSpoolCompactionFails(t *testing.T) {
	inner := newSwitchSink()
	inner.set(true)
	s := newSpool(t, inner, audit.SpoolOptions{Batch: 4})
	write(t, s, spoolRecs(1, 10))
	// A directory where the compacted copy would go makes compaction fail.
	if err := os.Mkdir(s.Path()+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	inner.mu.Lock()
	inner.okCalls = 1 // replays 1..4, then fails on 5..8
	inner.mu.Unlock()
	write(t, s, spoolRecs(11, 11))
	if got := s.Stats().Records; got != 7 {
		t.Errorf("spool counts %d records, want 7", got)
	}
	got, err := s.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"}; !slices.Equal(ids(got), want) {
		t.Errorf("Query ids = %v, want %v (no record twice)", ids(got), want)
	}
	inner.set(false)
	write(t, s, spoolRecs(12, 12))
	if got, want := ids(inner.mem.Records()), idRange(1, 12); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
	if got := fileSize(t, s.Path()); got != 0 {
		t.Errorf("spool size after replay = %d, want 0", got)
	}
}

func TestSpoolMalformedBeforePartialReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit_spool.jsonl")
	inner := newSwitchSink()
	inner.set(true)
	first, err := audit.NewSpool(inner, audit.SpoolOptions{Path: path, MinBackoff: -1, CloseTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, first, spoolRecs(1, 2))
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "garbage\n")
	second, err := audit.NewSpool(inner, audit.SpoolOptions{Path: path, MinBackoff: -1, CloseTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	write(t, second, spoolRecs(3, 6))
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	inner.mu.Lock()
	inner.partial = 3 // the replay of 1..4 stores 1..3, then fails
	inner.mu.Unlock()
	s := newSpool(t, inner, audit.SpoolOptions{Path: path, Batch: 4})
	write(t, s, spoolRecs(7, 7))
	if got, want := ids(readLines(t, path)), idRange(4, 7); !slices.Equal(got, want) {
		t.Errorf("spool ids = %v, want %v", got, want)
	}
	if got := s.Stats().Malformed; got != 1 {
		t.Errorf("Malformed = %d, want 1", got)
	}
	inner.set(false)
	write(t, s, spoolRecs(8, 8))
	if got, want := ids(inner.mem.Records()), idRange(1, 8); !slices.Equal(got, want) {
		t.Errorf("inner ids = %v, want %v", got, want)
	}
	if got := s.Stats().Malformed; got != 1 {
		t.Errorf("Malformed = %d after the full replay, want 1 (counted once)", got)
	}
}
