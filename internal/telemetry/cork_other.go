//go:build !linux

package telemetry

import "net"

// corker does nothing on this platform: each message is sent as written.
type corker struct{}

func newCorker(net.Conn) corker { return corker{} }

func (corker) set(bool) {}
