package telemetry

import (
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// inputRecorder is a Pilot that keeps every input it was given.
type inputRecorder struct {
	mu  sync.Mutex
	all []engine.Input
}

func (r *inputRecorder) set(in engine.Input) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, in)
}

// last returns the input in force and how many were applied.
func (r *inputRecorder) last() (engine.Input, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return engine.Input{}, 0
	}
	return r.all[len(r.all)-1], len(r.all)
}

func inputMsgOf(tx, ty, tz, rx, ry, rz float64, id any) map[string]any {
	m := map[string]any{
		"type":     MsgInput,
		"throttle": map[string]any{"x": tx, "y": ty, "z": tz},
		"rotation": map[string]any{"x": rx, "y": ry, "z": rz},
	}
	if id != nil {
		m["id"] = id
	}
	return m
}

func pilotHarness(t *testing.T, clock *fakeClock, rec *inputRecorder) *harness {
	t.Helper()
	return newHarness(t, HubOptions{
		Now: clock.Now, Pilot: rec.set, AuthRequired: true,
		Auth: staticAuth{
			"ro":  {ID: "ro", Role: "readonly"},
			"dev": {ID: "dev", Role: "developer"},
			"adm": {ID: "adm", Role: "admin"},
		},
	})
}

func TestPilotInputByRole(t *testing.T) {
	clock := newFakeClock()
	rec := &inputRecorder{}
	h := pilotHarness(t, clock, rec)

	ro := h.connect(Subprotocol, BearerPrefix+"ro")
	ro.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	if m := ro.expect(MsgError); m.Code != CodeForbidden {
		t.Errorf("readonly input: code %q, want forbidden", m.Code)
	}
	ro.send(map[string]any{"type": MsgPing})
	ro.expect(MsgPong) // still open
	if _, n := rec.last(); n != 0 {
		t.Fatalf("readonly input reached the engine (%d inputs)", n)
	}

	dev := h.connect(Subprotocol, BearerPrefix+"dev")
	dev.send(inputMsgOf(0.5, 0, -3, 0, 99, 0, "i1")) // out of range: clamped
	dev.expect(MsgAck)
	got, _ := rec.last()
	want := engine.ClampInput(engine.Input{Throttle: engine.Vec3{X: 0.5, Z: -3}, Rotation: engine.Vec3{Y: 99}})
	if got != want || got.Throttle.Z != -1 {
		t.Errorf("applied input = %+v, want clamped %+v", got, want)
	}

	adm := h.connect(Subprotocol, BearerPrefix+"adm")
	adm.send(map[string]any{"type": MsgInput, "throttle": map[string]any{"x": 0, "y": 1, "z": 0}, "id": 2})
	adm.expect(MsgAck)
	if got, _ := rec.last(); got != (engine.Input{Throttle: engine.Vec3{Y: 1}}) {
		t.Errorf("admin input (rotation absent) = %+v, want throttle y 1 only", got)
	}

	for _, bad := range []any{
		`{"type":"input","throttle":{"x":1e999,"y":0,"z":0}}`,
		`{"type":"input","throttle":{"x":"fast"}}`,
		`{"type":"input","throttle":[1,2,3]}`,
	} {
		dev.send(bad)
		if m := dev.expect(MsgError); m.Code != CodeBadJSON {
			t.Errorf("%s: code %q (%s), want bad_json", bad, m.Code, m.Message)
		}
	}
}

