package discovery_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/discovery"
)

// TestRoundTrip sends beacons from a real Sender to a real Listener over
// loopback, unsigned and signed, and checks what the listener knows.
func TestRoundTrip(t *testing.T) {
	key := []byte("a shared discovery key of 32 b!!")
	tests := []struct {
		name       string
		senderKey  []byte
		listenKey  []byte
		wantSigned bool
	}{
		{name: "unsigned"},
		{name: "signed", senderKey: key, listenKey: key, wantSigned: true},
		{name: "signed, listener without key", senderKey: key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l, results := listen(t, discovery.ListenerOptions{Key: tc.listenKey, Clock: clock.Now})
			tick := newManualTicker()
			info := beacon("st-1", 0)
			info.Timestamp, info.Seq = time.Time{}, 0 // the sender sets them
			sends := make(chan error, 2)
			s, err := discovery.NewSender(discovery.SenderOptions{
				OnSend:    func(_ discovery.Beacon, err error) { sends <- err },
				Addr:      l.Addr().String(),
				Interval:  3 * time.Second,
				Key:       tc.senderKey,
				Info:      func() discovery.Beacon { return info },
				Clock:     clock.Now,
				NewTicker: func(time.Duration) discovery.Ticker { return tick },
			})
			if err != nil {
				t.Fatalf("NewSender: %v", err)
			}
			runSender(t, s)

			// The first beacon goes at once.
			r := next(t, results)
			if r.Err != nil {
				t.Fatalf("first beacon dropped: %v", r.Err)
			}
			clock.Advance(3 * time.Second)
			tick.Tick()
			if r := next(t, results); r.Err != nil {
				t.Fatalf("second beacon dropped: %v", r.Err)
			}

			got := l.Instances()
			if len(got) != 1 {
				t.Fatalf("Instances() = %d instances, want 1: %+v", len(got), got)
			}
			in := got[0]
			checks := []struct {
				what      string
				got, want any
			}{
				{"service", in.Service, discovery.Service},
				{"instance id", in.InstanceID, "st-1"},
				{"version", in.Version, info.Version},
				{"environment", in.Environment, info.Environment},
				{"http port", in.HTTPPort, 8080},
				{"telemetry port", in.TelemetryPort, 8081},
				{"scene", in.Scene, info.Scene},
				{"started at", in.StartedAt.Equal(info.StartedAt), true},
				{"timestamp", in.Timestamp.Equal(epoch.Add(3 * time.Second)), true},
				{"seq", in.Seq, uint64(2)},
				{"interval", in.IntervalSeconds, 3.0},
				{"addr", in.Addr, "127.0.0.1"},
				{"first seen", in.FirstSeen.Equal(epoch), true},
				{"last seen", in.LastSeen.Equal(epoch.Add(3 * time.Second)), true},
				{"signed", in.Signed, tc.wantSigned},
				{"beacons", in.Beacons, uint64(2)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			if got, want := l.Stats(), (discovery.Stats{Received: 2, Accepted: 2}); got != want {
				t.Errorf("listener stats = %+v, want %+v", got, want)
			}
			for range 2 {
				if err := <-sends; err != nil {
					t.Errorf("send: %v", err)
				}
			}
			if got := s.Stats(); got.Sent != 2 || got.Errors != 0 {
				t.Errorf("sender stats = %+v, want 2 sent, no errors", got)
			}
		})
	}
}

// TestKeyedListenerDrops sends unsigned and wrongly signed beacons from
// real senders to a listener with a key.
func TestKeyedListenerDrops(t *testing.T) {
	key := []byte("the right key")
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{Key: key, Clock: clock.Now})
	tests := []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{name: "unsigned", key: nil, wantErr: discovery.ErrUnsigned},
		{name: "wrong key", key: []byte("the wrong key"), wantErr: discovery.ErrBadSignature},
		{name: "right key", key: key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := discovery.NewSender(discovery.SenderOptions{
				Addr: l.Addr().String(), Key: tc.key, Clock: clock.Now,
				Info:      func() discovery.Beacon { return discovery.Beacon{InstanceID: tc.name} },
				NewTicker: func(time.Duration) discovery.Ticker { return newManualTicker() },
			})
			if err != nil {
				t.Fatalf("NewSender: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			r := next(t, results)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !errors.Is(r.Err, tc.wantErr) || (tc.wantErr == nil && r.Err != nil) {
				t.Errorf("result %v, want %v", r.Err, tc.wantErr)
			}
		})
	}
	want := discovery.Stats{Received: 3, Accepted: 1, DroppedUnsigned: 1, DroppedBadSig: 1}
	if got := l.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	if got := l.Instances(); len(got) != 1 || got[0].InstanceID != "right key" {
		t.Errorf("Instances() = %+v, want only the signed one", got)
	}
}

