package discovery_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/discovery"
)

// epoch is the fake clocks' starting time.
var epoch = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// manualTicker ticks when the test says so.
type manualTicker struct{ c chan time.Time }

func newManualTicker() *manualTicker { return &manualTicker{c: make(chan time.Time)} }

func (m *manualTicker) Chan() <-chan time.Time { return m.c }
func (m *manualTicker) Stop()                  {}

// Tick delivers one tick (it blocks until the sender takes it).
func (m *manualTicker) Tick() { m.c <- time.Time{} }

// waitLimit bounds every wait for a datagram, so a broken test fails
// instead of hanging; nothing is asserted about how fast anything is.
const waitLimit = 10 * time.Second

// runListener starts l.Run and stops it when the test ends.
func runListener(t *testing.T, l *discovery.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listener.Run: %v", err)
		}
	})
}

// listen opens a listener on 127.0.0.1:0 with opts, runs it, and returns
// it with the channel its results arrive on.
func listen(t *testing.T, opts discovery.ListenerOptions) (*discovery.Listener, <-chan discovery.Result) {
	t.Helper()
	results := make(chan discovery.Result, 64)
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.OnResult = func(r discovery.Result) { results <- r }
	l, err := discovery.Listen(context.Background(), opts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	runListener(t, l)
	return l, results
}

// next returns the next result.
func next(t *testing.T, results <-chan discovery.Result) discovery.Result {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(waitLimit):
		t.Fatalf("no datagram handled within %v", waitLimit)
		return discovery.Result{}
	}
}

// sendRaw sends data as one datagram to addr.
func sendRaw(t *testing.T, addr net.Addr, data []byte) {
	t.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := c.Write(data); err != nil {
		t.Fatalf("send %d bytes: %v", len(data), err)
	}
}

// runSender starts s.Run and stops it when the test ends.
func runSender(t *testing.T, s *discovery.Sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Sender.Run: %v", err)
		}
	})
}

// errKind names the package error err wraps, for messages and tables.
func errKind(err error) error {
	for _, e := range []error{
		discovery.ErrOversized, discovery.ErrMalformed, discovery.ErrForeign,
		discovery.ErrUnsigned, discovery.ErrBadSignature, discovery.ErrReplay,
		discovery.ErrTableFull,
	} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

// beacon is a valid beacon at the fake epoch.
func beacon(id string, seq uint64) discovery.Beacon {
	return discovery.Beacon{
		Service:         discovery.Service,
		InstanceID:      id,
		Version:         "1.4.0",
		Environment:     "production",
		HTTPPort:        8080,
		TelemetryPort:   8081,
		Scene:           "res://vr_main.tscn",
		StartedAt:       epoch.Add(-time.Hour),
		Timestamp:       epoch,
		Seq:             seq,
		IntervalSeconds: 2,
	}
}

// encode is discovery.Encode that fails the test on error.
func encode(t *testing.T, b discovery.Beacon, key []byte) []byte {
	t.Helper()
	d, err := discovery.Encode(b, key)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return d
}
