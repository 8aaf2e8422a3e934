package telemetry

import (
	"strings"
	"testing"
	"time"
)

// quest3 is a vr_state of an active session, as the web client sends it.
func quest3(id any) map[string]any {
	m := map[string]any{
		"type": MsgVRState, "session_active": true, "runtime": "WebXR", "headset_type": "Meta Quest 3",
		"headset": map[string]any{"position": map[string]any{"x": 0, "y": 1.6, "z": 0}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}},
		"controllers": []any{
			map[string]any{"hand": "left", "connected": true, "pose": map[string]any{"position": map[string]any{"x": -0.2, "y": 1.2, "z": -0.3}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}}},
			map[string]any{"hand": "right", "connected": true, "pose": map[string]any{"position": map[string]any{"x": 0.2, "y": 1.2, "z": -0.3}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}}},
		},
		"render_fps": 72.0, "render_scale": 0.8,
	}
	if id != nil {
		m["id"] = id
	}
	return m
}

func TestVRStateShowsInVRTopicAndExpires(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, HubOptions{Now: clock.Now})
	viewer := h.connect()
	viewer.subscribe(0, TopicVR)

	if got := h.hub.VR(); got.HeadsetConnected || got.FallbackMode != "desktop" || got.Clients != 0 {
		t.Fatalf("VR before any report = %+v, want the desktop fallback and 0 clients", got)
	}

	headset := h.connect()
	headset.send(quest3("r1"))
	if ack := headset.expect(MsgAck); !strings.Contains(string(ack.Raw), `"id":"r1"`) {
		t.Errorf("ack %s does not echo the id", ack.Raw)
	}
	h.step(1)
	msgs := viewer.sync()
	if len(msgs) != 1 || msgs[0].Event != TopicVR {
		t.Fatalf("viewer got %d messages, want one vr frame: %v", len(msgs), msgs)
	}
	var got VRState
	decode(t, msgs[0].Data, &got)
	want := VRState{
		VREnabled: true, HeadsetConnected: true, Runtime: "WebXR", HeadsetType: "Meta Quest 3",
		Headset: &Pose{Position: Vec{0, 1.6, 0}, Orientation: Quat{W: 1}},
		Controllers: []ControllerPose{
			{Hand: "left", Connected: true, Pose: Pose{Position: Vec{-0.2, 1.2, -0.3}, Orientation: Quat{W: 1}}},
			{Hand: "right", Connected: true, Pose: Pose{Position: Vec{0.2, 1.2, -0.3}, Orientation: Quat{W: 1}}},
		},
		RenderFPS: 72, RenderScale: 0.8, Clients: 1, Tick: h.tick,
	}
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Errorf("vr frame = %s\nwant %s", a, b)
	}

	// Not reported again within VRStaleAfter: back to the fallback, but
	// the client is still counted.
	clock.Advance(VRStaleAfter - time.Millisecond)
	if !h.hub.VR().HeadsetConnected {
		t.Error("the session expired before VRStaleAfter")
	}
	clock.Advance(time.Millisecond)
	if got := h.hub.VR(); got.HeadsetConnected || got.FallbackMode != "desktop" || got.Clients != 1 {
		t.Errorf("VR after %s without a report = %+v, want the desktop fallback with 1 client", VRStaleAfter, got)
	}

	// A fresh report brings it back; session end returns to the fallback.
	headset.send(quest3(nil))
	headset.send(map[string]any{"type": MsgPing, "id": "p"})
	headset.expect(MsgPong) // no ack without an id
	if !h.hub.VR().HeadsetConnected {
		t.Error("a fresh report did not bring the headset back")
	}
	headset.send(map[string]any{"type": MsgVRState, "session_active": false, "id": 2})
	headset.expect(MsgAck)
	if got := h.hub.VR(); got.HeadsetConnected || got.VREnabled || got.FallbackMode != "desktop" || got.Runtime != "" || got.Clients != 1 {
		t.Errorf("VR after session end = %+v, want the desktop fallback", got)
	}

	// Disconnected clients are forgotten.
	headset.send(quest3(3))
	headset.expect(MsgAck)
	_ = headset.ws.Close()
	waitFor(t, "the disconnected client to be forgotten", func() bool {
		v := h.hub.VR()
		return !v.HeadsetConnected && v.Clients == 0
	})
}

