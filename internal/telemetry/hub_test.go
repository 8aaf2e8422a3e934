package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

func TestTopicRates(t *testing.T) {
	tests := []struct {
		name     string
		topic    string
		rate     float64 // 0: the topic's default
		wantRate float64 // acknowledged
		ticks    int
		want     int // frames of the topic over ticks
	}{
		{"perf default 10 Hz", TopicPerf, 0, 10, 90, 10},
		{"perf 30 Hz", TopicPerf, 30, 30, 90, 30},
		{"player default tick rate", TopicPlayer, 0, 90, 90, 90},
		{"player 45 Hz", TopicPlayer, 45, 45, 90, 45},
		{"player 40 Hz (non-integer interval)", TopicPlayer, 40, 40, 90, 40},
		{"player 7 Hz over 3 s", TopicPlayer, 7, 7, 270, 21},
		{"vr 5 Hz", TopicVR, 5, 5, 90, 5},
		{"vr above the tick rate is clamped", TopicVR, 500, 90, 90, 90},
		{"bodies 15 Hz", TopicBodies, 15, 15, 90, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The test steps faster than it reads: a queue deep enough.
			h := newHarness(t, HubOptions{SendQueue: 1024})
			c := h.connect()
			if tt.topic == TopicBodies {
				c.send(map[string]any{"type": MsgConfigure, "bodies_format": FormatJSON})
				c.expect(MsgConfigured)
			}
			ack := c.subscribe(tt.rate, tt.topic)
			var acked struct {
				Topics []struct {
					Topic  string  `json:"topic"`
					RateHz float64 `json:"rate_hz"`
				} `json:"topics"`
			}
			if err := json.Unmarshal(ack.Raw, &acked); err != nil || len(acked.Topics) != 1 {
				t.Fatalf("ack %s: %v", ack.Raw, err)
			}
			if got := acked.Topics[0]; got.Topic != tt.topic || got.RateHz != tt.wantRate {
				t.Errorf("ack = %+v, want %s at %g Hz", got, tt.topic, tt.wantRate)
			}
			first := h.tick + 1
			h.step(tt.ticks)
			var ticks []uint64
			for _, m := range c.sync() {
				if m.Type != MsgEvent || m.Event != tt.topic {
					t.Fatalf("unexpected message %s", m.Raw)
				}
				var d struct {
					Tick uint64 `json:"tick"`
				}
				if err := json.Unmarshal(m.Data, &d); err != nil {
					t.Fatalf("data %s: %v", m.Data, err)
				}
				ticks = append(ticks, d.Tick)
			}
			if len(ticks) != tt.want {
				t.Fatalf("got %d frames (ticks %v), want %d", len(ticks), ticks, tt.want)
			}
			if ticks[0] != first {
				t.Errorf("first frame at tick %d, want %d (the first tick after subscribing)", ticks[0], first)
			}
			interval := 90 / tt.wantRate
			for i := 1; i < len(ticks); i++ {
				gap := float64(ticks[i] - ticks[i-1])
				if gap < math.Floor(interval) || gap > math.Ceil(interval) {
					t.Errorf("gap between frames %d and %d is %g ticks, want %g", i-1, i, gap, interval)
				}
			}
		})
	}
}

func TestUnsubscribeStopsFrames(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	c.subscribe(0, TopicPlayer, TopicVR)
	h.step(3)
	if got := len(c.sync()); got != 6 {
		t.Fatalf("got %d frames before unsubscribing, want 6", got)
	}
	c.send(map[string]any{"type": MsgUnsubscribe, "topics": []string{TopicPlayer}})
	c.expect(MsgUnsubscribed)
	h.step(3)
	got := c.sync()
	if len(got) != 3 {
		t.Fatalf("got %d frames after unsubscribing player, want 3", len(got))
	}
	for _, m := range got {
		if m.Event != TopicVR {
			t.Errorf("got %s, want only vr", m.Raw)
		}
	}
}

// fakeVR is a VRSource with a headset.
type fakeVR struct{ s VRState }

func (f fakeVR) VR() VRState { return f.s }

