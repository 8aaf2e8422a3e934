package discovery_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/discovery"
)

func TestNewSenderAddr(t *testing.T) {
	tests := []struct {
		addr        string
		wantErr     bool
		wantEnabled bool
		wantAddr    string
	}{
		{addr: "", wantEnabled: true, wantAddr: discovery.DefaultAddr},
		{addr: "off", wantAddr: ""},
		{addr: "OFF", wantAddr: ""},
		{addr: "255.255.255.255:8087", wantEnabled: true, wantAddr: "255.255.255.255:8087"},
		{addr: "239.255.80.87:8087", wantEnabled: true, wantAddr: "239.255.80.87:8087"},
		{addr: "[ff02::1]:8087", wantEnabled: true, wantAddr: "[ff02::1]:8087"},
		{addr: "monitor.lan:8087", wantEnabled: true, wantAddr: "monitor.lan:8087"},
		{addr: "10.0.0.5", wantErr: true},
		{addr: ":8087", wantErr: true},
		{addr: "10.0.0.5:0", wantErr: true},
		{addr: "10.0.0.5:65536", wantErr: true},
		{addr: "10.0.0.5:http", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			s, err := discovery.NewSender(discovery.SenderOptions{Addr: tc.addr})
			if tc.wantErr {
				if !errors.Is(err, discovery.ErrBadAddr) {
					t.Errorf("NewSender(%q): error %v, want ErrBadAddr", tc.addr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSender(%q): %v", tc.addr, err)
			}
			if s.Enabled() != tc.wantEnabled || s.Addr() != tc.wantAddr {
				t.Errorf("Enabled, Addr = %v, %q; want %v, %q", s.Enabled(), s.Addr(), tc.wantEnabled, tc.wantAddr)
			}
		})
	}
}

// TestSenderOff: a disabled sender's Run waits for its context and
// returns nil, so a run group does not end because discovery is off.
func TestSenderOff(t *testing.T) {
	s, err := discovery.NewSender(discovery.SenderOptions{Addr: "off"})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned before its context ended: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := s.Stats(); got.Sent != 0 {
		t.Errorf("a disabled sender sent %d beacons", got.Sent)
	}
}

// TestSenderFillsBeacon: the sender sets service, sequence, timestamp
// and interval itself and fills an empty instance id and start time; a
// beacon too large to send is counted and the next one still goes.
func TestSenderFillsBeacon(t *testing.T) {
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{Clock: clock.Now})
	tick := newManualTicker()
	sends := make(chan error, 8)
	scene := "res://huge" + strings.Repeat("x", discovery.MaxDatagram)
	s, err := discovery.NewSender(discovery.SenderOptions{
		Addr:  l.Addr().String(),
		Clock: clock.Now,
		Info: func() discovery.Beacon {
			return discovery.Beacon{Service: "wrong", Seq: 99, Scene: scene}
		},
		NewTicker: func(time.Duration) discovery.Ticker { return tick },
		OnSend:    func(_ discovery.Beacon, err error) { sends <- err },
	})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	runSender(t, s)
	if err := <-sends; !errors.Is(err, discovery.ErrOversized) {
		t.Fatalf("first send: %v, want ErrOversized", err)
	}
	scene = "res://small.tscn" // read by the sender's goroutine after the next tick
	clock.Advance(2 * time.Second)
	tick.Tick()
	if err := <-sends; err != nil {
		t.Fatalf("second send: %v", err)
	}
	r := next(t, results)
	if r.Err != nil {
		t.Fatalf("beacon dropped: %v", r.Err)
	}
	b := r.Beacon
	if b.Service != discovery.Service || b.Seq != 2 || b.IntervalSeconds != 2 ||
		len(b.InstanceID) != 16 || !b.StartedAt.Equal(epoch) || !b.Timestamp.Equal(epoch.Add(2*time.Second)) ||
		b.Scene != "res://small.tscn" {
		t.Errorf("beacon = %+v", b)
	}
	if got := s.Stats(); got.Sent != 1 || got.Errors != 1 {
		t.Errorf("stats = %+v, want 1 sent, 1 error", got)
	}
}

// TestBroadcastAndMulticast sends to the limited broadcast address and to
// a multicast group, and receives on this host. Both need a network
// interface that allows them; where the sandbox has none, the test says
// so and skips.
func TestBroadcastAndMulticast(t *testing.T) {
	tests := []struct {
		name   string
		listen string // with port 0
		dest   string // host; the port is the listener's
	}{
		{name: "broadcast", listen: "0.0.0.0:0", dest: "255.255.255.255"},
		{name: "multicast", listen: "239.255.80.87:0", dest: "239.255.80.87"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results := make(chan discovery.Result, 8)
			l, err := discovery.Listen(context.Background(), discovery.ListenerOptions{
				Addr: tc.listen, OnResult: func(r discovery.Result) { results <- r },
			})
			if err != nil {
				t.Skipf("cannot listen on %s here: %v", tc.listen, err)
			}
			runListener(t, l)
			_, port, _ := net.SplitHostPort(l.Addr().String())
			sends := make(chan error, 8)
			s, err := discovery.NewSender(discovery.SenderOptions{
				Addr:      net.JoinHostPort(tc.dest, port),
				Info:      func() discovery.Beacon { return discovery.Beacon{InstanceID: tc.name} },
				NewTicker: func(time.Duration) discovery.Ticker { return newManualTicker() },
				OnSend:    func(_ discovery.Beacon, err error) { sends <- err },
			})
			if err != nil {
				t.Fatalf("NewSender: %v", err)
			}
			runSender(t, s)
			if err := <-sends; err != nil {
				// EACCES would mean SO_BROADCAST is missing: that is a bug.
				if errors.Is(err, syscall.EACCES) {
					t.Fatalf("send: %v", err)
				}
				t.Skipf("no route for %s here: %v", tc.name, err)
			}
			select {
			case r := <-results:
				if r.Err != nil || r.Beacon.InstanceID != tc.name {
					t.Errorf("received %+v", r)
				}
			case <-time.After(waitLimit):
				t.Skipf("%s sent but not looped back to this host (no such interface here)", tc.name)
			}
		})
	}
}

// TestSenderSurvivesResolveFailure: a destination that does not resolve
// (Go refuses .onion names without asking DNS) is retried every tick and
// counted; Run does not end.
func TestSenderSurvivesResolveFailure(t *testing.T) {
	tick := newManualTicker()
	sends := make(chan error, 8)
	s, err := discovery.NewSender(discovery.SenderOptions{
		Addr:      "spacetime.onion:8087",
		NewTicker: func(time.Duration) discovery.Ticker { return tick },
		OnSend:    func(_ discovery.Beacon, err error) { sends <- err },
	})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	runSender(t, s)
	for i := range 3 {
		if i > 0 {
			tick.Tick()
		}
		if err := <-sends; err == nil {
			t.Fatalf("attempt %d: sent to an unresolvable address", i+1)
		}
	}
	if got := s.Stats(); got.Sent != 0 || got.Errors != 3 {
		t.Errorf("stats = %+v, want 0 sent, 3 errors", got)
	}
}
