package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// base is the fixed time of the fake clocks.
var base = time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// newLogger starts a Logger and closes it at the end of the test if the
// test did not.
func newLogger(t *testing.T, opts audit.Options, sinks ...audit.Sink) *audit.Logger {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock(base)
	}
	l, err := audit.New(opts, sinks...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

// blockingSink blocks every Write until release is closed (or ctx ends),
// announcing each call on entered, then stores into mem.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
	mem     *audit.MemorySink
}

func newBlockingSink() *blockingSink {
	return &blockingSink{
		entered: make(chan struct{}, 1000),
		release: make(chan struct{}),
		mem:     audit.NewMemorySink(1 << 20),
	}
}

func (b *blockingSink) Write(ctx context.Context, recs []audit.Record) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.mem.Write(ctx, recs)
}

var errDiskFull = errors.New("no space left on device (fake)")

// flakySink fails its next `fails` writes (storing the first `partial`
// records of each failed batch), then stores everything.
type flakySink struct {
	mu      sync.Mutex
	fails   int
	partial int
	calls   int
	mem     *audit.MemorySink
}

func (f *flakySink) Write(ctx context.Context, recs []audit.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		n := min(f.partial, len(recs))
		if n == 0 {
			return errDiskFull
		}
		_ = f.mem.Write(ctx, recs[:n])
		return &audit.PartialError{Written: n, Err: errDiskFull}
	}
	return f.mem.Write(ctx, recs)
}

func (f *flakySink) String() string { return "flaky" }

// manualTimer is an injected After: each request is announced on
// requested, and the timer fires when the test sends on fire.
type manualTimer struct {
	requested chan time.Duration
	fire      chan time.Time
}

func newManualTimer() *manualTimer {
	return &manualTimer{requested: make(chan time.Duration, 1000), fire: make(chan time.Time)}
}

func (m *manualTimer) After(d time.Duration) <-chan time.Time {
	m.requested <- d
	return m.fire
}

// captureHandler collects log messages.
type captureHandler struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newCapture() (*slog.Logger, func() []string) {
	h := captureHandler{mu: new(sync.Mutex), msgs: new([]string)}
	return slog.New(h), func() []string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]string(nil), *h.msgs...)
	}
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.msgs = append(*h.msgs, r.Message)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

func countContaining(msgs []string, sub string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// readLines returns the lines of path, failing on any line that is not a
// valid record.
func readLines(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	var recs []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: line %d %q: %v", path, len(recs)+1, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan %s: %v", path, err)
	}
	return recs
}

func ids(recs []audit.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RequestID
	}
	return out
}

func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
