package telemetry

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"plain", "Earth"},
		{"quotes and backslash", `say "hi" \ bye`},
		{"control characters", "a\nb\rc\td\x00e\x1f"},
		{"html", "<script>&</script>"},
		{"unicode", "Mond 月 🌕"},
		{"line separators", "a\u2028b\u2029c"},
		{"invalid utf-8", "bad \xff\xfe byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendJSONString(nil, tt.in))
			want, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestNonFiniteFloatsAreNull(t *testing.T) {
	s := testSnapshot(7, 0, 1)
	s.Player.Lorentz = math.Inf(1)
	s.Player.Pos.X = math.NaN()
	s.SimTime = math.Inf(-1)
	b := appendPlayer(nil, s)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	if m["lorentz_factor"] != nil || m["sim_time"] != nil || m["position"].(map[string]any)["x"] != nil {
		t.Errorf("non-finite values not null: %s", b)
	}
}

func TestEncodersProduceValidJSON(t *testing.T) {
	s := testSnapshot(3, 4, 1)
	vr := VRState{HeadsetConnected: true, Headset: &Pose{}, Controllers: []ControllerPose{{Hand: "left"}, {Hand: "right"}}}
	tests := []struct {
		name string
		b    []byte
	}{
		{"perf", appendPerf(nil, s, extras{memoryMB: 12.34, goroutines: 5, subscribers: 2})},
		{"player", appendPlayer(nil, s)},
		{"vr", appendVR(nil, vr, 3)},
		{"vr desktop", appendVR(nil, DesktopVR{}.VR(), 3)},
		{"bodies meta", appendBodies(nil, s, bodiesVariant{format: FormatBinary, decimate: 2, meta: true})},
		{"bodies json", appendBodies(nil, s, bodiesVariant{format: FormatJSON, decimate: 3, particles: true})},
		{"event", appendEventData(nil, "ban", 9, []byte(`{"ip":"10.0.0.1"}`))},
		{"error", errorMessage(CodeBadRate, "rate \"x\"", json.RawMessage(`"id-1"`))},
		{"envelope", append(appendPlayer(appendEnvelope(nil, TopicPlayer, 1.5), s), '}')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid(tt.b) {
				t.Errorf("invalid JSON: %s", tt.b)
			}
		})
	}
}

func TestTopicNames(t *testing.T) {
	for i, name := range Topics() {
		if got := topicIndex(name); got != i {
			t.Errorf("topicIndex(%q) = %d, want %d", name, got, i)
		}
		if got := topicName(i); got != name {
			t.Errorf("topicName(%d) = %q, want %q", i, got, name)
		}
	}
	if got := topicIndex("weather"); got != -1 {
		t.Errorf("topicIndex(weather) = %d, want -1", got)
	}
}