// TestGarbageSurvived throws bad datagrams at a listener: each is dropped
// and counted, and a good beacon afterwards is still accepted.
func TestGarbageSurvived(t *testing.T) {
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{Clock: clock.Now})
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	good := encode(t, beacon("survivor", 1), nil)
	padded := append(bytes.Repeat([]byte("\n"), discovery.MaxDatagram-len(good)), good...)

	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"random bytes", random(200), discovery.ErrMalformed},
		{"random bytes, large", random(4000), discovery.ErrMalformed},
		{"empty datagram", []byte{}, discovery.ErrMalformed},
		{"huge", random(60000), discovery.ErrOversized},
		{"one byte over the limit", append([]byte(" "), padded...), discovery.ErrOversized},
		{"truncated JSON", good[:len(good)-7], discovery.ErrMalformed},
		{"wrong service", []byte(`{"beacon":{"service":"other","instance_id":"x"}}`), discovery.ErrForeign},
		{"deeply nested", append(bytes.Repeat([]byte("["), 4000), bytes.Repeat([]byte("]"), 4000)...), discovery.ErrMalformed},
		{"beacon of the wrong type", []byte(`{"beacon":"spacetime"}`), discovery.ErrMalformed},
		{"exactly the limit", padded, nil},
		{"good beacon after all that", encode(t, beacon("survivor", 2), nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sendRaw(t, l.Addr(), tc.data)
			r := next(t, results)
			if !errors.Is(r.Err, tc.wantErr) || (tc.wantErr == nil && r.Err != nil) {
				t.Errorf("result %v, want %v", r.Err, tc.wantErr)
			}
		})
	}
	want := discovery.Stats{
		Received: uint64(len(tests)), Accepted: 2,
		DroppedMalformed: 6, DroppedOversized: 2, DroppedForeign: 1,
	}
	if got := l.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	if got := l.Stats(); got.Received != got.Accepted+got.Dropped() {
		t.Errorf("received %d != accepted %d + dropped %d", got.Received, got.Accepted, got.Dropped())
	}
	if got := l.Instances(); len(got) != 1 || got[0].InstanceID != "survivor" || got[0].Seq != 2 {
		t.Errorf("Instances() = %+v, want survivor at seq 2", got)
	}
}

// TestReplayGuard checks a keyed listener's timestamp window and
// per-instance sequence, datagram by datagram, in order.
func TestReplayGuard(t *testing.T) {
	key := []byte("replay key")
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{Key: key, Clock: clock.Now})
	at := func(id string, seq uint64, started, ts time.Duration) []byte {
		b := beacon(id, seq)
		b.StartedAt = epoch.Add(started)
		b.Timestamp = epoch.Add(ts)
		return encode(t, b, key)
	}
	first := at("a", 5, -time.Hour, 0)
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"first beacon", first, nil},
		{"the same datagram again", first, discovery.ErrReplay},
		{"a lower seq", at("a", 4, -time.Hour, time.Second), discovery.ErrReplay},
		{"the next seq", at("a", 6, -time.Hour, 2*time.Second), nil},
		{"a skipped seq is fine", at("a", 9, -time.Hour, 3*time.Second), nil},
		{"timestamp 31 s old", at("b", 1, -time.Hour, -31*time.Second), discovery.ErrReplay},
		{"timestamp 31 s ahead", at("b", 1, -time.Hour, 31*time.Second), discovery.ErrReplay},
		{"timestamp 29 s old", at("b", 1, -time.Hour, -29*time.Second), nil},
		{"restarted instance starts over", at("a", 1, -time.Minute, 4*time.Second), nil},
		{"the old run replayed", at("a", 10, -time.Hour, 5*time.Second), discovery.ErrReplay},
		{"zero timestamp", at("c", 1, -time.Hour, -time.Duration(epoch.UnixNano())), discovery.ErrReplay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sendRaw(t, l.Addr(), tc.data)
			r := next(t, results)
			if !errors.Is(r.Err, tc.wantErr) || (tc.wantErr == nil && r.Err != nil) {
				t.Errorf("result %v, want %v", r.Err, tc.wantErr)
			}
		})
	}
	if got := l.Stats().DroppedReplay; got != 6 {
		t.Errorf("dropped_replay = %d, want 6", got)
	}
}

