//go:build windows

package discovery

import "syscall"

// senderSockopts lets the socket send to broadcast addresses; multicast
// keeps the system defaults (hop limit 1, loopback on).
func senderSockopts(fd uintptr, _ bool, _ int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
}

// listenerSockopts lets several listeners on this host share the port.
func listenerSockopts(fd uintptr) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
}
