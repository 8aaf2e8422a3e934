//go:build linux

package telemetry

import (
	"net"
	"syscall"
)

// corker holds back a TCP socket's segments while a writer writes several
// messages in a row (TCP_CORK), so the kernel sends them together: one
// transmission and one wake-up of the receiver instead of one per message.
type corker struct {
	rc syscall.RawConn // nil: not a TCP socket, corking does nothing
}

func newCorker(nc net.Conn) corker {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return corker{}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return corker{}
	}
	return corker{rc: rc}
}

// set corks (on) or uncorks the socket; uncorking sends what is held.
// Best effort: on failure the writes simply go out one by one.
func (k corker) set(on bool) {
	if k.rc == nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	_ = k.rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
}