// TestUnsignedListenerHasNoReplayGuard: without a key anyone can forge a
// beacon anyway, so a restarted instance whose sequence went back is
// simply believed.
func TestUnsignedListenerHasNoReplayGuard(t *testing.T) {
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{Clock: clock.Now})
	for _, seq := range []uint64{5, 5, 1} {
		sendRaw(t, l.Addr(), encode(t, beacon("a", seq), nil))
		if r := next(t, results); r.Err != nil {
			t.Errorf("seq %d: %v", seq, r.Err)
		}
	}
	if got := l.Instances(); len(got) != 1 || got[0].Seq != 1 || got[0].Beacons != 3 {
		t.Errorf("Instances() = %+v, want a at seq 1 after 3 beacons", got)
	}
}

// TestExpiry moves the listener's clock: an instance is live for three of
// its announced intervals after its last beacon (or the listener's
// Expiry), then gone.
func TestExpiry(t *testing.T) {
	tests := []struct {
		name     string
		expiry   time.Duration // ListenerOptions.Expiry
		interval float64       // the beacon's interval_seconds
		live     time.Duration // still live this long after the beacon
	}{
		{name: "default interval", interval: 0, live: 3 * discovery.DefaultInterval},
		{name: "announced interval", interval: 5, live: 15 * time.Second},
		{name: "listener's expiry wins", expiry: time.Second, interval: 5, live: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l, results := listen(t, discovery.ListenerOptions{Clock: clock.Now, Expiry: tc.expiry})
			b := beacon("a", 1)
			b.IntervalSeconds = tc.interval
			sendRaw(t, l.Addr(), encode(t, b, nil))
			if r := next(t, results); r.Err != nil {
				t.Fatalf("beacon dropped: %v", r.Err)
			}
			clock.Advance(tc.live)
			if got := len(l.Instances()); got != 1 {
				t.Errorf("%v after the beacon: %d instances, want 1", tc.live, got)
			}
			clock.Advance(time.Millisecond)
			if got := len(l.Instances()); got != 0 {
				t.Errorf("%v after the beacon: %d instances, want 0", tc.live+time.Millisecond, got)
			}
			// A new beacon brings it back, counted from its first sighting.
			b.Seq, b.Timestamp = 2, clock.Now()
			sendRaw(t, l.Addr(), encode(t, b, nil))
			if r := next(t, results); r.Err != nil {
				t.Fatalf("beacon dropped: %v", r.Err)
			}
			if got := l.Instances(); len(got) != 1 || !got[0].LastSeen.Equal(clock.Now()) {
				t.Errorf("Instances() = %+v, want a seen now", got)
			}
		})
	}
}

// TestTableFull: the table is bounded; expired instances make room.
func TestTableFull(t *testing.T) {
	clock := newFakeClock()
	l, results := listen(t, discovery.ListenerOptions{
		Clock: clock.Now, MaxInstances: 2, Expiry: time.Second, ReplayWindow: time.Second,
	})
	send := func(id string) error {
		t.Helper()
		b := beacon(id, 1)
		b.Timestamp = clock.Now()
		sendRaw(t, l.Addr(), encode(t, b, nil))
		return next(t, results).Err
	}
	for _, id := range []string{"a", "b"} {
		if err := send(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if err := send("c"); !errors.Is(err, discovery.ErrTableFull) {
		t.Errorf("third instance: %v, want ErrTableFull", err)
	}
	if err := send("a"); err != nil {
		t.Errorf("a known instance when full: %v", err)
	}
	clock.Advance(2*time.Second + time.Millisecond) // past expiry + window
	if err := send("c"); err != nil {
		t.Errorf("after the others expired: %v", err)
	}
	if got := l.Stats().DroppedTableFull; got != 1 {
		t.Errorf("dropped_table_full = %d, want 1", got)
	}
}

func TestListenBadAddr(t *testing.T) {
	for _, addr := range []string{"8087", "localhost", "[::1", "127.0.0.1:99999"} {
		t.Run(addr, func(t *testing.T) {
			l, err := discovery.Listen(context.Background(), discovery.ListenerOptions{Addr: addr})
			if err == nil {
				l.Close()
				t.Fatalf("Listen(%q) succeeded", addr)
			}
		})
	}
}

// TestListenerClose: Close ends Run without an error, and twice is fine.
func TestListenerClose(t *testing.T) {
	l, err := discovery.Listen(context.Background(), discovery.ListenerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
