package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// readGuard bounds every read of a test client: it only turns a hang into
// a failure, nothing is asserted about speed.
const readGuard = 10 * time.Second

// fakeSource is a SnapshotSource whose snapshot the test sets.
type fakeSource struct {
	p atomic.Pointer[engine.Snapshot]
}

func (f *fakeSource) Snapshot() *engine.Snapshot { return f.p.Load() }

func (f *fakeSource) set(s *engine.Snapshot) { f.p.Store(s) }

// fakeClock is a manual clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: testEpoch()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testEpoch is the wall time of tick 0 of testSnapshot.
func testEpoch() time.Time { return time.Date(2025, 12, 4, 12, 0, 0, 0, time.UTC) }

// testSnapshot is a small world at tick: three bodies, a player, n
// particles (refreshed every partEvery ticks), all values depending on
// the tick.
func testSnapshot(tick uint64, particles int, partEvery uint64) *engine.Snapshot {
	ft := float64(tick)
	s := &engine.Snapshot{
		Tick:         tick,
		SimTime:      1000 + ft/90,
		WallTime:     testEpoch().Add(time.Duration(tick) * (time.Second / 90)),
		TimeScale:    1,
		SpeedOfLight: engine.SpeedOfLight,
		Scene:        engine.SceneInfo{Name: "test", Path: "res://tests/test.tscn", LoadedAt: testEpoch()},
		Bodies: []engine.BodyState{
			{Name: "Sun", GM: 1.32712440018e20, Radius: 695_700e3},
			{Name: "Earth", GM: 3.986004418e14, Radius: 6371e3, Pos: engine.Vec3{X: 1.496e11 + ft*1000, Y: -ft, Z: 2.5}, Vel: engine.Vec3{Y: 29780}},
			{Name: "Moon <&>", GM: 4.9028e12, Radius: 1737.4e3, Pos: engine.Vec3{X: 1.5e11, Y: 3.844e8, Z: -ft}, Vel: engine.Vec3{X: -1022}},
		},
		Player: &engine.PlayerState{
			Name: "XROrigin3D", Pos: engine.Vec3{X: 1, Y: 1.6 + ft, Z: -3}, Vel: engine.Vec3{X: 10, Y: 0, Z: -ft},
			Attitude: engine.Quat{W: 0.5, X: 0.5, Y: -0.5, Z: 0.5}, Status: engine.PlayerFlying,
			ProperTime: ft/90 - 1e-9*ft, Lorentz: 1.0000000007, Gamma: 1.0000000001, Speed: 10 + ft,
			Input: engine.Input{Throttle: engine.Vec3{Z: -1}, Rotation: engine.Vec3{Y: 0.1}},
		},
		Perf: engine.Perf{
			PhysicsFPS: 90, FPS: 89.5 + float64(tick%5)/10, TickP50: 1200 * time.Microsecond, TickP99: 3400 * time.Microsecond,
			TickMax: 5 * time.Millisecond, Overruns: tick / 10, Quality: 1, MaxQuality: engine.MaxQualityLevel,
			SubSteps: 2, ParticleStride: 1, Ticks: tick, TickBudget: time.Second / 90,
		},
	}
	if particles > 0 {
		if partEvery == 0 {
			partEvery = 1
		}
		pt := tick - tick%partEvery
		s.ParticleCount = particles
		s.ParticleTick = pt
		s.ParticleGroups = []engine.ParticleGroup{{Name: "belt", Start: 0, Count: particles}}
		s.ParticlePos = make([]float32, 3*particles)
		for i := range s.ParticlePos {
			s.ParticlePos[i] = float32(i) + float32(pt)*0.5
		}
	}
	return s
}

// harness is a hub behind a real HTTP server, driven by Step.
type harness struct {
	t         *testing.T
	hub       *Hub
	src       *fakeSource
	srv       *httptest.Server
	url       string
	tick      uint64
	particles int
	partEvery uint64
}

func newHarness(t *testing.T, opts HubOptions) *harness {
	t.Helper()
	h := &harness{t: t, src: &fakeSource{}, tick: 1}
	h.src.set(testSnapshot(1, 0, 1))
	if opts.Source == nil {
		opts.Source = h.src
	}
	h.hub = NewHub(opts)
	mux := http.NewServeMux()
	mux.Handle("/telemetry", h.hub)
	h.srv = httptest.NewServer(mux)
	h.url = "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/telemetry"
	t.Cleanup(func() {
		_ = h.hub.Close()
		h.srv.Close()
	})
	return h
}

