package health

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/discovery"
)

// discoveryListenAddr says where this host can hear the beacons sent to
// d's destination: the port on every interface for a broadcast, the group
// for multicast, the address itself when it is this host's. ok is false
// for a unicast destination elsewhere.
func discoveryListenAddr(d config.Discovery) (addr string, ok bool) {
	port := strconv.Itoa(d.Port)
	ip := net.ParseIP(d.Address)
	switch {
	case ip == nil:
		return "", false
	case ip.IsMulticast():
		return net.JoinHostPort(d.Address, port), true
	case ip.Equal(net.IPv4bcast) || ip.IsUnspecified() || isLocalBroadcast(ip):
		return ":" + port, true
	case ip.IsLoopback() || isLocalAddr(ip):
		return net.JoinHostPort(d.Address, port), true
	}
	return "", false
}

// isLocalAddr reports whether ip is an address of this host.
func isLocalAddr(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// isLocalBroadcast reports whether ip is the directed broadcast address
// of one of this host's IPv4 networks.
func isLocalBroadcast(ip net.IP) bool {
	ip4 := ip.To4()
	if ip4 == nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil || len(n.Mask) != net.IPv4len {
			continue
		}
		b := make(net.IP, net.IPv4len)
		for i := range b {
			b[i] = n.IP.To4()[i] | ^n.Mask[i]
		}
		if b.Equal(ip4) {
			return true
		}
	}
	return false
}

// checkDiscovery: when discovery is on, a beacon of this server (its API
// port) arrives within one and a half beacon intervals. Not hearing one
// is a warning only: broadcasts may not reach the host running the check.
func checkDiscovery(ctx context.Context, t *Target) Result {
	cfg, skip := t.config()
	if skip != nil {
		return *skip
	}
	d := cfg.Networking.Discovery
	if !d.Enabled {
		return pass("disabled by configuration (networking.discovery.enabled is false)")
	}
	detail := []string{detailf("destination", "%s", d.Addr()), detailf("signed", "%t", d.Key.IsSet())}
	listen, ok := discoveryListenAddr(d)
	if !ok {
		return warn(fmt.Sprintf("beacons go to %s, which this host cannot hear: not checked", d.Addr()), detail...)
	}
	want := t.apiPort()
	wait := min(d.Interval()*3/2+500*time.Millisecond, t.opts.Timeout)
	detail = append(detail, detailf("listening", "%s for up to %s for http_port %d", listen, wait, want))

	var (
		mu      sync.Mutex
		others  []string
		dropped error
	)
	found := make(chan discovery.Beacon, 1)
	var key []byte
	if d.Key.IsSet() {
		key = []byte(d.Key.Reveal())
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l, err := discovery.Listen(lctx, discovery.ListenerOptions{Addr: listen, Key: key, OnResult: func(r discovery.Result) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Err != nil:
			dropped = r.Err
		case r.Beacon.HTTPPort == want && want != 0:
			select {
			case found <- r.Beacon:
			default:
			}
		default:
			others = append(others, fmt.Sprintf("%s:%d", r.From, r.Beacon.HTTPPort))
		}
	}})
	if err != nil {
		return warn("cannot listen for beacons: "+err.Error(), detail...)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- l.Run(lctx) }()
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var b discovery.Beacon
	var heard bool
	select {
	case b = <-found:
		heard = true
	case <-timer.C:
	case <-ctx.Done():
	}
	cancel()
	<-runDone
	if heard {
		detail = append(detail, detailf("beacon", "instance %s, version %s, %s, scene %s, seq %d",
			b.InstanceID, b.Version, b.Environment, b.Scene, b.Seq))
		return pass(fmt.Sprintf("beacon of this server (%s, http_port %d) heard after %s", orDefault(b.Host, "?"), b.HTTPPort,
			time.Since(start).Round(time.Millisecond)), detail...)
	}
	mu.Lock()
	defer mu.Unlock()
	msg := fmt.Sprintf("no beacon with http_port %d within %s", want, wait)
	if dropped != nil {
		msg += "; dropped: " + dropped.Error()
	}
	if len(others) > 0 {
		detail = append(detail, detailf("other beacons", "%d (last from %s)", len(others), others[len(others)-1]))
	}
	return warn(msg, detail...)
}