func TestPilotDeadManSwitch(t *testing.T) {
	clock := newFakeClock()
	rec := &inputRecorder{}
	h := pilotHarness(t, clock, rec)
	dev := h.connect(Subprotocol, BearerPrefix+"dev")

	dev.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	dev.expect(MsgAck)
	clock.Advance(PilotTimeout - time.Millisecond)
	h.step(1)
	if got, _ := rec.last(); got.Throttle.Z != -1 {
		t.Fatalf("input zeroed before the timeout: %+v", got)
	}
	// A repeat keeps it alive.
	dev.send(inputMsgOf(0, 0, -1, 0, 0, 0, 2))
	dev.expect(MsgAck)
	clock.Advance(PilotTimeout - time.Millisecond)
	h.step(1)
	if got, _ := rec.last(); got.Throttle.Z != -1 {
		t.Fatalf("input zeroed although it was repeated: %+v", got)
	}
	clock.Advance(time.Millisecond)
	h.step(1)
	if got, n := rec.last(); got != (engine.Input{}) {
		t.Fatalf("input after %s of silence = %+v (%d applied), want zero", PilotTimeout, got, n)
	}
	// Zero input is not held: nothing more happens.
	_, n := rec.last()
	clock.Advance(time.Hour)
	h.step(1)
	if _, n2 := rec.last(); n2 != n {
		t.Errorf("the switch fired again with nothing held (%d inputs, then %d)", n, n2)
	}

	// A release (zero input) from the client ends it at once.
	dev.send(inputMsgOf(0, 0, 0, 0, 0.5, 0, 3))
	dev.expect(MsgAck)
	dev.send(inputMsgOf(0, 0, 0, 0, 0, 0, 4))
	dev.expect(MsgAck)
	if got, _ := rec.last(); got != (engine.Input{}) {
		t.Errorf("input after release = %+v, want zero", got)
	}

	// A disconnect while holding zeroes the input.
	dev.send(inputMsgOf(1, 0, 0, 0, 0, 0, 5))
	dev.expect(MsgAck)
	_ = dev.ws.Close()
	waitFor(t, "the input to return to zero after the disconnect", func() bool {
		got, _ := rec.last()
		return got == (engine.Input{})
	})
}

// TestPilotDisconnectOfAnotherClient: only the holder's silence or
// disconnect zeroes the input.
func TestPilotDisconnectOfAnotherClient(t *testing.T) {
	clock := newFakeClock()
	rec := &inputRecorder{}
	h := pilotHarness(t, clock, rec)
	a := h.connect(Subprotocol, BearerPrefix+"dev")
	b := h.connect(Subprotocol, BearerPrefix+"adm")
	a.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	a.expect(MsgAck)
	b.send(inputMsgOf(0, 0, 0.5, 0, 0, 0, 1)) // b takes over
	b.expect(MsgAck)
	_ = a.ws.Close()
	waitFor(t, "a's disconnect", func() bool { return h.hub.Stats().Connections == 1 })
	if got, _ := rec.last(); got.Throttle.Z != 0.5 {
		t.Errorf("input after the former holder left = %+v, want b's", got)
	}
}

func TestPilotAnonymousInDevelopment(t *testing.T) {
	rec := &inputRecorder{}
	// Without AuthRequired connections are anonymous (here with the
	// readonly role, as serve configures development): they may pilot.
	h := newHarness(t, HubOptions{Pilot: rec.set, Anonymous: Principal{ID: "anonymous", Role: "readonly"}})
	c := h.connect()
	c.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	c.expect(MsgAck)
	if got, _ := rec.last(); got.Throttle.Z != -1 {
		t.Errorf("anonymous input = %+v", got)
	}

	// A custom policy decides instead.
	h = newHarness(t, HubOptions{Pilot: rec.set, AuthorizePilot: func(Principal, bool) error { return errPilotRole }})
	c = h.connect()
	c.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	if m := c.expect(MsgError); m.Code != CodeForbidden {
		t.Errorf("code %q, want forbidden", m.Code)
	}

	// No Pilot: nobody may.
	h = newHarness(t, HubOptions{})
	c = h.connect()
	c.send(inputMsgOf(0, 0, -1, 0, 0, 0, 1))
	if m := c.expect(MsgError); m.Code != CodeForbidden {
		t.Errorf("code %q, want forbidden", m.Code)
	}
}