func TestFieldsMatchSnapshot(t *testing.T) {
	vr := VRState{
		VREnabled: true, HeadsetConnected: true, Runtime: "WebXR", HeadsetType: "Quest 2",
		Headset: &Pose{Position: Vec{0, 1.6, 0}, Orientation: Quat{W: 1}},
		Controllers: []ControllerPose{
			{Hand: "left", Connected: true, Pose: Pose{Position: Vec{-0.2, 1.2, -0.3}, Orientation: Quat{W: 1}}},
			{Hand: "right", Connected: false},
		},
	}
	h := newHarness(t, HubOptions{VR: fakeVR{vr}})
	c := h.connect()
	c.subscribe(90, TopicPerf, TopicPlayer, TopicVR)
	h.step(1)
	s := testSnapshot(h.tick, 0, 1)
	msgs := c.sync()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3", len(msgs))
	}
	byTopic := map[string]Message{}
	for _, m := range msgs {
		byTopic[m.Event] = m
		if want := float64(s.WallTime.UnixNano()) / 1e9; math.Abs(m.Timestamp-want) > 0.001 {
			t.Errorf("%s timestamp = %f, want %f", m.Event, m.Timestamp, want)
		}
	}

	var perf PerfData
	decode(t, byTopic[TopicPerf].Data, &perf)
	wantPerf := PerfData{
		Tick: s.Tick, SimTime: s.SimTime, FPS: math.Round(s.Perf.FPS*100) / 100, PhysicsFPS: 90,
		TickP50Ms: 1.2, TickP99Ms: 3.4, TickMaxMs: 5, TickBudgetMs: 11.111, Overruns: s.Perf.Overruns,
		Quality: 1, MaxQuality: engine.MaxQualityLevel, SubSteps: 2, ParticleStride: 1, TimeScale: 1,
		MemoryMB: perf.MemoryMB, Goroutines: perf.Goroutines, Subscribers: 1,
	}
	if perf != wantPerf {
		t.Errorf("perf =\n%+v\nwant\n%+v", perf, wantPerf)
	}
	if perf.MemoryMB <= 0 || perf.Goroutines <= 0 {
		t.Errorf("perf memory_mb %g, goroutines %d: want both positive", perf.MemoryMB, perf.Goroutines)
	}

	var pl PlayerData
	decode(t, byTopic[TopicPlayer].Data, &pl)
	p := s.Player
	wantPl := PlayerData{
		Tick: s.Tick, SimTime: s.SimTime, Present: true, Name: p.Name,
		Position: Vec{p.Pos.X, p.Pos.Y, p.Pos.Z}, Velocity: Vec{p.Vel.X, p.Vel.Y, p.Vel.Z},
		Attitude: Quat{p.Attitude.W, p.Attitude.X, p.Attitude.Y, p.Attitude.Z}, Speed: p.Speed,
		Status: string(p.Status), ProperTime: p.ProperTime, LorentzFactor: p.Lorentz, Gamma: p.Gamma,
		Input: InputData{Throttle: Vec{Z: -1}, Rotation: Vec{Y: 0.1}},
	}
	if pl != wantPl {
		t.Errorf("player =\n%+v\nwant\n%+v", pl, wantPl)
	}

	var gotVR VRState
	decode(t, byTopic[TopicVR].Data, &gotVR)
	wantVR := vr
	wantVR.Tick = s.Tick
	if a, b := mustJSON(t, gotVR), mustJSON(t, wantVR); a != b {
		t.Errorf("vr = %s, want %s", a, b)
	}
}

