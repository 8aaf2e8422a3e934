//go:build unix && !linux

package discovery

import "syscall"

// senderSockopts lets the socket send to broadcast addresses. The
// multicast hop limit stays the system default (1) and loopback on:
// setting them portably needs per-system option sizes.
func senderSockopts(fd uintptr, _ bool, _ int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
}

// listenerSockopts lets several listeners on this host share the port.
func listenerSockopts(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
}
