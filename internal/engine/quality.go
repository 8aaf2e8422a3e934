package engine

// MaxQualityLevel is the cheapest quality level (0 is full quality).
const MaxQualityLevel = 4

// quality is what one quality level allows per tick.
type quality struct {
	level int
	// particleEvery splits the particles into this many slices, updated in
	// turn: each particle is stepped every particleEvery particle
	// boundaries, by the whole time since its last step (still a
	// kick-drift-kick step: symplectic and deterministic).
	particleEvery int
	// particleSubSteps caps the particle boundaries per tick.
	particleSubSteps int
	// subSteps caps the body/vessel sub-steps per tick.
	subSteps int
	// snapshotStride is the number of ticks a published particle array is
	// reused before a fresh one is made.
	snapshotStride int
}

// qualityFor returns the limits of a level:
//
//	level  particles every  particle sub-steps  body sub-steps  snapshot stride
//	0      1 tick           max                 max             1
//	1      1                max/2               max/2           2
//	2      2                max/4               max/4           3
//	3      4                1                   max/8           6
//	4      8                1                   max/16          9
//
// (sub-step caps never below 1 for particles and 4 for bodies, and never
// fewer body than particle sub-steps).
func qualityFor(level int, o WorldOptions) quality {
	o = o.withDefaults()
	q := quality{level: level}
	switch level {
	case 0:
		q.particleEvery, q.particleSubSteps, q.subSteps, q.snapshotStride = 1, o.MaxParticleSubSteps, o.MaxSubSteps, 1
	case 1:
		q.particleEvery, q.particleSubSteps, q.subSteps, q.snapshotStride = 1, o.MaxParticleSubSteps/2, o.MaxSubSteps/2, 2
	case 2:
		q.particleEvery, q.particleSubSteps, q.subSteps, q.snapshotStride = 2, o.MaxParticleSubSteps/4, o.MaxSubSteps/4, 3
	case 3:
		q.particleEvery, q.particleSubSteps, q.subSteps, q.snapshotStride = 4, 1, o.MaxSubSteps/8, 6
	default:
		q.level = MaxQualityLevel
		q.particleEvery, q.particleSubSteps, q.subSteps, q.snapshotStride = 8, 1, o.MaxSubSteps/16, 9
	}
	q.particleSubSteps = max(1, q.particleSubSteps)
	q.subSteps = max(q.subSteps, min(4, o.MaxSubSteps), q.particleSubSteps)
	return q
}
