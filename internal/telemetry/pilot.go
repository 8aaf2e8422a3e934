package telemetry

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// PilotTimeout is the dead-man switch of pilot input: when the connection
// whose non-zero input is in force sends no input message for this long
// (or disconnects), the input returns to zero.
const PilotTimeout = 500 * time.Millisecond

// DefaultAuthorizePilot is the pilot policy when HubOptions.AuthorizePilot
// is nil: the roles developer and admin, and anonymous connections (which
// exist only when authentication is not required, i.e. in development).
func DefaultAuthorizePilot(p Principal, anonymous bool) error {
	if anonymous || p.Role == "developer" || p.Role == "admin" {
		return nil
	}
	return errPilotRole
}

var errPilotRole = errors.New("telemetry: piloting needs the developer role")

// pilot is the hub's pilot input: who holds it and since when. The hub
// applies input through HubOptions.Pilot under mu, so the engine sees the
// inputs in the order the hub decided them.
type pilot struct {
	mu    sync.Mutex
	owner *conn     // the connection whose non-zero input is in force; nil: none
	at    time.Time // its last input message
	held  atomic.Bool
}

// inputMsg is an input message's payload.
type inputMsg struct {
	Throttle *Vec `json:"throttle"`
	Rotation *Vec `json:"rotation"`
}

// parseInput checks an input message and returns it clamped as the
// engine does (engine.ClampInput); absent vectors are zero.
func parseInput(m clientMsg) (engine.Input, *protoError) {
	var in engine.Input
	for _, f := range []struct {
		name string
		v    *Vec
		dst  *engine.Vec3
	}{{"throttle", m.Throttle, &in.Throttle}, {"rotation", m.Rotation, &in.Rotation}} {
		if f.v == nil {
			continue
		}
		if !finite(f.v.X) || !finite(f.v.Y) || !finite(f.v.Z) {
			return engine.Input{}, perr(CodeBadRequest, "input %s must have finite x, y and z", f.name)
		}
		*f.dst = engine.Vec3{X: f.v.X, Y: f.v.Y, Z: f.v.Z}
	}
	return engine.ClampInput(in), nil
}

// input handles an input message from c: it checks the principal may
// pilot, applies the input and arms the dead-man switch.
func (c *conn) input(m clientMsg) *protoError {
	h := c.h
	if h.opts.Pilot == nil {
		return perr(CodeForbidden, "this server does not take pilot input")
	}
	p := c.prin.Load()
	if err := h.opts.AuthorizePilot(*p, c.anonymous); err != nil {
		return perr(CodeForbidden, "piloting refused: %v", err)
	}
	in, err := parseInput(m)
	if err != nil {
		return err
	}
	h.setInput(c, in)
	return nil
}

// setInput applies in on behalf of c. Non-zero input makes c the holder;
// zero input from anyone releases it.
func (h *Hub) setInput(c *conn, in engine.Input) {
	pl := &h.pilot
	pl.mu.Lock()
	defer pl.mu.Unlock()
	h.opts.Pilot(in)
	if in == (engine.Input{}) {
		pl.owner = nil
		pl.held.Store(false)
		return
	}
	pl.owner, pl.at = c, h.opts.Now()
	pl.held.Store(true)
}

// releasePilot zeroes the input when c holds it (c disconnected).
func (h *Hub) releasePilot(c *conn) {
	pl := &h.pilot
	if !pl.held.Load() {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.owner == c {
		h.opts.Pilot(engine.Input{})
		pl.owner = nil
		pl.held.Store(false)
	}
}

// checkPilot is the dead-man switch: it zeroes the input when its holder
// has sent nothing for PilotTimeout at now. Step calls it at every poll.
func (h *Hub) checkPilot(now time.Time) {
	pl := &h.pilot
	if !pl.held.Load() {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.owner != nil && now.Sub(pl.at) >= PilotTimeout {
		h.log.Debug("pilot input timed out, zeroing", "principal", pl.owner.principalID())
		h.opts.Pilot(engine.Input{})
		pl.owner = nil
		pl.held.Store(false)
	}
}
