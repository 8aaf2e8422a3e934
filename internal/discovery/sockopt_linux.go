//go:build linux

package discovery

import "syscall"

// senderSockopts lets the socket send to broadcast addresses and, for
// multicast, sets the hop limit (ttl > 0) and loops datagrams back to
// listeners on this host.
func senderSockopts(fd uintptr, ipv6 bool, ttl int) error {
	if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1); err != nil {
		return err
	}
	if ipv6 {
		if ttl > 0 {
			if err := syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS, ttl); err != nil {
				return err
			}
		}
		return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_LOOP, 1)
	}
	if ttl > 0 {
		if err := syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, ttl); err != nil {
			return err
		}
	}
	return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_LOOP, 1)
}

// listenerSockopts lets several listeners on this host share the port
// (each receives every broadcast and multicast datagram).
func listenerSockopts(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
}
