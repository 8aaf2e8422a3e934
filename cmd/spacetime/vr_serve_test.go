package main

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// dialAPI opens the telemetry stream through the API port as the holder
// of the access token tok, subscribed to topics.
func dialAPI(t *testing.T, s *server, tok string, topics ...string) *telemetry.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := telemetry.Dial(ctx, strings.Replace(s.base, "http://", "ws://", 1)+"/telemetry", tok, topics, 0)
	if err != nil {
		t.Fatalf("dial the stream through the API port: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// exchange sends msg and reads until a message of type want; an error
// message fails the test unless want is "error".
func exchange(t *testing.T, c *telemetry.Client, msg map[string]any, want string) telemetry.Message {
	t.Helper()
	if err := c.Send(msg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s to %v: %v", want, msg["type"], err)
		}
		if m.Type == want {
			return m
		}
		if m.Type == telemetry.MsgError {
			t.Fatalf("%v answered %s", msg["type"], m.Raw)
		}
	}
}

// pollUntil calls cond until it holds (a hang guard, not a timing
// assertion).
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func questReport(id any, active bool) map[string]any {
	m := map[string]any{
		"type": "vr_state", "session_active": active, "runtime": "WebXR", "headset_type": "Meta Quest 3",
		"headset": map[string]any{"position": map[string]any{"x": 0, "y": 1.6, "z": 0}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}},
		"controllers": []any{map[string]any{"hand": "right", "connected": true,
			"pose": map[string]any{"position": map[string]any{"x": 0.2, "y": 1.2, "z": -0.3}, "orientation": map[string]any{"w": 1, "x": 0, "y": 0, "z": 0}}}},
		"render_fps": 72, "render_scale": 1,
	}
	if id != nil {
		m["id"] = id
	}
	return m
}

// vrBody is GET /state/vr.
type vrBody struct {
	VREnabled        bool    `json:"vr_enabled"`
	HeadsetConnected bool    `json:"headset_connected"`
	Runtime          string  `json:"runtime"`
	HeadsetType      string  `json:"headset_type"`
	FallbackMode     string  `json:"fallback_mode"`
	RenderFPS        float64 `json:"render_fps"`
	Clients          int     `json:"clients"`
	Headset          *struct {
		Position struct{ Y float64 } `json:"position"`
	} `json:"headset"`
	Controllers []struct {
		Hand string `json:"hand"`
	} `json:"controllers"`
}

// TestServeVRStateReported: a vr_state sent over a real WebSocket through
// the API port shows in GET /state/vr and on the vr topic, and ending the
// session (or leaving) returns both to the desktop fallback.
func TestServeVRStateReported(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	roKey, _ := s.mint("headset viewer", "readonly")
	headset := dialAPI(t, s, s.login(roKey).AccessToken)
	watcher := dialAPI(t, s, s.token, "vr")

	var vr vrBody
	s.do("GET", "/state/vr", "", &vr)
	if vr.HeadsetConnected || vr.FallbackMode != "desktop" || vr.Clients != 0 {
		t.Fatalf("GET /state/vr before any report = %+v, want the desktop fallback, 0 clients", vr)
	}

	exchange(t, headset, questReport("r1", true), "ack")
	vr = vrBody{}
	s.do("GET", "/state/vr", "", &vr)
	if !vr.VREnabled || !vr.HeadsetConnected || vr.Runtime != "WebXR" || vr.HeadsetType != "Meta Quest 3" ||
		vr.FallbackMode != "" || vr.RenderFPS != 72 || vr.Clients != 1 || vr.Headset == nil || vr.Headset.Position.Y != 1.6 ||
		len(vr.Controllers) != 1 || vr.Controllers[0].Hand != "right" {
		t.Errorf("GET /state/vr after the report = %+v", vr)
	}
	// The vr topic says the same on one of its next frames.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := watcher.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for a vr frame with the headset: %v", err)
		}
		if m.Event != "vr" {
			continue
		}
		var v telemetry.VRState
		if err := json.Unmarshal(m.Data, &v); err != nil {
			t.Fatal(err)
		}
		if v.HeadsetConnected {
			if v.Runtime != "WebXR" || v.HeadsetType != "Meta Quest 3" || v.Clients != 1 || v.RenderScale != 1 {
				t.Errorf("vr frame = %s", m.Data)
			}
			break
		}
	}

	exchange(t, headset, questReport("r2", false), "ack")
	vr = vrBody{}
	s.do("GET", "/state/vr", "", &vr)
	if vr.HeadsetConnected || vr.VREnabled || vr.FallbackMode != "desktop" || vr.Clients != 1 || vr.Runtime != "" {
		t.Errorf("GET /state/vr after the session ended = %+v, want the desktop fallback with 1 client", vr)
	}
	exchange(t, headset, questReport("r3", true), "ack")
	_ = headset.Close()
	pollUntil(t, "the headset's client to be forgotten", func() bool {
		var v vrBody
		s.do("GET", "/state/vr", "", &v)
		return !v.HeadsetConnected && v.FallbackMode == "desktop" && v.Clients == 0
	})
}