func TestPlayerAbsent(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	c.subscribe(0, TopicPlayer)
	h.tick++
	s := testSnapshot(h.tick, 0, 1)
	s.Player = nil
	h.src.set(s)
	h.hub.Step()
	msgs := c.sync()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	var pl PlayerData
	decode(t, msgs[0].Data, &pl)
	if want := (PlayerData{Tick: h.tick, SimTime: s.SimTime, Status: "none"}); pl != want {
		t.Errorf("player = %+v, want %+v", pl, want)
	}
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBodiesStream(t *testing.T) {
	h := newHarness(t, HubOptions{})
	h.particles, h.partEvery = 10, 3
	c := h.connect()
	c.subscribe(0, TopicBodies)

	// Binary (the default): the metadata once, then a positions frame per
	// tick, with particles only when they were refreshed.
	h.step(3) // ticks 2, 3, 4: particles taken at 0, 3, 3
	msgs := c.sync()
	if len(msgs) != 4 {
		t.Fatalf("got %d messages, want metadata + 3 frames", len(msgs))
	}
	var meta BodiesData
	if msgs[0].Type != MsgEvent || msgs[0].Event != TopicBodies {
		t.Fatalf("first message %s, want the bodies metadata", msgs[0].Raw)
	}
	decode(t, msgs[0].Data, &meta)
	s2 := testSnapshot(2, 10, 3)
	if meta.Format != FormatBinary || meta.Scene != s2.Scene.Path || meta.ParticleCount != 10 || len(meta.Bodies) != 3 ||
		meta.Bodies[2].Name != "Moon <&>" || meta.Bodies[1].Radius != 6371e3 || meta.Bodies[1].Position != nil ||
		len(meta.ParticleGroups) != 1 || meta.ParticlesIncluded {
		t.Errorf("metadata = %s", msgs[0].Data)
	}
	wantParts := []bool{true, true, false}
	for i, m := range msgs[1:] {
		tick := uint64(2 + i)
		if m.Type != MsgBinary {
			t.Fatalf("message %d is %s, want a binary frame", i+1, m.Raw)
		}
		s := testSnapshot(tick, 10, 3)
		f := m.Frame
		if f.Tick != tick || f.SimTime != s.SimTime || f.Decimate != 1 || f.TotalParticles != 10 || f.ParticleTick != s.ParticleTick {
			t.Errorf("frame %d header = %+v", i, f)
		}
		if f.HasParticles() != wantParts[i] {
			t.Errorf("frame %d (tick %d) has particles = %v, want %v", i, tick, f.HasParticles(), wantParts[i])
		}
		checkBodies(t, f.Bodies, s)
		if f.HasParticles() {
			if len(f.Particles) != len(s.ParticlePos) {
				t.Fatalf("frame %d: %d particle floats, want %d", i, len(f.Particles), len(s.ParticlePos))
			}
			for j := range f.Particles {
				if f.Particles[j] != s.ParticlePos[j] {
					t.Fatalf("frame %d particle float %d = %g, want %g", i, j, f.Particles[j], s.ParticlePos[j])
				}
			}
		}
	}

	// JSON with decimation: a configuration change resends particles.
	c.send(map[string]any{"type": MsgConfigure, "bodies_format": FormatJSON, "decimate": 3})
	if m := c.expect(MsgConfigured); !strings.Contains(string(m.Raw), `"decimate":3`) {
		t.Errorf("configured = %s", m.Raw)
	}
	h.step(1)
	msgs = c.sync()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	var js BodiesData
	decode(t, msgs[0].Data, &js)
	s := testSnapshot(h.tick, 10, 3)
	if js.Format != FormatJSON || js.Decimate != 3 || !js.ParticlesIncluded || len(js.Bodies) != 3 {
		t.Fatalf("json bodies = %s", msgs[0].Data)
	}
	for i, b := range js.Bodies {
		w := s.Bodies[i]
		if b.Name != w.Name || b.GM != w.GM || *b.Position != (Vec{w.Pos.X, w.Pos.Y, w.Pos.Z}) || *b.Velocity != (Vec{w.Vel.X, w.Vel.Y, w.Vel.Z}) {
			t.Errorf("body %d = %+v, want %+v", i, b, w)
		}
	}
	var wantP []float32
	for i := 0; i < 10; i += 3 {
		wantP = append(wantP, s.ParticlePos[3*i:3*i+3]...)
	}
	if mustJSON(t, js.Particles) != mustJSON(t, wantP) {
		t.Errorf("particles = %v, want %v", js.Particles, wantP)
	}

	// Particles off.
	c.send(map[string]any{"type": MsgConfigure, "particles": false})
	c.expect(MsgConfigured)
	h.step(3)
	for _, m := range c.sync() {
		var off BodiesData
		decode(t, m.Data, &off)
		if off.ParticlesIncluded || len(off.Particles) > 0 {
			t.Errorf("particles sent while off: %s", m.Data)
		}
	}
}

func checkBodies(t *testing.T, got []float32, s *engine.Snapshot) {
	t.Helper()
	if len(got) != 3*len(s.Bodies) {
		t.Fatalf("%d body floats, want %d", len(got), 3*len(s.Bodies))
	}
	for i, b := range s.Bodies {
		want := [3]float32{float32(b.Pos.X), float32(b.Pos.Y), float32(b.Pos.Z)}
		if [3]float32(got[3*i:3*i+3]) != want {
			t.Errorf("body %d at %v, want %v", i, got[3*i:3*i+3], want)
		}
	}
}

func TestBodiesMetadataResentOnChange(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	c.subscribe(0, TopicBodies)
	h.step(2)
	if msgs := c.sync(); len(msgs) != 3 || msgs[0].Type != MsgEvent {
		t.Fatalf("got %d messages, want metadata and 2 frames", len(msgs))
	}
	h.tick++
	s := testSnapshot(h.tick, 0, 1)
	s.Bodies = s.Bodies[:2] // a body was removed
	h.src.set(s)
	h.hub.Step()
	msgs := c.sync()
	if len(msgs) != 2 || msgs[0].Type != MsgEvent || msgs[1].Type != MsgBinary {
		t.Fatalf("got %v, want new metadata then a frame", msgs)
	}
	var meta BodiesData
	decode(t, msgs[0].Data, &meta)
	if len(meta.Bodies) != 2 || len(msgs[1].Frame.Bodies) != 6 {
		t.Errorf("metadata has %d bodies, frame %d floats; want 2 and 6", len(meta.Bodies), len(msgs[1].Frame.Bodies))
	}
}

func TestEventsTopic(t *testing.T) {
	h := newHarness(t, HubOptions{})
	sub := h.connect()
	sub.subscribe(0, TopicEvents)
	other := h.connect()
	other.subscribe(0, TopicPerf)
	h.hub.Publish(Event{Kind: EventSceneLoaded, Data: map[string]any{"scene_path": "res://vr_main.tscn", "load_time_ms": 4.5}})
	h.hub.Publish(Event{Kind: EventBan})
	msgs := sub.sync()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2 events", len(msgs))
	}
	want := []struct {
		kind   string
		seq    uint64
		detail string
	}{
		{EventSceneLoaded, 1, `{"load_time_ms":4.5,"scene_path":"res://vr_main.tscn"}`},
		{EventBan, 2, ``},
	}
	for i, m := range msgs {
		var e EventData
		decode(t, m.Data, &e)
		if m.Event != TopicEvents || e.Kind != want[i].kind || e.Seq != want[i].seq || string(e.Detail) != want[i].detail {
			t.Errorf("event %d = %s, want %+v", i, m.Raw, want[i])
		}
		if m.Timestamp <= 0 {
			t.Errorf("event %d has no timestamp", i)
		}
	}
	if got := other.sync(); len(got) != 0 {
		t.Errorf("a client not subscribed to events got %d messages", len(got))
	}
	if got := h.hub.Stats().EventsPublished; got != 2 {
		t.Errorf("EventsPublished = %d, want 2", got)
	}
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		code string
	}{
		{"not JSON", `hello`, CodeBadJSON},
		{"not an object", `[1,2]`, CodeBadJSON},
		{"wrong field type", `{"type":"subscribe","topics":"perf"}`, CodeBadJSON},
		{"no type", `{}`, CodeUnknownType},
		{"unknown type", `{"type":"dance"}`, CodeUnknownType},
		{"unknown topic", `{"type":"subscribe","topics":["perf","weather"]}`, CodeUnknownTopic},
		{"no topics", `{"type":"subscribe"}`, CodeBadRequest},
		{"zero rate", `{"type":"subscribe","topics":["perf"],"rate_hz":0}`, CodeBadRate},
		{"negative rate", `{"type":"subscribe","topics":["perf"],"rate_hz":-5}`, CodeBadRate},
		{"unsubscribe unknown", `{"type":"unsubscribe","topics":["x"]}`, CodeUnknownTopic},
		{"snapshot of events", `{"type":"get_snapshot","topics":["events"]}`, CodeBadRequest},
		{"empty configure", `{"type":"configure"}`, CodeBadRequest},
		{"decimate 0", `{"type":"configure","decimate":0}`, CodeBadRequest},
		{"decimate huge", `{"type":"configure","decimate":2000000}`, CodeBadRequest},
		{"bad format", `{"type":"configure","bodies_format":"xml"}`, CodeBadRequest},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("x", 300) + `"}`, CodeBadRequest},
	}
	h := newHarness(t, HubOptions{})
	c := h.connect()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.msg)
			m := c.expect(MsgError)
			if m.Code != tt.code || m.Message == "" {
				t.Errorf("got %s, want code %q with a message", m.Raw, tt.code)
			}
			if got := c.sync(); len(got) != 0 { // still connected and answering
				t.Errorf("unexpected messages %v", got)
			}
		})
	}
	c.t = t
	c.send(`{"type":"dance","id":42}`)
	if m := c.expect(MsgError); !strings.Contains(string(m.Raw), `"id":42`) {
		t.Errorf("error %s does not echo the id", m.Raw)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if m := c.expect(MsgError); m.Code != CodeBadRequest {
		t.Errorf("binary message: got %s", m.Raw)
	}
	if got, want := h.hub.Stats().ProtocolErrors, uint64(len(tests)+2); got != want {
		t.Errorf("ProtocolErrors = %d, want %d", got, want)
	}
}