func TestVRStateFreshestSessionWins(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, HubOptions{Now: clock.Now})
	a, b, idle := h.connect(), h.connect(), h.connect()
	ma := quest3(1)
	ma["headset_type"] = "A"
	a.send(ma)
	a.expect(MsgAck)
	clock.Advance(time.Second)
	mb := quest3(1)
	mb["headset_type"] = "B"
	b.send(mb)
	b.expect(MsgAck)
	idle.send(map[string]any{"type": MsgVRState, "session_active": false, "id": 1})
	idle.expect(MsgAck)
	if got := h.hub.VR(); got.HeadsetType != "B" || got.Clients != 3 {
		t.Errorf("VR = %+v, want B (the freshest) and 3 clients", got)
	}
	clock.Advance(time.Second)
	a.send(ma)
	a.expect(MsgAck)
	if got := h.hub.VR(); got.HeadsetType != "A" {
		t.Errorf("VR = %+v, want A (reported last)", got)
	}
	// B ends its session: A stays.
	b.send(map[string]any{"type": MsgVRState, "session_active": false, "id": 2})
	b.expect(MsgAck)
	if got := h.hub.VR(); got.HeadsetType != "A" || got.Clients != 3 {
		t.Errorf("VR = %+v, want A and 3 clients", got)
	}
}

func TestVRStateValidation(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	withControllers := func(n int) map[string]any {
		m := quest3(nil)
		cs := make([]any, n)
		for i := range cs {
			cs[i] = map[string]any{"hand": "left", "connected": true, "pose": map[string]any{"position": map[string]any{"x": 0, "y": 0, "z": 0}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}}}
		}
		m["controllers"] = cs
		return m
	}
	with := func(k string, v any) map[string]any {
		m := quest3(nil)
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		msg  any
		code string
	}{
		{"no session_active", map[string]any{"type": MsgVRState, "runtime": "WebXR"}, CodeBadRequest},
		{"session_active not a bool", map[string]any{"type": MsgVRState, "session_active": "yes"}, CodeBadJSON},
		{"five controllers", withControllers(5), CodeBadRequest},
		{"long runtime", with("runtime", strings.Repeat("x", 33)), CodeBadRequest},
		{"long headset type", with("headset_type", strings.Repeat("x", 65)), CodeBadRequest},
		{"control characters", with("headset_type", "Quest\n3"), CodeBadRequest},
		{"bad hand", with("controllers", []any{map[string]any{"hand": "middle"}}), CodeBadRequest},
		{"far position", with("headset", map[string]any{"position": map[string]any{"x": 1e9, "y": 0, "z": 0}, "orientation": map[string]any{"w": 1}}), CodeBadRequest},
		{"overflowing number", `{"type":"vr_state","session_active":true,"render_fps":1e999}`, CodeBadJSON},
		{"bad orientation", with("headset", map[string]any{"position": map[string]any{}, "orientation": map[string]any{"w": 7}}), CodeBadRequest},
		{"negative fps", with("render_fps", -1), CodeBadRequest},
		{"zero scale", with("render_scale", 0), CodeBadRequest},
		{"huge scale", with("render_scale", 5), CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.msg)
			m := c.expect(MsgError)
			if m.Code != tt.code {
				t.Errorf("code = %q (%s), want %q", m.Code, m.Message, tt.code)
			}
			c.send(map[string]any{"type": MsgPing})
			c.expect(MsgPong) // the connection stays open
		})
	}
	if got := h.hub.VR(); got.HeadsetConnected || got.Clients != 0 {
		t.Errorf("refused reports changed the state: %+v", got)
	}
	// The limits themselves are accepted.
	ok := withControllers(4)
	ok["runtime"], ok["headset_type"], ok["id"] = strings.Repeat("r", 32), strings.Repeat("h", 64), 1
	c.send(ok)
	c.expect(MsgAck)
}

// TestGetSnapshotHasVR: get_snapshot answers the same live state.
func TestGetSnapshotHasVR(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	c.send(quest3(1))
	c.expect(MsgAck)
	c.send(map[string]any{"type": MsgGetSnapshot, "topics": []string{TopicVR}})
	m := c.expect(MsgSnapshot)
	var snap struct {
		Data struct {
			VR VRState `json:"vr"`
		} `json:"data"`
	}
	decode(t, m.Raw, &snap)
	if v := snap.Data.VR; !v.HeadsetConnected || v.HeadsetType != "Meta Quest 3" || v.Clients != 1 {
		t.Errorf("snapshot vr = %+v", v)
	}
}
