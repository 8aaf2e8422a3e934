package engine

import (
	"errors"
	"fmt"
	"math"
)

// Limits and defaults that apply to every world.
const (
	// MaxTimeScale is the largest time acceleration the engine accepts
	// (simulated seconds per real second).
	MaxTimeScale = 1e6

	// DefaultShipMass is the vessel's mass when the spec leaves it 0 (kg).
	DefaultShipMass = 10_000.0
	// DefaultMaxThrust is the vessel's full thrust when the spec leaves it
	// 0 (N): 2 g on the default mass.
	DefaultMaxThrust = 200_000.0
	// DefaultHullRadius is the vessel's collision radius when the spec
	// leaves it 0 (m).
	DefaultHullRadius = 10.0
)

// maxSpecProblems bounds how many problems one validation reports.
const maxSpecProblems = 10

// Validate checks s and reports every problem found (up to a bound) in one
// error wrapping ErrInvalidSpec. A nil spec is invalid.
func (s *Spec) Validate() error {
	if s == nil {
		return fmt.Errorf("%w: nil spec", ErrInvalidSpec)
	}
	v := &specCheck{}
	v.finite("epoch", s.Epoch)
	v.finite("speed_of_light", s.SpeedOfLight)
	if s.SpeedOfLight < 0 {
		v.addf("speed_of_light %g is negative", s.SpeedOfLight)
	}
	v.finite("time_scale", s.TimeScale)
	if s.TimeScale < 0 || s.TimeScale > MaxTimeScale {
		v.addf("time_scale %g is outside [0, %g]", s.TimeScale, float64(MaxTimeScale))
	}
	for i, b := range s.Bodies {
		where := fmt.Sprintf("body %d (%q)", i, b.Name)
		v.finite(where+" gm", b.GM)
		v.finite(where+" radius", b.Radius)
		v.vec(where+" position", b.Pos)
		v.vec(where+" velocity", b.Vel)
		if b.GM < 0 {
			v.addf("%s: gm %g is negative", where, b.GM)
		}
		if b.Radius < 0 {
			v.addf("%s: radius %g is negative", where, b.Radius)
		}
	}
	v.particles(&s.Particles)
	if p := s.Player; p != nil {
		c := s.SpeedOfLight
		if c == 0 {
			c = SpeedOfLight
		}
		v.vec("player position", p.Pos)
		v.vec("player velocity", p.Vel)
		for _, f := range []struct {
			name string
			x    float64
		}{{"attitude w", p.Attitude.W}, {"attitude x", p.Attitude.X}, {"attitude y", p.Attitude.Y}, {"attitude z", p.Attitude.Z},
			{"mass", p.Mass}, {"max_thrust", p.MaxThrust}, {"hull radius", p.Radius}} {
			v.finite("player "+f.name, f.x)
			if f.name == "mass" || f.name == "max_thrust" || f.name == "hull radius" {
				if f.x < 0 {
					v.addf("player %s %g is negative", f.name, f.x)
				}
			}
		}
		if sp := p.Vel.Norm(); sp >= c && !math.IsNaN(sp) && !math.IsInf(sp, 0) {
			v.addf("player speed %g m/s is not below the speed of light %g m/s", sp, c)
		}
	}
	return v.err()
}

func (v *specCheck) particles(p *ParticleSpec) {
	n := len(p.X)
	arrays := []struct {
		name string
		a    []float64
	}{{"x", p.X}, {"y", p.Y}, {"z", p.Z}, {"vx", p.VX}, {"vy", p.VY}, {"vz", p.VZ}}
	equal := true
	for _, a := range arrays {
		if len(a.a) != n {
			v.addf("particle arrays differ in length: x has %d, %s has %d", n, a.name, len(a.a))
			equal = false
		}
	}
	if equal {
		for _, a := range arrays {
			for i, x := range a.a {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					v.addf("particle %d: %s is not finite (%g)", i, a.name, x)
					break
				}
			}
		}
	}
	for i, g := range p.Groups {
		if g.Start < 0 || g.Count < 0 || g.Start > n || g.Count > n-g.Start {
			v.addf("particle group %d (%q): range [%d, %d) outside the %d particles", i, g.Name, g.Start, g.Start+g.Count, n)
		}
	}
}

// specCheck collects validation problems.
type specCheck struct {
	problems []error
	dropped  int
}

func (v *specCheck) addf(format string, args ...any) {
	if len(v.problems) >= maxSpecProblems {
		v.dropped++
		return
	}
	v.problems = append(v.problems, fmt.Errorf(format, args...))
}

func (v *specCheck) finite(name string, x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		v.addf("%s is not finite (%g)", name, x)
	}
}

func (v *specCheck) vec(name string, x Vec3) {
	if !x.finite() {
		v.addf("%s (%g, %g, %g) is not finite", name, x.X, x.Y, x.Z)
	}
}

func (v *specCheck) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	if v.dropped > 0 {
		v.problems = append(v.problems, fmt.Errorf("and %d more problems", v.dropped))
	}
	return fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(v.problems...))
}

// clone returns a deep copy of s.
func (s *Spec) clone() *Spec {
	c := *s
	c.Bodies = append([]BodySpec(nil), s.Bodies...)
	c.Particles = ParticleSpec{
		X: append([]float64(nil), s.Particles.X...), Y: append([]float64(nil), s.Particles.Y...),
		Z: append([]float64(nil), s.Particles.Z...), VX: append([]float64(nil), s.Particles.VX...),
		VY: append([]float64(nil), s.Particles.VY...), VZ: append([]float64(nil), s.Particles.VZ...),
		Groups: append([]ParticleGroup(nil), s.Particles.Groups...),
	}
	if s.Player != nil {
		p := *s.Player
		c.Player = &p
	}
	return &c
}