func TestGetSnapshot(t *testing.T) {
	h := newHarness(t, HubOptions{})
	h.particles = 5
	h.step(1)
	c := h.connect()
	c.send(map[string]any{"type": MsgGetSnapshot, "id": "s1"})
	m := c.expect(MsgSnapshot)
	var snap struct {
		Tick uint64 `json:"tick"`
		ID   string `json:"id"`
		Data struct {
			Perf   *PerfData   `json:"perf"`
			Player *PlayerData `json:"player"`
			VR     *VRState    `json:"vr"`
			Bodies *BodiesData `json:"bodies"`
		} `json:"data"`
	}
	decode(t, m.Raw, &snap)
	s := testSnapshot(h.tick, 5, 1)
	d := snap.Data
	if snap.Tick != h.tick || snap.ID != "s1" || d.Perf == nil || d.Player == nil || d.VR == nil || d.Bodies == nil {
		t.Fatalf("snapshot = %s", m.Raw)
	}
	if d.Player.Position != (Vec{s.Player.Pos.X, s.Player.Pos.Y, s.Player.Pos.Z}) || d.Perf.Tick != h.tick ||
		d.VR.FallbackMode != "desktop" || len(d.Bodies.Bodies) != 3 || d.Bodies.ParticlesIncluded || d.Bodies.ParticleCount != 5 {
		t.Errorf("snapshot = %s", m.Raw)
	}
	c.send(map[string]any{"type": MsgGetSnapshot, "topics": []string{TopicPlayer}})
	m = c.expect(MsgSnapshot)
	var only struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	decode(t, m.Raw, &only)
	if len(only.Data) != 1 || only.Data[TopicPlayer] == nil {
		t.Errorf("snapshot of player = %s", m.Raw)
	}
}

func TestOversizedMessageCloses(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	c.send(`{"type":"ping","pad":"` + strings.Repeat("x", MaxMessageBytes) + `"}`)
	ce, _ := c.closeError()
	if ce == nil || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close = %v, want 1009", ce)
	}
	waitFor(t, "the disconnect to be counted", func() bool { return h.hub.Stats().DisconnectsByReason[ReasonAbuse] == 1 })
}

