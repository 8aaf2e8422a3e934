package api

import (
	"math"
	"net/http"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// vec is a Vec3 in JSON: {"x":..,"y":..,"z":..}.
type vec struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

func vecOf(v engine.Vec3) vec { return vec{v.X, v.Y, v.Z} }

// quat is a unit quaternion in JSON, W the scalar part.
type quat struct {
	W float64 `json:"w"`
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

type bodyJSON struct {
	Name     string  `json:"name"`
	GM       float64 `json:"gm"`     // m³/s²
	Radius   float64 `json:"radius"` // m
	Position vec     `json:"position"`
	Velocity vec     `json:"velocity"`
}

type groupJSON struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	Count int    `json:"count"`
}

type particlesJSON struct {
	Count  int         `json:"count"`
	Groups []groupJSON `json:"groups"`
}

type sceneStateResponse struct {
	SceneName    string        `json:"scene_name"`
	ScenePath    string        `json:"scene_path"`
	Status       string        `json:"status"` // running, paused, none
	Tick         uint64        `json:"tick"`
	SimTime      float64       `json:"sim_time"` // s since J2000
	SimDate      string        `json:"sim_date"` // ISO 8601, UTC (see simDate)
	TimeScale    float64       `json:"time_scale"`
	Paused       bool          `json:"paused"`
	SpeedOfLight float64       `json:"speed_of_light"` // m/s
	Bodies       []bodyJSON    `json:"bodies"`
	Particles    particlesJSON `json:"particles"`
	HasPlayer    bool          `json:"has_player"`
}

// The J2000.0 epoch (2000-01-01 12:00:00 TT) is 2000-01-01T11:58:55.816Z.
const (
	j2000UnixSec  = 946727935
	j2000UnixNsec = 816_000_000
)

// simDate renders seconds since J2000 as an ISO 8601 UTC date with
// milliseconds. Leap seconds after 2000 are not counted (the date is up to
// a few seconds off UTC), which is plenty for display. "" when t is not
// finite.
func simDate(t float64) string {
	if math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) > 1e15 {
		return ""
	}
	sec := math.Floor(t)
	nsec := int64(math.Round((t - sec) * 1e9))
	d := time.Unix(j2000UnixSec+int64(sec), j2000UnixNsec+nsec).UTC()
	return d.Format("2006-01-02T15:04:05.000Z07:00")
}

// stateScene: GET /state/scene, the world at the latest tick: bodies in
// full, particles as counts and groups only (their positions go out on
// the telemetry stream).
func (s *Server) stateScene(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	resp := sceneStateResponse{
		SceneName:    snap.Scene.Name,
		ScenePath:    snap.Scene.Path,
		Status:       sceneStatus(snap),
		Tick:         snap.Tick,
		SimTime:      snap.SimTime,
		SimDate:      simDate(snap.SimTime),
		TimeScale:    snap.TimeScale,
		Paused:       snap.Paused,
		SpeedOfLight: snap.SpeedOfLight,
		Bodies:       make([]bodyJSON, 0, len(snap.Bodies)),
		Particles: particlesJSON{
			Count:  snap.ParticleCount,
			Groups: make([]groupJSON, 0, len(snap.ParticleGroups)),
		},
		HasPlayer: snap.Player != nil,
	}
	for _, b := range snap.Bodies {
		resp.Bodies = append(resp.Bodies, bodyJSON{
			Name: b.Name, GM: b.GM, Radius: b.Radius, Position: vecOf(b.Pos), Velocity: vecOf(b.Vel),
		})
	}
	for _, g := range snap.ParticleGroups {
		resp.Particles.Groups = append(resp.Particles.Groups, groupJSON{Name: g.Name, Start: g.Start, Count: g.Count})
	}
	return writeJSON(w, http.StatusOK, resp)
}

type inputJSON struct {
	Throttle vec `json:"throttle"` // each axis in [-1, 1], vessel frame
	Rotation vec `json:"rotation"` // rad/s, vessel frame
}

type playerResponse struct {
	Name          string    `json:"name"`
	Position      vec       `json:"position"`
	Velocity      vec       `json:"velocity"`
	Attitude      quat      `json:"attitude"`
	Speed         float64   `json:"speed"`
	Status        string    `json:"status"` // flying, landed, crashed
	Body          string    `json:"body"`   // landed on or crashed into; "" when flying
	ProperTime    float64   `json:"proper_time"`
	LorentzFactor float64   `json:"lorentz_factor"`
	Gamma         float64   `json:"gamma"`
	Input         inputJSON `json:"input"`
	Tick          uint64    `json:"tick"`
	SimTime       float64   `json:"sim_time"`
}

// statePlayer: GET /state/player; 404 no_player when the scene has none.
func (s *Server) statePlayer(w http.ResponseWriter, r *http.Request) error {
	snap := s.opts.Sim.Snapshot()
	p := snap.Player
	if p == nil {
		return apiError(ErrNotFound, codeNoPlayer, "the running scene has no player (no XROrigin3D)", nil)
	}
	a := p.Attitude
	return writeJSON(w, http.StatusOK, playerResponse{
		Name:          p.Name,
		Position:      vecOf(p.Pos),
		Velocity:      vecOf(p.Vel),
		Attitude:      quat{a.W, a.X, a.Y, a.Z},
		Speed:         p.Speed,
		Status:        string(p.Status),
		Body:          p.Body,
		ProperTime:    p.ProperTime,
		LorentzFactor: p.Lorentz,
		Gamma:         p.Gamma,
		Input:         inputJSON{Throttle: vecOf(p.Input.Throttle), Rotation: vecOf(p.Input.Rotation)},
		Tick:          snap.Tick,
		SimTime:       snap.SimTime,
	})
}

// stateVR: GET /state/vr, as the guide shows it: with a headset
// {vr_enabled, headset_connected, runtime, headset_type}, else
// {"vr_enabled":false,"headset_connected":false,"fallback_mode":"desktop"}.
func (s *Server) stateVR(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, s.opts.VR.VR())
}
