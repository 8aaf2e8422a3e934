package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrBadAddr reports an address that is not "host:port" (or "off").
var ErrBadAddr = errors.New("discovery: bad address")

// Off is the sender address that disables beacons.
const Off = "off"

// Ticker is the part of *time.Ticker a Sender uses; tests inject one they
// drive by hand.
type Ticker interface {
	// Chan delivers the ticks.
	Chan() <-chan time.Time
	// Stop ends the ticks.
	Stop()
}

// SenderOptions configures NewSender.
type SenderOptions struct {
	// Addr is where beacons go: DefaultAddr when empty, any broadcast,
	// multicast or unicast "host:port", or Off to send nothing.
	Addr string
	// Interval between beacons; DefaultInterval when 0.
	Interval time.Duration
	// Key, when set, signs every beacon (HMAC-SHA256).
	Key []byte
	// Info returns what to announce; it is called before each beacon from
	// the sender's goroutine and must be safe for that. The sender sets
	// Service, Timestamp, Seq and IntervalSeconds itself, and fills
	// InstanceID (a random id) and StartedAt (NewSender's time) when they
	// are empty. nil announces only those.
	Info func() Beacon
	// MulticastTTL is the hop limit of multicast beacons; 0 keeps the
	// system default (1: the local network). Applied on Linux.
	MulticastTTL int
	// Clock returns the time of day for timestamps; time.Now when nil.
	Clock func() time.Time
	// NewTicker makes the interval ticker; a time.Ticker when nil.
	NewTicker func(time.Duration) Ticker
	// OnSend, when set, is called from Run's goroutine after each attempt
	// with the beacon and the error (nil when sent).
	OnSend func(Beacon, error)
	// Logger logs send failures; nil discards them.
	Logger *slog.Logger
}

// SenderStats counts what a Sender did.
type SenderStats struct {
	Sent   uint64 `json:"sent"`
	Errors uint64 `json:"errors"`
}

// Sender announces one server. Run sends; Stats may be called from any
// goroutine.
type Sender struct {
	addr      string // destination; "" when disabled
	interval  time.Duration
	key       []byte
	info      func() Beacon
	ttl       int
	now       func() time.Time
	newTicker func(time.Duration) Ticker
	onSend    func(Beacon, error)
	log       *slog.Logger
	id        string
	started   time.Time

	seq     uint64 // owned by Run
	failing bool   // owned by Run: the last send failed
	sent    atomic.Uint64
	errs    atomic.Uint64
}

