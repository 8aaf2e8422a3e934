package api

import (
	"context"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// Sim is the running simulation as the API sees it. The engine satisfies
// it through a thin adapter that maps its errors onto this package's kinds.
//
// All methods are safe for concurrent use by any number of handlers.
type Sim interface {
	// Snapshot returns the latest published snapshot. It is never nil and
	// is immutable: callers read it and never modify it. Handlers read the
	// world only through it.
	Snapshot() *engine.Snapshot
	// Load swaps the running world for one built from spec and returns nil
	// once the new world has run its first tick. On error the previous
	// world keeps running. When ctx ends first, Load returns ctx.Err()
	// (wrapped) and the swap must not happen later.
	// Errors: ErrUnprocessable (the engine refuses the spec),
	// ErrUnavailable (the engine loop is not running).
	Load(ctx context.Context, spec *engine.Spec) error
	// Exec runs one console command of the engine's fixed grammar at the
	// next tick boundary and returns its textual result.
	// Errors: ErrInvalid for a command that does not parse or validate,
	// best as an *Error whose Detail is the parser's message (shown to the
	// client); ErrUnavailable when the loop is not running.
	Exec(ctx context.Context, line string) (string, error)
}

// Scenes is the project's scene files, with the environment's whitelist
// applied. Safe for concurrent use.
type Scenes interface {
	// List returns every scene file of the project (res:// paths, sorted),
	// each marked allowed or not by the whitelist.
	List(ctx context.Context) ([]SceneEntry, error)
	// Check applies the path rules and the whitelist to a requested path
	// and returns its canonical res:// form. It reads no file.
	// Errors: ErrInvalid (not a res:// .tscn path, traversal, ...),
	// ErrForbidden (outside the whitelist).
	Check(path string) (canonical string, err error)
	// Build parses the scene at a canonical path (as returned by Check),
	// instances its sub-scenes and builds the engine spec.
	// Errors: ErrNotFound (no such file), *SceneSyntaxError (malformed,
	// with position), ErrUnprocessable (parses but cannot be built; an
	// *Error with a Detail says why), ErrForbidden (e.g. an instanced
	// sub-scene escapes the project).
	Build(ctx context.Context, path string) (*engine.Spec, error)
	// Validate checks the scene at a canonical path without loading it.
	// Problems in the scene (syntax errors included) are reported inside
	// the Validation, with Valid false; an error means validation could
	// not run. Errors: ErrNotFound, ErrForbidden.
	Validate(ctx context.Context, path string) (Validation, error)
}

// SceneEntry is one scene file of the project.
type SceneEntry struct {
	Path    string // res:// path
	Allowed bool   // the environment's whitelist lets it load
}

// Validation is the result of validating a scene file.
type Validation struct {
	Valid    bool    `json:"valid"`
	Errors   []Issue `json:"errors"`
	Warnings []Issue `json:"warnings"`
	// SceneInfo summarises what the scene would build; nil when the file
	// could not be parsed.
	SceneInfo *SceneSummary `json:"scene_info"`
}

// Issue is one problem found in a scene file.
type Issue struct {
	Message string `json:"message"`
	Path    string `json:"path,omitempty"` // res:// file at fault when not the validated one (a sub-scene)
	Line    int    `json:"line,omitempty"` // 1-based, 0 when unknown
	Col     int    `json:"col,omitempty"`  // 1-based, 0 when unknown
	Node    string `json:"node,omitempty"` // node path within the scene, when known
}

// SceneSummary is what a valid scene contains.
type SceneSummary struct {
	Name           string   `json:"name"`
	Nodes          int      `json:"nodes"`
	Bodies         int      `json:"bodies"`
	Particles      int      `json:"particles"`
	ParticleGroups int      `json:"particle_groups"`
	HasPlayer      bool     `json:"has_player"`
	Ignored        []string `json:"ignored,omitempty"` // node types kept but not simulated
}

// History records scene load attempts. Safe for concurrent use.
type History interface {
	// Append records one attempt.
	Append(ctx context.Context, e HistoryEntry) error
	// List returns the last limit entries (all when limit <= 0), oldest
	// first.
	List(ctx context.Context, limit int) ([]HistoryEntry, error)
}

// Load attempt outcomes, HistoryEntry.Status.
const (
	HistoryLoaded = "loaded"
	HistoryFailed = "failed"
)

// HistoryEntry is one scene load attempt.
type HistoryEntry struct {
	ScenePath  string    `json:"scene_path"`
	LoadedAt   time.Time `json:"loaded_at"`    // when the attempt ended
	LoadTimeMS float64   `json:"load_time_ms"` // how long it took
	Status     string    `json:"status"`       // HistoryLoaded or HistoryFailed
	Error      string    `json:"error,omitempty"`
	ErrorCode  string    `json:"error_code,omitempty"` // the problem code the request got
}

// VRStatus reports what the connected WebXR clients say about their
// headsets. Safe for concurrent use.
type VRStatus interface {
	// VR returns the current headset state.
	VR() VRState
}

// VRState is the body of GET /state/vr. With a headset in a session:
// VREnabled and HeadsetConnected true, Runtime and HeadsetType set, and
// the poses and render figures the client reports. Without one:
// FallbackMode "desktop". Clients always counts the connected clients
// that report their VR state.
type VRState struct {
	VREnabled        bool   `json:"vr_enabled"`
	HeadsetConnected bool   `json:"headset_connected"`
	Runtime          string `json:"runtime,omitempty"`
	HeadsetType      string `json:"headset_type,omitempty"`
	FallbackMode     string `json:"fallback_mode,omitempty"`
	// Headset is the head pose in the rig's frame, when tracked.
	Headset     *VRPose        `json:"headset,omitempty"`
	Controllers []VRController `json:"controllers,omitempty"`
	// RenderFPS is the client's render frame rate (0: not reported).
	RenderFPS float64 `json:"render_fps,omitempty"`
	// RenderScale is the client's render scale (0: not reported).
	RenderScale float64 `json:"render_scale,omitempty"`
	Clients     int     `json:"clients"`
}

// VRPose is a position in metres and an orientation (unit quaternion, W
// the scalar part) in the rig's frame, Y up.
type VRPose struct {
	Position    VRVec  `json:"position"`
	Orientation VRQuat `json:"orientation"`
}

// VRVec is a position in metres.
type VRVec struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// VRQuat is a unit quaternion, W the scalar part.
type VRQuat struct {
	W float64 `json:"w"`
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// VRController is one hand controller.
type VRController struct {
	Hand      string `json:"hand"` // "left", "right" or "none"
	Connected bool   `json:"connected"`
	Pose      VRPose `json:"pose"`
}

// DesktopVR is the VRStatus with no headset: it always reports the
// desktop fallback.
type DesktopVR struct{}

// VR returns {"vr_enabled":false,"headset_connected":false,"fallback_mode":"desktop","clients":0}.
func (DesktopVR) VR() VRState { return VRState{FallbackMode: "desktop"} }

var _ VRStatus = DesktopVR{}
