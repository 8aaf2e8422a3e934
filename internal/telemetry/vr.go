package telemetry

// VRSource reports what the connected WebXR clients say about their
// headsets. The hub calls VR once per vr frame from its poll goroutine
// (and from connection goroutines for get_snapshot): it must be safe for
// concurrent use and must not block.
type VRSource interface {
	// VR returns the current headset state.
	VR() VRState
}

// VRState is the data of a vr event and the body of GET /state/vr: with a
// headset in a session VREnabled and HeadsetConnected are true and
// Runtime, HeadsetType, the poses and the render figures are what the
// client reported; without one FallbackMode is "desktop".
type VRState struct {
	VREnabled        bool   `json:"vr_enabled"`
	HeadsetConnected bool   `json:"headset_connected"`
	Runtime          string `json:"runtime,omitempty"`      // e.g. "WebXR", "OpenXR"
	HeadsetType      string `json:"headset_type,omitempty"` // e.g. "Quest 2"
	FallbackMode     string `json:"fallback_mode,omitempty"`
	// Headset is the head pose in the rig's frame (metres, Y up), when
	// tracked.
	Headset *Pose `json:"headset,omitempty"`
	// Controllers are the hand controllers the headset reports.
	Controllers []ControllerPose `json:"controllers,omitempty"`
	// RenderFPS is the client's achieved render frame rate (0: not
	// reported).
	RenderFPS float64 `json:"render_fps,omitempty"`
	// RenderScale is the client's render (framebuffer) scale, lowered by
	// its dynamic quality when the frame rate drops (0: not reported).
	RenderScale float64 `json:"render_scale,omitempty"`
	// Clients counts the connected clients that reported a vr_state,
	// with or without a session.
	Clients int `json:"clients"`
	// Tick is the engine tick of a vr event (set by the hub, not the
	// source).
	Tick uint64 `json:"tick,omitempty"`
}

// Pose is a position and an orientation.
type Pose struct {
	Position    Vec  `json:"position"`
	Orientation Quat `json:"orientation"`
}

// ControllerPose is one hand controller.
type ControllerPose struct {
	Hand      string `json:"hand"` // "left", "right" or "none" (WebXR handedness)
	Connected bool   `json:"connected"`
	Pose      Pose   `json:"pose"`
}

// DesktopVR is the VRSource with no headset: it always reports the
// desktop fallback.
type DesktopVR struct{}

var _ VRSource = DesktopVR{}

// VR returns {"vr_enabled":false,"headset_connected":false,"fallback_mode":"desktop"}.
func (DesktopVR) VR() VRState { return VRState{FallbackMode: "desktop"} }