// TestOversizedMessageWhileStreaming closes for an oversized message while
// the writer is busy with frames: gorilla's reader writes the 1009 close
// and the writer's frames must not interleave with it.
func TestOversizedMessageWhileStreaming(t *testing.T) {
	h := newHarness(t, HubOptions{MaxDropStreak: 1 << 30, MaxBehind: time.Hour})
	c := h.connect()
	c.subscribe(90, TopicPerf, TopicPlayer, TopicBodies)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond) // paces the load; nothing is timed
		defer tick.Stop()
		for n := h.tick + 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			h.src.set(testSnapshot(n, 300, 1))
			h.hub.Step()
		}
	})
	defer wg.Wait()
	defer close(stop)
	for range 10 { // the frames flow
		c.msg()
	}
	c.send(`{"type":"ping","pad":"` + strings.Repeat("x", MaxMessageBytes) + `"}`)
	ce, msgs := c.closeError()
	if ce == nil || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close = %v after %d messages, want 1009", ce, len(msgs))
	}
	waitFor(t, "the disconnect to be counted", func() bool { return h.hub.Stats().DisconnectsByReason[ReasonAbuse] == 1 })
	if got := h.hub.Stats().DisconnectsByReason[ReasonError]; got != 0 {
		t.Errorf("%d disconnects counted as errors, want the one as abuse", got)
	}
}

func TestMessageFloodIsRateLimited(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, HubOptions{Now: clock.Now, MessageRate: 5})
	c := h.connect()
	for range 10 { // the burst: twice the rate
		c.send(`{"type":"ping"}`)
	}
	c.send(`{"type":"ping"}`)
	for range 10 {
		c.expect(MsgPong)
	}
	if m := c.expect(MsgError); m.Code != CodeRateLimited {
		t.Fatalf("got %s, want rate_limited", m.Raw)
	}
	clock.Advance(time.Second) // 5 more tokens
	c.send(`{"type":"ping"}`)
	c.expect(MsgPong)
}