// step publishes n new snapshots, calling Step after each.
func (h *harness) step(n int) {
	h.t.Helper()
	for range n {
		h.tick++
		h.src.set(testSnapshot(h.tick, h.particles, h.partEvery))
		if !h.hub.Step() {
			h.t.Fatalf("Step at tick %d saw nothing new", h.tick)
		}
	}
}

// testClient is a raw WebSocket client with reading helpers.
type testClient struct {
	t   *testing.T
	ws  *websocket.Conn
	seq int
}

// dial connects with the given subprotocols (default: spacetime.v1) and
// optional query string.
func (h *harness) dial(query string, protocols ...string) (*testClient, *http.Response, error) {
	h.t.Helper()
	if len(protocols) == 0 {
		protocols = []string{Subprotocol}
	}
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: readGuard}
	u := h.url
	if query != "" {
		u += "?" + query
	}
	ws, resp, err := d.Dial(u, nil)
	if err != nil {
		return nil, resp, err
	}
	c := &testClient{t: h.t, ws: ws}
	h.t.Cleanup(func() { _ = ws.Close() })
	return c, resp, nil
}

// connect dials and reads auth_success.
func (h *harness) connect(protocols ...string) *testClient {
	h.t.Helper()
	c, _, err := h.dial("", protocols...)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	c.expect(MsgAuthSuccess)
	return c
}

func (c *testClient) send(v any) {
	c.t.Helper()
	var err error
	if s, ok := v.(string); ok {
		err = c.ws.WriteMessage(websocket.TextMessage, []byte(s))
	} else {
		err = c.ws.WriteJSON(v)
	}
	if err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read returns the next message or the read error.
func (c *testClient) read() (Message, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(readGuard))
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		return Message{}, err
	}
	if typ == websocket.BinaryMessage {
		f, err := DecodeBodiesFrame(data)
		if err != nil {
			return Message{}, err
		}
		return Message{Type: MsgBinary, Event: TopicBodies, Tick: f.Tick, Raw: data, Frame: &f}, nil
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, fmt.Errorf("bad JSON from server %q: %w", data, err)
	}
	m.Raw = data
	return m, nil
}

func (c *testClient) msg() Message {
	c.t.Helper()
	m, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expect reads the next message and checks its type.
func (c *testClient) expect(typ string) Message {
	c.t.Helper()
	m := c.msg()
	if m.Type != typ {
		c.t.Fatalf("got message %s, want type %q", m.Raw, typ)
	}
	return m
}

// subscribe subscribes and reads the acknowledgement.
func (c *testClient) subscribe(rate float64, topics ...string) Message {
	c.t.Helper()
	req := map[string]any{"type": MsgSubscribe, "topics": topics}
	if rate > 0 {
		req["rate_hz"] = rate
	}
	c.send(req)
	return c.expect(MsgSubscribed)
}

// sync sends a ping and returns every message received before its pong:
// everything the hub queued before the ping.
func (c *testClient) sync() []Message {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("sync-%d", c.seq)
	c.send(map[string]any{"type": MsgPing, "id": id})
	var out []Message
	for {
		m := c.msg()
		if m.Type == MsgPong {
			var p struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(m.Raw, &p)
			if p.ID == id {
				return out
			}
		}
		out = append(out, m)
	}
}

// closeError reads until the connection ends and returns its close error
// (nil if it ended otherwise), and the messages read before.
func (c *testClient) closeError() (*websocket.CloseError, []Message) {
	c.t.Helper()
	var msgs []Message
	for {
		m, err := c.read()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce, msgs
			}
			return nil, msgs
		}
		msgs = append(msgs, m)
	}
}

// staticAuth accepts the tokens of its map.
type staticAuth map[string]Principal

func (a staticAuth) AuthenticateToken(_ context.Context, token string) (Principal, error) {
	if p, ok := a[token]; ok {
		return p, nil
	}
	return Principal{}, errors.New("bad token")
}

// waitFor polls cond (a hang guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(readGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
