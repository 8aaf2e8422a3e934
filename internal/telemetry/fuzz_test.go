package telemetry

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzClientMessages feeds arbitrary text to the decoding of the messages
// browsers send (input and vr_state): never a panic, and what is accepted
// is within its bounds.
func FuzzClientMessages(f *testing.F) {
	for _, seed := range []string{
		`{"type":"input","throttle":{"x":0,"y":0,"z":-1},"rotation":{"x":0.1,"y":0,"z":0}}`,
		`{"type":"input","throttle":{"x":1e308,"y":-1e308,"z":null}}`,
		`{"type":"vr_state","session_active":true,"runtime":"WebXR","headset_type":"Meta Quest 3","headset":{"position":{"x":0,"y":1.6,"z":0},"orientation":{"w":1,"x":0,"y":0,"z":0}},"controllers":[{"hand":"left","connected":true,"pose":{"position":{"x":-0.2,"y":1.2,"z":-0.3},"orientation":{"w":1,"x":0,"y":0,"z":0}}}],"render_fps":72,"render_scale":1}`,
		`{"type":"vr_state","session_active":false,"render_fps":-1}`,
		`{"type":"vr_state","controllers":[{},{},{},{},{}]}`,
		`{}`, `[]`, `null`, `{"type":"input","throttle":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m clientMsg
		if json.Unmarshal(data, &m) == nil {
			if in, err := parseInput(m); err == nil {
				for _, v := range []float64{in.Throttle.X, in.Throttle.Y, in.Throttle.Z} {
					if math.IsNaN(v) || v < -1 || v > 1 {
						t.Fatalf("accepted throttle component %v from %q", v, data)
					}
				}
				for _, v := range []float64{in.Rotation.X, in.Rotation.Y, in.Rotation.Z} {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("accepted rotation component %v from %q", v, data)
					}
				}
			}
		}
		if v, _, err := parseVRState(data); err == nil {
			if len(v.Controllers) > 4 {
				t.Fatalf("accepted %d controllers from %q", len(v.Controllers), data)
			}
			if !finite(v.RenderFPS) || !finite(v.RenderScale) {
				t.Fatalf("accepted a non-finite render figure from %q", data)
			}
		}
	})
}
