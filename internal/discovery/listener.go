package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxInstances bounds a listener's table, so a flood of beacons
// with made-up instance ids cannot grow it without end.
const DefaultMaxInstances = 4096

// ListenerOptions configures Listen.
type ListenerOptions struct {
	// Addr is where to listen: DefaultListenAddr when empty. A multicast
	// group address ("239.255.80.87:8087") joins the group on the default
	// interface.
	Addr string
	// Key, when set, makes the listener accept only beacons signed with
	// it, and turns on the replay guard.
	Key []byte
	// Expiry is how long an instance stays live after its last beacon;
	// 0 means ExpiryIntervals times the interval the beacon announces (or
	// DefaultInterval when it announces none).
	Expiry time.Duration
	// ReplayWindow bounds the age of a signed beacon's timestamp, either
	// way; DefaultReplayWindow when 0.
	ReplayWindow time.Duration
	// MaxInstances bounds the table; DefaultMaxInstances when 0.
	MaxInstances int
	// Clock returns the time; time.Now when nil.
	Clock func() time.Time
	// OnResult, when set, is called from Run's goroutine after each
	// datagram with what became of it. It must not block for long.
	OnResult func(Result)
	// Logger logs dropped datagrams at DEBUG; nil discards them.
	Logger *slog.Logger
}

// Result is what became of one datagram.
type Result struct {
	// From is the sender's address.
	From net.Addr
	// Beacon is the decoded beacon (zero when it could not be decoded).
	Beacon Beacon
	// Err is nil when the beacon was accepted; else it wraps one of
	// ErrOversized, ErrMalformed, ErrForeign, ErrUnsigned,
	// ErrBadSignature, ErrReplay or ErrTableFull.
	Err error
}

// Stats counts a listener's datagrams. Received is the sum of Accepted
// and every Dropped count.
type Stats struct {
	Received         uint64 `json:"received"`
	Accepted         uint64 `json:"accepted"`
	DroppedMalformed uint64 `json:"dropped_malformed"`
	DroppedForeign   uint64 `json:"dropped_foreign"`
	DroppedUnsigned  uint64 `json:"dropped_unsigned"`
	DroppedBadSig    uint64 `json:"dropped_bad_sig"`
	DroppedOversized uint64 `json:"dropped_oversized"`
	DroppedReplay    uint64 `json:"dropped_replay"`
	DroppedTableFull uint64 `json:"dropped_table_full"`
}

// Dropped is the number of datagrams dropped for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedMalformed + s.DroppedForeign + s.DroppedUnsigned + s.DroppedBadSig +
		s.DroppedOversized + s.DroppedReplay + s.DroppedTableFull
}

// Instance is a live server as the listener knows it: its latest beacon
// and where and when it came from.
type Instance struct {
	Beacon
	// Addr is the IP address the latest beacon came from.
	Addr string `json:"addr"`
	// FirstSeen and LastSeen are the listener's times of the first and
	// latest beacons.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Signed reports whether the latest beacon's signature was verified.
	Signed bool `json:"signed"`
	// Beacons counts the beacons accepted from it.
	Beacons uint64 `json:"beacons"`
}

// entry is an instance in the table; expiry is its own.
type entry struct {
	Instance
	expiry time.Duration
}

// Listener receives beacons and keeps the table of live instances. Run
// reads; Instances and Stats may be called from any goroutine.
type Listener struct {
	conn     net.PacketConn
	key      []byte
	expiry   time.Duration
	window   time.Duration
	max      int
	now      func() time.Time
	onResult func(Result)
	log      *slog.Logger

	mu    sync.Mutex
	table map[string]*entry
	stats Stats
}

// Listen opens the listening socket (so Addr is known at once, and port 0
// picks a free port) and returns the Listener; Run reads from it.
func Listen(ctx context.Context, opts ListenerOptions) (*Listener, error) {
	l := &Listener{
		key:      append([]byte(nil), opts.Key...),
		expiry:   opts.Expiry,
		window:   opts.ReplayWindow,
		max:      opts.MaxInstances,
		now:      opts.Clock,
		onResult: opts.OnResult,
		log:      opts.Logger,
		table:    make(map[string]*entry),
	}
	if l.window <= 0 {
		l.window = DefaultReplayWindow
	}
	if l.max <= 0 {
		l.max = DefaultMaxInstances
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	addr := opts.Addr
	if addr == "" {
		addr = DefaultListenAddr
	}
	if err := checkHostPort(addr, false); err != nil {
		return nil, err
	}
	conn, err := listenUDP(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("discovery: listen %s: %w", addr, err)
	}
	l.conn = conn
	return l, nil
}

// listenUDP binds addr, joining the group when it is a multicast address.
func listenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	if ua, err := net.ResolveUDPAddr("udp", addr); err == nil && ua.IP.IsMulticast() {
		network := "udp4"
		if ua.IP.To4() == nil {
			network = "udp6"
		}
		return net.ListenMulticastUDP(network, nil, ua)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = listenerSockopts(fd) }); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(ctx, "udp", addr)
}