// playerBody is GET /state/player.
type playerBody struct {
	SimTime  float64 `json:"sim_time"`
	Velocity struct{ X, Y, Z float64 }
	Input    struct {
		Throttle struct{ X, Y, Z float64 }
		Rotation struct{ X, Y, Z float64 }
	}
}

func (p playerBody) vel() [3]float64 { return [3]float64{p.Velocity.X, p.Velocity.Y, p.Velocity.Z} }

// accel is the mean acceleration between two samples, m/s² of sim time.
func accel(a, b playerBody) [3]float64 {
	dt := b.SimTime - a.SimTime
	va, vb := a.vel(), b.vel()
	return [3]float64{(vb[0] - va[0]) / dt, (vb[1] - va[1]) / dt, (vb[2] - va[2]) / dt}
}

// TestServePilotInput: input over a real WebSocket flies the ship (GET
// /state/player shows the input, and the velocity changes by the ship's
// thrust), a readonly principal is refused and stays connected, and the
// dead-man switch zeroes the input when the pilot goes quiet.
func TestServePilotInput(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	roKey, _ := s.mint("viewer", "readonly")
	devKey, _ := s.mint("pilot", "developer")
	viewer := dialAPI(t, s, s.login(roKey).AccessToken)
	pilot := dialAPI(t, s, s.login(devKey).AccessToken)

	m := exchange(t, viewer, map[string]any{"type": "input", "throttle": map[string]any{"x": 0, "y": 0, "z": -1}, "id": 1}, "error")
	if m.Code != "forbidden" {
		t.Errorf("readonly input answered %s, want forbidden", m.Raw)
	}
	exchange(t, viewer, map[string]any{"type": "ping", "id": "still-open"}, "pong")

	player := func() playerBody {
		var p playerBody
		if resp := s.do("GET", "/state/player", "", &p); resp.StatusCode != 200 {
			t.Fatalf("GET /state/player = %d", resp.StatusCode)
		}
		return p
	}
	// The coasting acceleration (gravity), over at least a tenth of a
	// second of sim time.
	c0 := player()
	var c1 playerBody
	pollUntil(t, "sim time to advance", func() bool { c1 = player(); return c1.SimTime-c0.SimTime >= 0.1 })
	coast := accel(c0, c1)

	// Full forward throttle, repeated well within the dead-man timeout.
	// The ship's 200 kN on 20 t is 10 m/s².
	exchange(t, pilot, map[string]any{"type": "input", "throttle": map[string]any{"x": 0, "y": 0, "z": -1}, "id": "go"}, "ack")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var sendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := pilot.Send(map[string]any{"type": "input", "throttle": map[string]any{"x": 0, "y": 0, "z": -1}}); err != nil {
					sendErr = err
					return
				}
			}
		}
	}()
	var t0, t1 playerBody
	pollUntil(t, "the input to reach the engine", func() bool { t0 = player(); return t0.Input.Throttle.Z == -1 })
	pollUntil(t, "sim time to advance under thrust", func() bool { t1 = player(); return t1.SimTime-t0.SimTime >= 0.3 })
	close(stop)
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	for _, p := range []playerBody{t0, t1} {
		if p.Input.Throttle.Z != -1 {
			t.Fatalf("GET /state/player input under thrust = %+v, want throttle z -1", p.Input)
		}
	}
	thrust := accel(t0, t1)
	extra := math.Sqrt(sq(thrust[0]-coast[0]) + sq(thrust[1]-coast[1]) + sq(thrust[2]-coast[2]))
	t.Logf("acceleration beyond gravity under full throttle: %.4f m/s² over %.3f s of sim time", extra, t1.SimTime-t0.SimTime)
	if math.Abs(extra-10) > 2 {
		t.Errorf("acceleration beyond gravity under full throttle = %.3f m/s², want the ship's 10 (coasting %v, thrusting %v)", extra, coast, thrust)
	}

	// The pilot goes quiet: the dead-man switch zeroes the input.
	pollUntil(t, "the dead-man switch to zero the input", func() bool {
		p := player()
		return p.Input.Throttle.Z == 0 && p.Input.Throttle.X == 0 && p.Input.Throttle.Y == 0
	})
}

func sq(x float64) float64 { return x * x }

// TestServePerfHTTPFigures: the perf topic carries the API's request
// rate and latency, fed by the requests the server answered.
func TestServePerfHTTPFigures(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	for range 20 {
		s.do("GET", "/status", "", nil)
	}
	c := dialAPI(t, s, s.token, "perf")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for a perf frame: %v", err)
		}
		if m.Event != "perf" {
			continue
		}
		var p telemetry.PerfData
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Fatal(err)
		}
		// At least the 20 requests (and the login) within the last 10 s.
		if p.HTTPRPS < 1 || p.HTTPP50Ms <= 0 || p.HTTPP95Ms < p.HTTPP50Ms {
			t.Errorf("perf http figures = %g rps, p50 %g ms, p95 %g ms; want ≥ 1 rps and positive, ordered latencies", p.HTTPRPS, p.HTTPP50Ms, p.HTTPP95Ms)
		}
		t.Logf("perf: http_rps %g, http_p50_ms %g, http_p95_ms %g", p.HTTPRPS, p.HTTPP50Ms, p.HTTPP95Ms)
		return
	}
}
