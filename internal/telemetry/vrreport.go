package telemetry

import (
	"encoding/json"
	"math"
	"sync"
	"time"
	"unicode/utf8"
)

// VRStaleAfter is how long a client's vr_state report counts: a session
// not reported again within it is no longer shown as the headset.
const VRStaleAfter = 3 * time.Second

// Limits of a vr_state message.
const (
	maxVRControllers  = 4
	maxRuntimeLen     = 32  // bytes
	maxHeadsetTypeLen = 64  // bytes
	maxVRPosition     = 1e5 // metres from the rig's origin, per axis
	maxVROrientation  = 2   // per quaternion component (clients may not normalise exactly)
	maxRenderFPS      = 1000
	maxRenderScale    = 4
)

// vrStateMsg is a client's vr_state message.
type vrStateMsg struct {
	SessionActive *bool            `json:"session_active"`
	Runtime       string           `json:"runtime"`
	HeadsetType   string           `json:"headset_type"`
	Headset       *Pose            `json:"headset"`
	Controllers   []ControllerPose `json:"controllers"`
	RenderFPS     *float64         `json:"render_fps"`
	RenderScale   *float64         `json:"render_scale"`
}

// parseVRState decodes and checks a vr_state message into the state it
// reports (Clients unset), and whether a session is active.
func parseVRState(data []byte) (VRState, bool, *protoError) {
	var m vrStateMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return VRState{}, false, perr(CodeBadJSON, "vr_state: %s", jsonErrText(err))
	}
	if m.SessionActive == nil {
		return VRState{}, false, perr(CodeBadRequest, "vr_state needs session_active (true or false)")
	}
	if err := checkText("runtime", m.Runtime, maxRuntimeLen); err != nil {
		return VRState{}, false, err
	}
	if err := checkText("headset_type", m.HeadsetType, maxHeadsetTypeLen); err != nil {
		return VRState{}, false, err
	}
	if len(m.Controllers) > maxVRControllers {
		return VRState{}, false, perr(CodeBadRequest, "vr_state has %d controllers; at most %d", len(m.Controllers), maxVRControllers)
	}
	if m.Headset != nil {
		if err := checkPose("headset", *m.Headset); err != nil {
			return VRState{}, false, err
		}
	}
	for i, c := range m.Controllers {
		switch c.Hand {
		case "left", "right", "none":
		default:
			return VRState{}, false, perr(CodeBadRequest, "controllers[%d].hand must be \"left\", \"right\" or \"none\"", i)
		}
		if err := checkPose("controllers[].pose", c.Pose); err != nil {
			return VRState{}, false, err
		}
	}
	v := VRState{Runtime: m.Runtime, HeadsetType: m.HeadsetType, Headset: m.Headset}
	if len(m.Controllers) > 0 {
		v.Controllers = m.Controllers
	}
	if m.RenderFPS != nil {
		if f := *m.RenderFPS; !finite(f) || f < 0 || f > maxRenderFPS {
			return VRState{}, false, perr(CodeBadRequest, "render_fps must be between 0 and %d", maxRenderFPS)
		}
		v.RenderFPS = *m.RenderFPS
	}
	if m.RenderScale != nil {
		if f := *m.RenderScale; !finite(f) || f <= 0 || f > maxRenderScale {
			return VRState{}, false, perr(CodeBadRequest, "render_scale must be above 0 and at most %d", maxRenderScale)
		}
		v.RenderScale = *m.RenderScale
	}
	return v, *m.SessionActive, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// checkText refuses a string that is too long, not UTF-8 or has control
// characters.
func checkText(field, s string, maxLen int) *protoError {
	if len(s) > maxLen {
		return perr(CodeBadRequest, "%s is longer than %d bytes", field, maxLen)
	}
	if !utf8.ValidString(s) {
		return perr(CodeBadRequest, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return perr(CodeBadRequest, "%s contains control characters", field)
		}
	}
	return nil
}

// checkPose refuses non-finite or absurd pose values.
func checkPose(field string, p Pose) *protoError {
	for _, x := range [...]float64{p.Position.X, p.Position.Y, p.Position.Z} {
		if !finite(x) || math.Abs(x) > maxVRPosition {
			return perr(CodeBadRequest, "%s.position must be finite metres within ±%g", field, float64(maxVRPosition))
		}
	}
	o := p.Orientation
	for _, x := range [...]float64{o.W, o.X, o.Y, o.Z} {
		if !finite(x) || math.Abs(x) > maxVROrientation {
			return perr(CodeBadRequest, "%s.orientation must be a unit quaternion", field)
		}
	}
	return nil
}

// vrReport is what one client last reported.
type vrReport struct {
	at     time.Time
	seq    uint64 // report order, to break ties of equal times
	active bool
	state  VRState // immutable once stored
}

// vrReports keeps the last vr_state of each connected client. Safe for
// concurrent use: connection readers report, the poll goroutine and the
// API read.
type vrReports struct {
	now   func() time.Time
	stale time.Duration

	mu   sync.Mutex
	seq  uint64
	byID map[*conn]vrReport
}

func newVRReports(now func() time.Time, stale time.Duration) *vrReports {
	return &vrReports{now: now, stale: stale, byID: make(map[*conn]vrReport)}
}

// report stores c's latest state.
func (r *vrReports) report(c *conn, v VRState, active bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.byID[c] = vrReport{at: now, seq: r.seq, active: active, state: v}
}

// forget drops c's report (it disconnected).
func (r *vrReports) forget(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, c)
}

// VR returns the freshest active session that is not stale, or the
// desktop fallback; Clients counts every client with a report.
func (r *vrReports) VR() VRState {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *vrReport
	for _, rep := range r.byID {
		if !rep.active || now.Sub(rep.at) >= r.stale {
			continue
		}
		if best == nil || rep.at.After(best.at) || (rep.at.Equal(best.at) && rep.seq > best.seq) {
			rep := rep
			best = &rep
		}
	}
	if best == nil {
		return VRState{FallbackMode: "desktop", Clients: len(r.byID)}
	}
	v := best.state
	v.VREnabled, v.HeadsetConnected, v.Clients = true, true, len(r.byID)
	return v
}
