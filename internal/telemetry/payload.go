package telemetry

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
	"github.com/spacetime-vr/spacetime/internal/procstat"
)

// The types below are the JSON payloads of the stream, as a client decodes
// them (the hub writes the same fields with its own encoder; a float that
// is not finite is sent as null).

// Vec is a vector in the simulation frame (SI units).
type Vec struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// Quat is a unit quaternion, W the scalar part.
type Quat struct {
	W float64 `json:"w"`
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

// PerfData is the data of a perf event: the engine's measurement of
// itself and the process's resources.
type PerfData struct {
	Tick           uint64  `json:"tick"`
	SimTime        float64 `json:"sim_time"` // s since J2000
	FPS            float64 `json:"fps"`      // achieved ticks over the last second
	PhysicsFPS     float64 `json:"physics_fps"`
	TickP50Ms      float64 `json:"tick_p50_ms"`
	TickP99Ms      float64 `json:"tick_p99_ms"`
	TickMaxMs      float64 `json:"tick_max_ms"`
	TickBudgetMs   float64 `json:"tick_budget_ms"`
	Overruns       uint64  `json:"overruns"`
	Skipped        uint64  `json:"skipped"`
	Quality        int     `json:"quality"`
	MaxQuality     int     `json:"max_quality"`
	SubSteps       int     `json:"sub_steps"`
	ParticleStride int     `json:"particle_stride"`
	Paused         bool    `json:"paused"`
	TimeScale      float64 `json:"time_scale"`
	MemoryMB       float64 `json:"memory_mb"` // resident set size
	Goroutines     int     `json:"goroutines"`
	Subscribers    int     `json:"subscribers"` // telemetry subscribers now
	// HTTP requests to the API over the last RequestWindowSeconds (see
	// RequestWindow): rate and latency percentiles (0 without requests).
	HTTPRPS   float64 `json:"http_rps"`
	HTTPP50Ms float64 `json:"http_p50_ms"`
	HTTPP95Ms float64 `json:"http_p95_ms"`
}

// PlayerData is the data of a player event. Present is false (and the
// other fields zero) when the scene has no player.
type PlayerData struct {
	Tick          uint64    `json:"tick"`
	SimTime       float64   `json:"sim_time"`
	Present       bool      `json:"present"`
	Name          string    `json:"name,omitempty"`
	Position      Vec       `json:"position"`
	Velocity      Vec       `json:"velocity"`
	Attitude      Quat      `json:"attitude"`
	Speed         float64   `json:"speed"`
	Status        string    `json:"status"` // flying, landed, crashed; "none" without a player
	Body          string    `json:"body"`
	ProperTime    float64   `json:"proper_time"`
	LorentzFactor float64   `json:"lorentz_factor"` // dt/dτ, velocity and gravity
	Gamma         float64   `json:"gamma"`          // special-relativistic factor of the speed
	Input         InputData `json:"input"`
}

// InputData is the pilot input in force.
type InputData struct {
	Throttle Vec `json:"throttle"`
	Rotation Vec `json:"rotation"`
}

// BodiesData is the data of a bodies event. In the "json" format it holds
// everything, positions included; in the "binary" format it is the
// metadata (names, GM, radii, groups) sent when it changes, and positions
// follow in binary frames (see EncodeBodiesFrame).
type BodiesData struct {
	Tick              uint64          `json:"tick"`
	SimTime           float64         `json:"sim_time"`
	Format            string          `json:"format"` // "binary" or "json"
	Scene             string          `json:"scene"`  // res:// path
	SceneName         string          `json:"scene_name"`
	Decimate          int             `json:"decimate"`
	ParticleCount     int             `json:"particle_count"` // in the world
	ParticleTick      uint64          `json:"particle_tick"`
	ParticleGroups    []ParticleGroup `json:"particle_groups,omitempty"`
	Bodies            []BodyData      `json:"bodies"`
	ParticlesIncluded bool            `json:"particles_included"`
	// Particles are float32 x,y,z triples of every Decimate-th particle
	// (json format, when ParticlesIncluded).
	Particles []float32 `json:"particles,omitempty"`
}

// BodyData is one body; Position and Velocity are absent in the binary
// format's metadata.
type BodyData struct {
	Name     string  `json:"name"`
	GM       float64 `json:"gm"`
	Radius   float64 `json:"radius"`
	Position *Vec    `json:"position,omitempty"`
	Velocity *Vec    `json:"velocity,omitempty"`
}

// ParticleGroup names the particles [Start, Start+Count) of the world
// (undecimated indices).
type ParticleGroup struct {
	Name  string `json:"name"`
	Start int    `json:"start"`
	Count int    `json:"count"`
}

// EventData is the data of an events event.
type EventData struct {
	Kind   string          `json:"kind"`
	Seq    uint64          `json:"seq"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Event kinds published by the server (Publish accepts any kind).
const (
	EventSceneLoaded  = "scene_loaded"
	EventSceneFailed  = "scene_failed"
	EventBan          = "ban"
	EventConfigReload = "config_reload"
	EventShutdown     = "shutdown"
)

// Event is something that happened, for the events topic.
type Event struct {
	// Kind names it (EventSceneLoaded, ...).
	Kind string
	// Data is its detail; it must encode with encoding/json (nil: none).
	Data any
}

// Body formats of the bodies topic.
const (
	FormatBinary = "binary"
	FormatJSON   = "json"
)

// extras are the figures of a perf event that are not in the snapshot.
type extras struct {
	memoryMB    float64
	goroutines  int
	subscribers int
	http        RequestStats
}

// appendEnvelope writes {"type":"event","event":topic,"timestamp":ts,"data":
// and returns the buffer; the caller appends the data and '}'.
func appendEnvelope(b jbuf, topic string, ts float64) jbuf {
	b = append(b, `{"type":"event","event":`...)
	b = appendJSONString(b, topic)
	b = append(b, `,"timestamp":`...)
	b = appendRounded(b, ts, 3)
	return append(b, `,"data":`...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func appendPerf(b jbuf, s *engine.Snapshot, x extras) jbuf {
	p := &s.Perf
	b = append(b, '{')
	b = b.uint("tick", s.Tick)
	b = b.num("sim_time", s.SimTime)
	b = appendRounded(b.key("fps"), p.FPS, 2)
	b = b.int("physics_fps", int64(p.PhysicsFPS))
	b = appendRounded(b.key("tick_p50_ms"), ms(p.TickP50), 3)
	b = appendRounded(b.key("tick_p99_ms"), ms(p.TickP99), 3)
	b = appendRounded(b.key("tick_max_ms"), ms(p.TickMax), 3)
	b = appendRounded(b.key("tick_budget_ms"), ms(p.TickBudget), 3)
	b = b.uint("overruns", p.Overruns)
	b = b.uint("skipped", p.Skipped)
	b = b.int("quality", int64(p.Quality))
	b = b.int("max_quality", int64(p.MaxQuality))
	b = b.int("sub_steps", int64(p.SubSteps))
	b = b.int("particle_stride", int64(p.ParticleStride))
	b = b.boolean("paused", s.Paused)
	b = b.num("time_scale", s.TimeScale)
	b = appendRounded(b.key("memory_mb"), x.memoryMB, 1)
	b = b.int("goroutines", int64(x.goroutines))
	b = b.int("subscribers", int64(x.subscribers))
	b = appendRounded(b.key("http_rps"), x.http.RPS, 2)
	b = appendRounded(b.key("http_p50_ms"), x.http.P50Ms, 3)
	b = appendRounded(b.key("http_p95_ms"), x.http.P95Ms, 3)
	return append(b, '}')
}

func appendPlayer(b jbuf, s *engine.Snapshot) jbuf {
	b = append(b, '{')
	b = b.uint("tick", s.Tick)
	b = b.num("sim_time", s.SimTime)
	p := s.Player
	if p == nil {
		b = b.boolean("present", false)
		b = b.str("status", "none")
		return append(b, '}')
	}
	b = b.boolean("present", true)
	b = b.str("name", p.Name)
	b = b.vec("position", p.Pos.X, p.Pos.Y, p.Pos.Z)
	b = b.vec("velocity", p.Vel.X, p.Vel.Y, p.Vel.Z)
	b = b.open("attitude").num("w", p.Attitude.W).num("x", p.Attitude.X).num("y", p.Attitude.Y).num("z", p.Attitude.Z)
	b = append(b, '}')
	b = b.num("speed", p.Speed)
	b = b.str("status", string(p.Status))
	b = b.str("body", p.Body)
	b = b.num("proper_time", p.ProperTime)
	b = b.num("lorentz_factor", p.Lorentz)
	b = b.num("gamma", p.Gamma)
	in := p.Input
	b = b.open("input").vec("throttle", in.Throttle.X, in.Throttle.Y, in.Throttle.Z).vec("rotation", in.Rotation.X, in.Rotation.Y, in.Rotation.Z)
	b = append(b, '}')
	return append(b, '}')
}

func appendVR(b jbuf, v VRState, tick uint64) jbuf {
	b = append(b, '{')
	b = b.uint("tick", tick)
	b = b.boolean("vr_enabled", v.VREnabled)
	b = b.boolean("headset_connected", v.HeadsetConnected)
	if v.Runtime != "" {
		b = b.str("runtime", v.Runtime)
	}
	if v.HeadsetType != "" {
		b = b.str("headset_type", v.HeadsetType)
	}
	if v.FallbackMode != "" {
		b = b.str("fallback_mode", v.FallbackMode)
	}
	if v.Headset != nil {
		b = appendPose(b.key("headset"), *v.Headset)
	}
	if len(v.Controllers) > 0 {
		b = b.openArr("controllers")
		for _, c := range v.Controllers {
			b = b.sep()
			b = append(b, '{')
			b = b.str("hand", c.Hand).boolean("connected", c.Connected)
			b = appendPose(b.key("pose"), c.Pose)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if v.RenderFPS > 0 {
		b = appendRounded(b.key("render_fps"), v.RenderFPS, 1)
	}
	if v.RenderScale > 0 {
		b = appendRounded(b.key("render_scale"), v.RenderScale, 3)
	}
	b = b.int("clients", int64(v.Clients))
	return append(b, '}')
}

func appendPose(b jbuf, p Pose) jbuf {
	b = append(b, '{')
	b = b.vec("position", p.Position.X, p.Position.Y, p.Position.Z)
	o := p.Orientation
	b = b.open("orientation").num("w", o.W).num("x", o.X).num("y", o.Y).num("z", o.Z)
	b = append(b, '}')
	return append(b, '}')
}

// bodiesVariant selects one encoding of the bodies topic.
type bodiesVariant struct {
	format    string // FormatBinary or FormatJSON
	decimate  int    // ≥ 1
	particles bool   // particle positions included
	meta      bool   // binary format's JSON metadata (no positions)
}

// appendBodies writes the data object of a bodies event: the metadata of
// the binary format (v.meta) or the full json format.
func appendBodies(b jbuf, s *engine.Snapshot, v bodiesVariant) jbuf {
	b = append(b, '{')
	b = b.uint("tick", s.Tick)
	b = b.num("sim_time", s.SimTime)
	if v.meta {
		b = b.str("format", FormatBinary)
	} else {
		b = b.str("format", FormatJSON)
	}
	b = b.str("scene", s.Scene.Path)
	b = b.str("scene_name", s.Scene.Name)
	b = b.int("decimate", int64(v.decimate))
	b = b.int("particle_count", int64(s.ParticleCount))
	b = b.uint("particle_tick", s.ParticleTick)
	if len(s.ParticleGroups) > 0 {
		b = b.openArr("particle_groups")
		for _, g := range s.ParticleGroups {
			b = b.sep()
			b = append(b, '{')
			b = b.str("name", g.Name).int("start", int64(g.Start)).int("count", int64(g.Count))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = b.openArr("bodies")
	for i := range s.Bodies {
		bs := &s.Bodies[i]
		b = b.sep()
		b = append(b, '{')
		b = b.str("name", bs.Name).num("gm", bs.GM).num("radius", bs.Radius)
		if !v.meta {
			b = b.vec("position", bs.Pos.X, bs.Pos.Y, bs.Pos.Z)
			b = b.vec("velocity", bs.Vel.X, bs.Vel.Y, bs.Vel.Z)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	included := !v.meta && v.particles && len(s.ParticlePos) > 0
	b = b.boolean("particles_included", included)
	if included {
		b = b.openArr("particles")
		pp := s.ParticlePos
		for i := 0; i+2 < len(pp); i += 3 * v.decimate {
			b = b.sep()
			b = appendFloat32(b, pp[i])
			b = append(b, ',')
			b = appendFloat32(b, pp[i+1])
			b = append(b, ',')
			b = appendFloat32(b, pp[i+2])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendEventData writes the data object of an events event.
func appendEventData(b jbuf, kind string, seq uint64, detail []byte) jbuf {
	b = append(b, '{')
	b = b.str("kind", kind).uint("seq", seq)
	if len(detail) > 0 {
		b = b.raw("detail", detail)
	}
	return append(b, '}')
}

// memSampler reads the resident set size at most every interval.
type memSampler struct {
	mu       sync.Mutex
	interval time.Duration
	at       time.Time
	mb       float64
	read     func() (uint64, bool)
}

func newMemSampler() *memSampler {
	return &memSampler{interval: 250 * time.Millisecond, read: func() (uint64, bool) { return procstat.ResidentBytes(), true }}
}

// MB returns the last sample in MiB, refreshing it when older than the
// interval at now.
func (m *memSampler) MB(now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at.IsZero() || now.Sub(m.at) >= m.interval || now.Before(m.at) {
		if n, ok := m.read(); ok {
			m.mb = float64(n) / (1 << 20)
		}
		m.at = now
	}
	return m.mb
}
