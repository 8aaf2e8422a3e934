package engine

import "time"

// Vec3 is a vector in the simulation frame: SI units (metres, m/s, m/s²),
// ecliptic J2000 axes, origin at the scene's origin (normally the Sun or
// the system barycentre).
type Vec3 struct {
	X, Y, Z float64
}

// Quat is a unit quaternion (W is the scalar part). The zero value is not
// a rotation; use QuatIdentity.
type Quat struct {
	W, X, Y, Z float64
}

// QuatIdentity is the rotation that leaves every vector as it is.
var QuatIdentity = Quat{W: 1}

// SpeedOfLight is the physical speed of light in m/s, the default for a
// scene that does not lower it.
const SpeedOfLight = 299_792_458.0

// G is the Newtonian constant of gravitation (CODATA 2018), m³ kg⁻¹ s⁻².
const G = 6.67430e-11

// J2000 is the Julian date of the J2000.0 epoch; simulation time is counted
// in seconds from it.
const J2000 = 2451545.0

// Spec is everything the engine needs to build a world. A scene builder
// produces it; the engine copies what it keeps, so the caller may reuse it.
type Spec struct {
	Name string // scene name, e.g. "vr_main"
	Path string // res:// path it was loaded from

	// Epoch is the simulation time at start, seconds since J2000.
	Epoch float64
	// SpeedOfLight in m/s; 0 means the physical value.
	SpeedOfLight float64
	// TimeScale is the initial time acceleration (1 = real time); 0 means 1.
	TimeScale float64

	// Bodies attract each other and the particles and the player.
	Bodies []BodySpec
	// Particles are massless test particles: they feel the bodies only.
	Particles ParticleSpec
	// Player is the vessel carrying the VR rig; nil when the scene has no
	// player spawn (XROrigin3D).
	Player *PlayerSpec
}

// BodySpec is one massive body.
type BodySpec struct {
	Name   string
	GM     float64 // gravitational parameter, m³/s²
	Radius float64 // metres; 0 for a point mass
	Pos    Vec3
	Vel    Vec3
}

// ParticleSpec holds the initial states of the test particles, one array
// per coordinate (all of equal length). Groups name contiguous ranges
// (e.g. an asteroid belt) for reporting.
type ParticleSpec struct {
	X, Y, Z    []float64
	VX, VY, VZ []float64
	Groups     []ParticleGroup
}

// Len is the number of particles.
func (p *ParticleSpec) Len() int { return len(p.X) }

// ParticleGroup names the particles [Start, Start+Count).
type ParticleGroup struct {
	Name         string
	Start, Count int
}

// PlayerSpec is the player's vessel at spawn.
type PlayerSpec struct {
	Name      string
	Pos, Vel  Vec3
	Attitude  Quat    // zero value means identity
	Mass      float64 // kg; 0 means a default
	MaxThrust float64 // newtons; 0 means a default
	Radius    float64 // collision radius of the hull in metres; 0 means a default
}

// PlayerStatus says what the vessel is doing.
type PlayerStatus string

// Vessel states.
const (
	PlayerFlying  PlayerStatus = "flying"
	PlayerLanded  PlayerStatus = "landed"
	PlayerCrashed PlayerStatus = "crashed"
)

// Input is the pilot's command to the vessel, held until replaced.
type Input struct {
	// Throttle along the vessel's own axes, each in [-1, 1]; scaled by the
	// vessel's maximum thrust. -Z is forward, as in Godot.
	Throttle Vec3
	// Rotation rates about the vessel's own axes, rad/s.
	Rotation Vec3
}

// Snapshot is an immutable copy of the world at the end of one tick. The
// engine publishes a new one every tick; readers must not modify it.
type Snapshot struct {
	Tick         uint64
	SimTime      float64   // seconds since J2000
	WallTime     time.Time // when the tick finished
	Paused       bool
	TimeScale    float64
	SpeedOfLight float64

	Scene  SceneInfo
	Bodies []BodyState
	// ParticlePos holds particle positions as float32 x,y,z triples
	// (len = 3 × count), relative to the scene origin, refreshed at a rate
	// set by the quality level (see ParticleTick). Nil when there are none.
	ParticlePos    []float32
	ParticleCount  int
	ParticleTick   uint64 // tick at which ParticlePos was taken
	ParticleGroups []ParticleGroup
	Player         *PlayerState // nil when the scene has no player
	Perf           Perf
}

// SceneInfo describes the running scene.
type SceneInfo struct {
	Name     string
	Path     string
	LoadedAt time.Time
	Epoch    float64
}

// BodyState is one body at the snapshot's time.
type BodyState struct {
	Name   string
	GM     float64
	Radius float64
	Pos    Vec3
	Vel    Vec3
}

// PlayerState is the vessel at the snapshot's time.
type PlayerState struct {
	Name     string
	Pos, Vel Vec3
	Attitude Quat
	Status   PlayerStatus
	// Body is the name of the body landed on or crashed into, if any.
	Body string
	// ProperTime is the vessel's own clock, seconds since spawn.
	ProperTime float64
	// Lorentz is dt/dτ, the total time-dilation factor (velocity and
	// gravity); 1 means no dilation.
	Lorentz float64
	// Gamma is the special-relativistic factor of the speed alone.
	Gamma float64
	Speed float64 // |Vel| in m/s, relative to the scene frame
	Input Input
}

// Perf is the engine's measurement of itself.
type Perf struct {
	PhysicsFPS int     // configured tick rate
	FPS        float64 // achieved ticks over the last sliding second
	TickP50    time.Duration
	TickP99    time.Duration
	// TickLateP99 is the p99 of how late ticks started against their
	// fixed schedule over the same window: the loop's jitter.
	TickLateP99    time.Duration
	TickMax        time.Duration
	Overruns       uint64 // ticks that took longer than the budget
	Quality        int    // current quality level, 0 = full; higher = cheaper
	MaxQuality     int    // the cheapest level
	SubSteps       int    // integrator sub-steps in the last tick
	ParticleStride int    // particles are updated every ParticleStride ticks
	Ticks          uint64 // ticks since the engine started

	// TickBudget is the time one tick may take: 1/PhysicsFPS.
	TickBudget time.Duration
	// Skipped counts tick deadlines dropped because the loop fell more
	// than two ticks behind (it skips ahead instead of spiralling).
	Skipped uint64
	// ParticleSubSteps is the number of particle steps taken in the last
	// tick (each advances 1/ParticleStride of the particles).
	ParticleSubSteps int
	// SnapshotStride is how many ticks a published ParticlePos is reused
	// before it is refreshed.
	SnapshotStride int
}