func TestAuth(t *testing.T) {
	readonly := Principal{ID: "key1", Role: "readonly"}
	tests := []struct {
		name      string
		required  bool
		protocols []string
		ticket    func(*TicketStore, *fakeClock) string
		first     string // first message sent, if any
		wantOK    bool
		method    string
		principal Principal
		code      string // error code when refused
		close     int    // close code when refused
	}{
		{name: "none, required, first message not auth", required: true, first: `{"type":"subscribe","topics":["perf"]}`,
			code: CodeNotAuthenticated, close: CloseUnauthorized},
		{name: "none, required, silence", required: true, code: CodeAuthTimeout, close: CloseUnauthorized},
		{name: "bad token in subprotocol", required: true, protocols: []string{Subprotocol, "bearer.wrong"},
			code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "good token in subprotocol", required: true, protocols: []string{Subprotocol, "bearer.good"},
			wantOK: true, method: "bearer", principal: readonly},
		{name: "good token in auth message", required: true, first: `{"type":"auth","token":"good"}`,
			wantOK: true, method: "message", principal: readonly},
		{name: "bad token in auth message", required: true, first: `{"type":"auth","token":"nope"}`,
			code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "empty token in auth message", required: true, first: `{"type":"auth"}`,
			code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "ticket", required: true, ticket: func(s *TicketStore, _ *fakeClock) string {
			tk, _, _ := s.Issue(readonly)
			return tk
		}, wantOK: true, method: "ticket", principal: readonly},
		{name: "ticket reused", required: true, ticket: func(s *TicketStore, _ *fakeClock) string {
			tk, _, _ := s.Issue(readonly)
			s.Redeem(tk)
			return tk
		}, code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "ticket expired", required: true, ticket: func(s *TicketStore, c *fakeClock) string {
			tk, _, _ := s.Issue(readonly)
			c.Advance(DefaultTicketTTL)
			return tk
		}, code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "unknown ticket", required: true, ticket: func(*TicketStore, *fakeClock) string { return "made-up" },
			code: CodeAuthFailed, close: CloseUnauthorized},
		{name: "role refused", required: true, protocols: []string{Subprotocol, "bearer.guest"},
			code: CodeForbidden, close: CloseForbidden},
		{name: "none, not required: anonymous", wantOK: true, method: "anonymous", principal: Principal{ID: "anonymous", Role: "developer"}},
		{name: "bad token, not required: still refused", protocols: []string{Subprotocol, "bearer.wrong"},
			code: CodeAuthFailed, close: CloseUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tickets := NewTicketStore(TicketOptions{Now: clock.Now})
			h := newHarness(t, HubOptions{
				Auth:         staticAuth{"good": readonly, "guest": {ID: "g", Role: "guest"}},
				AuthRequired: tt.required, Tickets: tickets, AuthTimeout: 50 * time.Millisecond,
				Anonymous: Principal{ID: "anonymous", Role: "developer"},
				Authorize: func(p Principal) error {
					if p.Role == "guest" {
						return errForbiddenTest
					}
					return nil
				},
			})
			query := ""
			if tt.ticket != nil {
				query = "ticket=" + tt.ticket(tickets, clock)
			}
			c, resp, err := h.dial(query, tt.protocols...)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != Subprotocol {
				t.Errorf("server chose subprotocol %q, want only %q", got, Subprotocol)
			}
			if tt.first != "" {
				c.send(tt.first)
			}
			if tt.wantOK {
				m := c.expect(MsgAuthSuccess)
				var as struct {
					Principal, Role, Method string
				}
				decode(t, m.Raw, &as)
				if as.Principal != tt.principal.ID || as.Role != tt.principal.Role || as.Method != tt.method {
					t.Errorf("auth_success = %s, want %+v by %s", m.Raw, tt.principal, tt.method)
				}
				c.subscribe(0, TopicVR)
				h.step(1)
				if got := c.sync(); len(got) != 1 {
					t.Errorf("got %d frames after authenticating, want 1", len(got))
				}
				return
			}
			ce, msgs := c.closeError()
			if len(msgs) != 1 || msgs[0].Type != MsgError || msgs[0].Code != tt.code {
				t.Errorf("got messages %v, want one error %q", msgs, tt.code)
			}
			if ce == nil || ce.Code != tt.close {
				t.Errorf("close = %v, want code %d", ce, tt.close)
			}
			waitFor(t, "the auth failure to be counted", func() bool { return h.hub.Stats().AuthFailures == 1 })
			if n := h.hub.Stats().Subscribers; n != 0 {
				t.Errorf("%d subscribers after a refusal", n)
			}
		})
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errForbiddenTest = testError("forbidden")

func TestSlowSubscriberIsDropped(t *testing.T) {
	tests := []struct {
		name      string
		streak    int
		behind    time.Duration
		advance   time.Duration // fake clock per step
		wantCause string
	}{
		{"drop streak", 8, time.Hour, 0, "streak"},
		{"time behind", 1 << 30, 2 * time.Second, 200 * time.Millisecond, "behind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			h := newHarness(t, HubOptions{
				Now: clock.Now, SendQueue: 4, MaxDropStreak: tt.streak, MaxBehind: tt.behind,
			})
			h.particles = 20_000 // 240 kB frames: a reader that stops fills its socket at once
			fast := h.connect()
			fast.subscribe(0, TopicBodies)
			slow := dialSmallBuffer(t, h.url)
			slow.expect(MsgAuthSuccess)
			slow.subscribe(0, TopicBodies) // and never reads again

			frames := make(chan uint64, 1024)
			var wg sync.WaitGroup
			wg.Go(func() {
				defer close(frames)
				for {
					m, err := fast.read()
					if err != nil {
						return
					}
					if m.Type == MsgBinary {
						frames <- m.Tick
					}
				}
			})
			got := 0
			steps := 0
			stepAndWait := func() {
				t.Helper()
				clock.Advance(tt.advance)
				h.step(1) // never blocks, whatever the slow client does
				steps++
				select {
				case tick, ok := <-frames:
					if !ok {
						t.Fatalf("the fast client lost its connection")
					}
					if tick != h.tick {
						t.Fatalf("fast client got tick %d, want %d", tick, h.tick)
					}
					got++
				case <-time.After(readGuard):
					t.Fatalf("the fast client got no frame for tick %d", h.tick)
				}
			}
			// Step until the slow one is gone: its socket buffers fill, its
			// queue fills, then the threshold strikes.
			for h.hub.Stats().SlowDisconnects == 0 {
				if steps > 5000 {
					t.Fatalf("the slow subscriber is still connected after %d ticks: %+v", steps, h.hub.Stats())
				}
				stepAndWait()
			}
			for range 10 {
				stepAndWait()
			}
			st := h.hub.Stats()
			if got != steps {
				t.Errorf("fast client got %d frames, want all %d", got, steps)
			}
			if st.FramesDropped == 0 || st.Subscribers != 1 || st.DisconnectsByReason[ReasonSlow] != 1 {
				t.Errorf("stats = %+v", st)
			}
			_ = fast.ws.Close()
			wg.Wait()
		})
	}
}

// dialSmallBuffer connects with a 4 kB receive buffer.
func dialSmallBuffer(t *testing.T, url string) *testClient {
	t.Helper()
	var nd net.Dialer
	d := websocket.Dialer{
		Subprotocols: []string{Subprotocol},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		},
	}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &testClient{t: t, ws: ws}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, HubOptions{})
	withEvents := h.connect()
	withEvents.subscribe(0, TopicEvents, TopicPerf)
	plain := h.connect()
	plain.subscribe(0, TopicVR)
	closed := make(chan error, 1)
	go func() { closed <- h.hub.Close() }()
	type end struct {
		ce   *websocket.CloseError
		msgs []Message
	}
	ends := make(chan end, 1)
	go func() { // the clients read while the hub closes, as real ones do
		ce, msgs := plain.closeError()
		ends <- end{ce, msgs}
	}()
	ce, msgs := withEvents.closeError()
	if len(msgs) != 1 || msgs[0].Event != TopicEvents || !strings.Contains(string(msgs[0].Data), `"kind":"shutdown"`) {
		t.Errorf("events subscriber got %v, want the shutdown event", msgs)
	}
	if ce == nil || ce.Code != websocket.CloseGoingAway {
		t.Errorf("close = %v, want 1001", ce)
	}
	pe := <-ends
	if len(pe.msgs) != 0 || pe.ce == nil || pe.ce.Code != websocket.CloseGoingAway {
		t.Errorf("plain subscriber: messages %v, close %v; want none and 1001", pe.msgs, pe.ce)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if st := h.hub.Stats(); st.DisconnectsByReason[ReasonShutdown] != 2 || st.Connections != 0 || st.Subscribers != 0 {
		t.Errorf("stats after Close = %+v", st)
	}
	_, resp, err := h.dial("")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v %v, want 503", resp, err)
	}
}

