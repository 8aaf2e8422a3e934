package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebSocketURL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "127.0.0.1:8081", want: "ws://127.0.0.1:8081/telemetry"},
		{in: "http://127.0.0.1:8080", want: "ws://127.0.0.1:8080/telemetry"},
		{in: "https://st.example.com/", want: "wss://st.example.com/telemetry"},
		{in: "ws://h:1/custom", want: "ws://h:1/custom"},
		{in: "wss://h/telemetry?x=1", want: "wss://h/telemetry?x=1"},
		{in: "ftp://h", wantErr: true},
		{in: "http://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := WebSocketURL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("WebSocketURL(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLines(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"perf", PerfLine(PerfData{FPS: 89.96, PhysicsFPS: 90, MemoryMB: 1023.6}), "FPS: 90.0, Physics: 90.0, Memory: 1024 MB"},
		{"vr connected", VRLine(VRState{HeadsetConnected: true, Headset: &Pose{Position: Vec{0, 1.6, -0.0001}}}), "VR Headset: Connected, Position: (0, 1.6, 0)"},
		{"vr connected, no pose", VRLine(VRState{HeadsetConnected: true}), "VR Headset: Connected, Position: unknown"},
		{"vr desktop", VRLine(DesktopVR{}.VR()), "VR Headset: Not connected (desktop fallback)"},
		{"vr nothing", VRLine(VRState{}), "VR Headset: Not connected"},
		{"player", PlayerLine(PlayerData{Present: true, Position: Vec{1.496e11, 2.25, -3}, Speed: 29780.5, ProperTime: 12.5, LorentzFactor: 1.000000005, Status: "flying"}),
			"Player: Position: (1.496e+11, 2.25, -3) m, Speed: 29780.5 m/s, Proper time: 12.500 s, Lorentz: 1.000000005, Status: flying"},
		{"no player", PlayerLine(PlayerData{}), "Player: none in this scene"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %q\nwant %q", tt.got, tt.want)
			}
		})
	}
}

// stepper advances the harness's source and steps its hub in the
// background until stopped (for clients that run on their own).
func stepper(t *testing.T, h *harness) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	tick := h.tick
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			tick++
			h.src.set(testSnapshot(tick, 0, 1))
			h.hub.Step()
			time.Sleep(100 * time.Microsecond)
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatchPrintsGuideLines(t *testing.T) {
	headset := VRState{VREnabled: true, HeadsetConnected: true, Runtime: "WebXR", HeadsetType: "Quest 2",
		Headset: &Pose{Position: Vec{0, 1.6, 0}, Orientation: Quat{W: 1}}}
	tests := []struct {
		name   string
		vr     VRSource
		vrLine string
	}{
		{"desktop", DesktopVR{}, "VR Headset: Not connected (desktop fallback)"},
		{"headset", fakeVR{headset}, "VR Headset: Connected, Position: (0, 1.6, 0)"},
	}
	perfRe := regexp.MustCompile(`^FPS: \d+\.\d, Physics: 90\.0, Memory: \d+ MB$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, HubOptions{VR: tt.vr})
			stop := stepper(t, h)
			defer stop()
			var out bytes.Buffer
			err := Watch(context.Background(), ClientOptions{URL: h.srv.URL, Out: &out, RateHz: 30, MaxEvents: 4})
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 5 || lines[0] != "Connected to telemetry stream" {
				t.Fatalf("output:\n%s", out.String())
			}
			var perf, vr int
			for _, l := range lines[1:] {
				switch {
				case perfRe.MatchString(l):
					perf++
				case l == tt.vrLine:
					vr++
				default:
					t.Errorf("unexpected line %q", l)
				}
			}
			if perf != 2 || vr != 2 {
				t.Errorf("%d perf and %d vr lines, want 2 and 2:\n%s", perf, vr, out.String())
			}
		})
	}
}

func TestWatchJSON(t *testing.T) {
	h := newHarness(t, HubOptions{})
	stop := stepper(t, h)
	defer stop()
	var out, status bytes.Buffer
	err := Watch(context.Background(), ClientOptions{URL: h.url, Out: &out, Status: &status, JSON: true,
		Topics: []string{TopicPlayer, TopicBodies}, RateHz: 90, MaxEvents: 6})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(status.String()); got != "Connected to telemetry stream" {
		t.Errorf("status = %q", got)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6:\n%s", len(lines), out.String())
	}
	kinds := map[string]int{}
	for _, l := range lines {
		var m struct{ Type, Event string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		kinds[m.Type+"/"+m.Event]++
	}
	if kinds["event/player"] == 0 || kinds["binary/bodies"] == 0 || kinds["event/bodies"] != 1 {
		t.Errorf("line kinds = %v, want player events, bodies metadata once and binary summaries", kinds)
	}
}

func TestWatchReconnects(t *testing.T) {
	h := newHarness(t, HubOptions{})
	stop := stepper(t, h)
	defer stop()
	var mu sync.Mutex
	refused := 0
	up := websocket.Upgrader{Subprotocols: []string{Subprotocol}}
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refuse := refused < 2
		if refuse {
			refused++
		}
		mu.Unlock()
		if !refuse {
			h.hub.ServeHTTP(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "restarting"), time.Now().Add(time.Second))
		_ = ws.Close()
	})
	url := newTestServer(t, flaky)
	var out bytes.Buffer
	err := Watch(context.Background(), ClientOptions{URL: url, Out: &out, RateHz: 90, MaxEvents: 1,
		Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Connection failed: ", "Reconnecting in 1ms...", "Connection failed: ", "Reconnecting in 2ms...", "Connected to telemetry stream", "FPS: "}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], w)
		}
	}
}

func TestWatchStopsOnBadCredential(t *testing.T) {
	h := newHarness(t, HubOptions{AuthRequired: true, Auth: staticAuth{"good": {ID: "k", Role: "readonly"}}})
	var out bytes.Buffer
	err := Watch(context.Background(), ClientOptions{URL: h.url, Token: "bad", Out: &out, Backoff: Backoff{Initial: time.Millisecond}})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(out.String(), "Reconnecting") {
		t.Errorf("retried a refused credential:\n%s", out.String())
	}
}

func TestWatchWithToken(t *testing.T) {
	h := newHarness(t, HubOptions{AuthRequired: true, Auth: staticAuth{"good": {ID: "k", Role: "readonly"}}})
	stop := stepper(t, h)
	defer stop()
	var out bytes.Buffer
	err := Watch(context.Background(), ClientOptions{URL: h.url, Token: "good", Out: &out, Topics: []string{TopicVR}, RateHz: 90, MaxEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Connected to telemetry stream\nVR Headset: Not connected (desktop fallback)\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestWatchEndsWithContext(t *testing.T) {
	h := newHarness(t, HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, ClientOptions{URL: h.url, Out: &out}) }()
	waitFor(t, "the connection", func() bool { return strings.Contains(out.String(), "Connected") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil after cancel", err)
	}
}
