//go:build !unix && !windows

package discovery

// senderSockopts does nothing where sockets have no such options.
func senderSockopts(uintptr, bool, int) error { return nil }

// listenerSockopts does nothing where sockets have no such options.
func listenerSockopts(uintptr) error { return nil }