func TestRunWithEngine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := engine.New(engine.Options{})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = eng.Run(ctx) })
	if err := eng.Load(ctx, engine.BenchSpec(100, 1)); err != nil {
		t.Fatal(err)
	}
	hub := NewHub(HubOptions{Source: eng})
	if hub.Active() {
		t.Error("Active before Run")
	}
	runErr := make(chan error, 1)
	go func() { runErr <- hub.Run(ctx) }()
	waitFor(t, "Run to start", hub.Active)
	if err := hub.Run(ctx); err != ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/telemetry", hub)
	srv := newTestServer(t, mux)
	c, err := Dial(ctx, srv, "", []string{TopicPlayer, TopicBodies}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	var binary int
	for binary < 5 {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == MsgBinary {
			binary++
			if m.Frame.Tick <= last {
				t.Errorf("frame tick %d after %d", m.Frame.Tick, last)
			}
			last = m.Frame.Tick
			if len(m.Frame.Bodies) != 30 {
				t.Errorf("frame has %d body floats, want 30", len(m.Frame.Bodies))
			}
		}
	}
	cancel()
	for i := 0; ; i++ { // frames still in flight, then the end
		if _, err := c.Next(context.Background()); err != nil {
			break
		}
		if i > 1000 {
			t.Fatal("connection still open after the hub stopped")
		}
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v", err)
	}
	if hub.Active() {
		t.Error("Active after Run returned")
	}
	_ = c.Close()
}

// newTestServer serves handler on a loopback port for the test's life and
// returns its http:// URL.
func newTestServer(t *testing.T, handler http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: readGuard}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func TestMaxSubscribers(t *testing.T) {
	h := newHarness(t, HubOptions{MaxSubscribers: 1})
	h.connect()
	c, _, err := h.dial("")
	if err != nil {
		t.Fatal(err)
	}
	ce, msgs := c.closeError()
	if len(msgs) != 1 || msgs[0].Code != CodeTooManyClients {
		t.Errorf("got %v, want a too_many_subscribers error", msgs)
	}
	if ce == nil || ce.Code != CloseTryAgainLater {
		t.Errorf("close = %v, want 1013", ce)
	}
	if got := h.hub.Stats().DisconnectsByReason[ReasonFull]; got != 1 {
		t.Errorf("full disconnects = %d, want 1", got)
	}
}

// Connections that have not authenticated count against a cap of their
// own: a crowd of them cannot take the places of subscribers, and one
// that authenticates only gets a place when there is one.
func TestWaitingConnectionsDoNotTakeSubscriberPlaces(t *testing.T) {
	readonly := Principal{ID: "key1", Role: "readonly"}
	h := newHarness(t, HubOptions{
		Auth: staticAuth{"good": readonly}, AuthRequired: true, AuthTimeout: time.Minute,
		MaxSubscribers: 2, MaxPending: 2,
	})
	// Two connections wait without a credential: the waiting cap is full.
	var waiting []*testClient
	for range 2 {
		c, _, err := h.dial("")
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, c)
	}
	waitFor(t, "two waiting connections", func() bool { return h.hub.Stats().Connections == 2 })
	c, _, err := h.dial("")
	if err != nil {
		t.Fatal(err)
	}
	if ce, msgs := c.closeError(); len(msgs) != 1 || msgs[0].Code != CodeTooManyClients || ce == nil || ce.Code != CloseTryAgainLater {
		t.Errorf("a third waiting connection: %v %v, want too_many_subscribers and 1013", msgs, ce)
	}
	// Subscribers with a credential in the upgrade still get in.
	for range 2 {
		h.connect(Subprotocol, "bearer.good")
	}
	// Now every subscriber place is taken: a waiting connection that
	// authenticates is refused, and a third bearer too.
	waiting[0].send(`{"type":"auth","token":"good"}`)
	if ce, msgs := waiting[0].closeError(); len(msgs) != 1 || msgs[0].Code != CodeTooManyClients || ce == nil || ce.Code != CloseTryAgainLater {
		t.Errorf("authenticating with every place taken: %v %v, want too_many_subscribers and 1013", msgs, ce)
	}
	c, _, err = h.dial("", Subprotocol, "bearer.good")
	if err != nil {
		t.Fatal(err)
	}
	if _, msgs := c.closeError(); len(msgs) != 1 || msgs[0].Code != CodeTooManyClients {
		t.Errorf("a third subscriber: %v, want too_many_subscribers", msgs)
	}
	waitFor(t, "three disconnects counted as full", func() bool { return h.hub.Stats().DisconnectsByReason[ReasonFull] == 3 })
}