// Addr returns the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.conn.LocalAddr() }

// Close closes the socket; Run then returns nil. Safe to call more than
// once.
func (l *Listener) Close() error {
	if err := l.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Run reads datagrams until ctx ends or Close is called, and returns nil
// then; it closes the socket when it returns. No datagram ends it: each is
// accepted or dropped and counted. Run returns an error only when the
// socket itself fails.
func (l *Listener) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { l.conn.Close() })
	defer stop()
	defer l.conn.Close()
	// One byte more than the limit tells an oversized datagram (the kernel
	// truncates it silently) from one of exactly MaxDatagram bytes.
	buf := make([]byte, MaxDatagram+1)
	for {
		n, from, err := l.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("discovery: read: %w", err)
		}
		res := l.handle(buf[:n], from)
		if res.Err != nil {
			l.log.Debug("discovery datagram dropped", "from", from, "error", res.Err)
		}
		if l.onResult != nil {
			l.onResult(res)
		}
	}
}

// handle checks one datagram and updates the table and the counts.
func (l *Listener) handle(data []byte, from net.Addr) Result {
	res := Result{From: from}
	b, verified, err := Decode(data, l.key)
	res.Beacon = b

	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Received++
	if err == nil {
		err = l.accept(b, verified, from)
	}
	res.Err = err
	switch {
	case err == nil:
		l.stats.Accepted++
	case errors.Is(err, ErrOversized):
		l.stats.DroppedOversized++
	case errors.Is(err, ErrForeign):
		l.stats.DroppedForeign++
	case errors.Is(err, ErrUnsigned):
		l.stats.DroppedUnsigned++
	case errors.Is(err, ErrBadSignature):
		l.stats.DroppedBadSig++
	case errors.Is(err, ErrReplay):
		l.stats.DroppedReplay++
	case errors.Is(err, ErrTableFull):
		l.stats.DroppedTableFull++
	default:
		l.stats.DroppedMalformed++
	}
	return res
}

// accept applies the replay guard (signed beacons only) and records b.
// l.mu is held.
func (l *Listener) accept(b Beacon, verified bool, from net.Addr) error {
	now := l.now()
	e := l.table[b.InstanceID]
	if verified {
		if d := now.Sub(b.Timestamp); d > l.window || d < -l.window {
			return fmt.Errorf("%w: timestamp %s is %s away from now", ErrReplay,
				b.Timestamp.Format(time.RFC3339), d.Round(time.Second))
		}
		if e != nil && e.Signed {
			switch {
			case b.StartedAt.Before(e.StartedAt):
				return fmt.Errorf("%w: from an earlier run of %s", ErrReplay, b.InstanceID)
			case b.StartedAt.Equal(e.StartedAt) && b.Seq <= e.Seq:
				return fmt.Errorf("%w: seq %d after %d", ErrReplay, b.Seq, e.Seq)
			}
		}
	}
	if e == nil {
		l.prune(now)
		if len(l.table) >= l.max {
			return ErrTableFull
		}
		e = &entry{Instance: Instance{FirstSeen: now}}
		l.table[b.InstanceID] = e
	}
	e.Beacon = b
	e.Addr = hostIP(from)
	e.LastSeen = now
	e.Signed = verified
	e.Beacons++
	e.expiry = l.expiry
	if e.expiry <= 0 {
		iv := DefaultInterval
		if b.IntervalSeconds > 0 {
			iv = time.Duration(b.IntervalSeconds * float64(time.Second))
		}
		e.expiry = ExpiryIntervals * iv
	}
	return nil
}

// prune forgets instances gone for longer than their expiry plus the
// replay window: until then a signed instance's sequence number is kept,
// so a beacon replayed within the window cannot bring it back. l.mu is
// held.
func (l *Listener) prune(now time.Time) {
	for id, e := range l.table {
		if now.Sub(e.LastSeen) > e.expiry+l.window {
			delete(l.table, id)
		}
	}
}

// Instances returns the live instances (last beacon no older than their
// expiry), sorted by instance id.
func (l *Listener) Instances() []Instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	out := make([]Instance, 0, len(l.table))
	for _, e := range l.table {
		if now.Sub(e.LastSeen) <= e.expiry {
			out = append(out, e.Instance)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return cmp.Compare(a.InstanceID, b.InstanceID) })
	return out
}

// Stats returns the counts so far.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// hostIP is the IP of a UDP source address.
func hostIP(a net.Addr) string {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	if a == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}