// NewSender checks opts and returns a Sender; nothing is opened until Run.
// ErrBadAddr when Addr is neither Off nor "host:port" with a host and a
// port in 1-65535.
func NewSender(opts SenderOptions) (*Sender, error) {
	s := &Sender{
		addr:      opts.Addr,
		interval:  opts.Interval,
		key:       append([]byte(nil), opts.Key...),
		info:      opts.Info,
		ttl:       opts.MulticastTTL,
		now:       opts.Clock,
		newTicker: opts.NewTicker,
		onSend:    opts.OnSend,
		log:       opts.Logger,
		id:        NewInstanceID(),
	}
	if s.addr == "" {
		s.addr = DefaultAddr
	}
	if strings.EqualFold(s.addr, Off) {
		s.addr = ""
	} else if err := checkHostPort(s.addr, true); err != nil {
		return nil, err
	}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.ttl < 0 || s.ttl > 255 {
		return nil, fmt.Errorf("discovery: multicast TTL %d out of range 0-255", s.ttl)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newTicker == nil {
		s.newTicker = func(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.started = s.now()
	return s, nil
}

// checkHostPort checks "host:port"; needHost refuses an empty host.
func checkHostPort(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrBadAddr, addr, err)
	}
	if needHost && host == "" {
		return fmt.Errorf("%w %q: no host", ErrBadAddr, addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (needHost && p == 0) {
		return fmt.Errorf("%w %q: bad port", ErrBadAddr, addr)
	}
	return nil
}

// Enabled reports whether the sender sends (its address is not Off).
func (s *Sender) Enabled() bool { return s.addr != "" }

// Addr returns the destination "host:port", "" when disabled.
func (s *Sender) Addr() string { return s.addr }

// Stats returns the counts so far.
func (s *Sender) Stats() SenderStats {
	return SenderStats{Sent: s.sent.Load(), Errors: s.errs.Load()}
}

// Run sends a beacon at once and then every interval until ctx ends, and
// returns nil then. A disabled sender just waits for ctx. Failures to
// resolve the destination, open the socket or send are logged and
// counted, never returned: the next tick tries again, so discovery never
// takes the server down.
func (s *Sender) Run(ctx context.Context) error {
	if !s.Enabled() {
		<-ctx.Done()
		return nil
	}
	t := s.newTicker(s.interval)
	defer t.Stop()

	var conn net.PacketConn
	var dst *net.UDPAddr
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		if conn == nil {
			var err error
			conn, dst, err = s.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil // shutting down mid-connect
				}
				s.fail(err)
				if s.onSend != nil {
					s.onSend(Beacon{}, err)
				}
			}
		}
		if conn != nil {
			s.send(conn, dst)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
	}
}

// connect resolves the destination and opens a socket of its family.
func (s *Sender) connect(ctx context.Context) (net.PacketConn, *net.UDPAddr, error) {
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostOf(s.addr))
	if err == nil && len(ips) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("resolve %s: %w", s.addr, err)
	}
	dst := net.UDPAddrFromAddrPort(netipAddrPort(ips[0], s.addr))
	conn, err := s.open(ctx, dst)
	if err != nil {
		return nil, nil, fmt.Errorf("open beacon socket for %s: %w", dst, err)
	}
	return conn, dst, nil
}

// open makes the sending socket, of dst's family, with broadcast allowed.
func (s *Sender) open(ctx context.Context, dst *net.UDPAddr) (net.PacketConn, error) {
	ipv6 := dst.IP.To4() == nil
	network, local := "udp4", "0.0.0.0:0"
	if ipv6 {
		network, local = "udp6", "[::]:0"
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = senderSockopts(fd, ipv6, s.ttl) }); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(ctx, network, local)
}

// send sends the next beacon.
func (s *Sender) send(conn net.PacketConn, dst *net.UDPAddr) {
	s.seq++
	b := Beacon{}
	if s.info != nil {
		b = s.info()
	}
	b.Service = Service
	if b.InstanceID == "" {
		b.InstanceID = s.id
	}
	if b.StartedAt.IsZero() {
		b.StartedAt = s.started
	}
	b.Timestamp = s.now().UTC()
	b.Seq = s.seq
	b.IntervalSeconds = s.interval.Seconds()
	data, err := Encode(b, s.key)
	if err == nil {
		_, err = conn.WriteTo(data, dst)
	}
	if s.onSend != nil {
		defer s.onSend(b, err)
	}
	if err != nil {
		s.fail(fmt.Errorf("send beacon to %s: %w", dst, err))
		return
	}
	s.sent.Add(1)
	if s.failing {
		s.failing = false
		s.log.Info("discovery beacons sent again", "addr", s.addr)
	}
}

// fail counts and logs a failure: the first of a run at WARN, the rest at
// DEBUG, so a network without broadcast does not flood the log.
func (s *Sender) fail(err error) {
	s.errs.Add(1)
	if s.failing {
		s.log.Debug("discovery beacon failed", "error", err)
		return
	}
	s.failing = true
	s.log.Warn("discovery beacon failed; retrying every interval", "addr", s.addr,
		"interval", s.interval, "error", err)
}

// netipAddrPort is ip with the port of the checked "host:port" addr.
func netipAddrPort(ip netip.Addr, addr string) netip.AddrPort {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.ParseUint(p, 10, 16)
	return netip.AddrPortFrom(ip.Unmap(), uint16(n))
}

// hostOf is the host of a checked "host:port".
func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) Chan() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()                  { r.t.Stop() }