// A stream does not outlive its session: RevalidateNow closes the
// connections whose session Revalidate refuses, and only those.
func TestRevalidateClosesEndedSessions(t *testing.T) {
	var ended sync.Map
	h := newHarness(t, HubOptions{
		Auth: AuthenticatorFunc(func(_ context.Context, token string) (Principal, error) {
			return Principal{ID: token, Role: "readonly", Session: "ses-" + token}, nil
		}),
		AuthRequired: true,
		Revalidate: func(p Principal) error {
			if _, gone := ended.Load(p.Session); gone {
				return errors.New("session ended")
			}
			return nil
		},
	})
	keep := h.connect(Subprotocol, "bearer.keep")
	drop := h.connect(Subprotocol, "bearer.drop")
	h.hub.RevalidateNow()
	exchange := func(c *testClient) {
		c.send(`{"type":"ping","id":1}`)
		c.expect(MsgPong)
	}
	exchange(keep)
	exchange(drop)

	ended.Store("ses-drop", true)
	h.hub.RevalidateNow()
	ce, msgs := drop.closeError()
	if len(msgs) == 0 || msgs[len(msgs)-1].Code != CodeAuthFailed || ce == nil || ce.Code != CloseUnauthorized {
		t.Errorf("a connection whose session ended: %v %v, want auth_failed and 4401", msgs, ce)
	}
	exchange(keep)
}

func TestNotAWebSocket(t *testing.T) {
	h := newHarness(t, HubOptions{})
	resp, err := http.Get(h.srv.URL + "/telemetry")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Errorf("status %d, Upgrade %q; want 426 and websocket", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
}

// wrappingWriter hides http.Hijacker, as a middleware's status recorder
// would, but offers Unwrap.
type wrappingWriter struct{ w http.ResponseWriter }

func (w *wrappingWriter) Header() http.Header         { return w.w.Header() }
func (w *wrappingWriter) Write(b []byte) (int, error) { return w.w.Write(b) }
func (w *wrappingWriter) WriteHeader(code int)        { w.w.WriteHeader(code) }
func (w *wrappingWriter) Unwrap() http.ResponseWriter { return w.w }

func TestUpgradeThroughMiddleware(t *testing.T) {
	src := &fakeSource{}
	src.set(testSnapshot(1, 0, 1))
	hub := NewHub(HubOptions{Source: src})
	defer hub.Close()
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeHTTP(&wrappingWriter{w}, r)
	})
	url := newTestServer(t, mw)
	c, err := Dial(context.Background(), url+"/telemetry", "", nil, 0)
	if err != nil {
		t.Fatalf("Dial through a wrapping middleware: %v", err)
	}
	if c.Principal.ID != "anonymous" {
		t.Errorf("principal = %+v", c.Principal)
	}
	_ = c.Close()
}

func TestTicksMissedCounted(t *testing.T) {
	h := newHarness(t, HubOptions{})
	h.tick += 5
	h.src.set(testSnapshot(h.tick, 0, 1))
	h.hub.Step()
	if h.hub.Step() {
		t.Error("Step reported the same snapshot twice")
	}
	if st := h.hub.Stats(); st.Ticks != 1 || st.TicksMissed != 0 {
		t.Errorf("first poll: %+v", st)
	}
	h.tick += 3
	h.src.set(testSnapshot(h.tick, 0, 1))
	h.hub.Step()
	if st := h.hub.Stats(); st.Ticks != 2 || st.TicksMissed != 2 {
		t.Errorf("ticks %d missed %d, want 2 and 2", st.Ticks, st.TicksMissed)
	}
}

func TestControlFrames(t *testing.T) {
	h := newHarness(t, HubOptions{})
	c := h.connect()
	pongs := 0
	c.ws.SetPongHandler(func(data string) error {
		if data == "hello" {
			pongs++
		}
		return nil
	})
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(readGuard)); err != nil {
		t.Fatal(err)
	}
	c.sync() // reads (and handles control frames) until our pong message
	if pongs != 1 {
		t.Errorf("got %d pongs for one ping, want 1", pongs)
	}
	if err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(readGuard)); err != nil {
		t.Fatal(err)
	}
	ce, msgs := c.closeError()
	if ce == nil || ce.Code != websocket.CloseNormalClosure || len(msgs) != 0 {
		t.Errorf("close = %v (messages %v), want the server's 1000", ce, msgs)
	}
	waitFor(t, "the disconnect to be counted", func() bool { return h.hub.Stats().DisconnectsByReason[ReasonClient] == 1 })
}

func TestJSONBodiesParticlesAreCapped(t *testing.T) {
	h := newHarness(t, HubOptions{})
	h.particles = 25_000
	c := h.connect()
	c.send(map[string]any{"type": MsgConfigure, "bodies_format": FormatJSON})
	c.expect(MsgConfigured)
	c.subscribe(0, TopicBodies)
	h.step(1)
	msgs := c.sync()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	var d BodiesData
	decode(t, msgs[0].Data, &d)
	if d.Decimate != 3 || len(d.Particles) != 3*8334 || !d.ParticlesIncluded {
		t.Errorf("decimate %d with %d particle floats; want 3 and %d", d.Decimate, len(d.Particles), 3*8334)
	}
}
