package engine

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSpecValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	good := func() *Spec {
		return &Spec{
			Name: "ok", Epoch: 1, TimeScale: 1,
			Bodies:    []BodySpec{{Name: "Sun", GM: 1e20, Radius: 7e8}},
			Particles: ParticleSpec{X: []float64{1}, Y: []float64{2}, Z: []float64{3}, VX: []float64{4}, VY: []float64{5}, VZ: []float64{6}, Groups: []ParticleGroup{{Name: "g", Start: 0, Count: 1}}},
			Player:    &PlayerSpec{Name: "ship", Pos: Vec3{1e12, 0, 0}},
		}
	}
	tests := []struct {
		name   string
		modify func(s *Spec)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(s *Spec) {}, ""},
		{"empty", func(s *Spec) { *s = Spec{} }, ""},
		{"nan epoch", func(s *Spec) { s.Epoch = nan }, "epoch is not finite"},
		{"negative c", func(s *Spec) { s.SpeedOfLight = -1 }, "speed_of_light -1 is negative"},
		{"warp too high", func(s *Spec) { s.TimeScale = 2e6 }, "time_scale"},
		{"negative gm", func(s *Spec) { s.Bodies[0].GM = -1 }, "gm -1 is negative"},
		{"negative radius", func(s *Spec) { s.Bodies[0].Radius = -1 }, "radius -1 is negative"},
		{"inf position", func(s *Spec) { s.Bodies[0].Pos.Y = inf }, "position"},
		{"nan velocity", func(s *Spec) { s.Bodies[0].Vel.Z = nan }, "velocity"},
		{"short particle array", func(s *Spec) { s.Particles.VY = nil }, "vy has 0"},
		{"nan particle", func(s *Spec) { s.Particles.Z[0] = nan }, "particle 0: z is not finite"},
		{"group out of range", func(s *Spec) { s.Particles.Groups[0].Count = 2 }, "outside the 1 particles"},
		{"player faster than light", func(s *Spec) { s.SpeedOfLight = 10; s.Player.Vel = Vec3{X: 10} }, "not below the speed of light"},
		{"negative mass", func(s *Spec) { s.Player.Mass = -5 }, "player mass -5 is negative"},
		{"nan attitude", func(s *Spec) { s.Player.Attitude.W = nan }, "attitude w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.modify(s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				w, err := NewWorld(s, WorldOptions{})
				if err != nil {
					t.Fatalf("NewWorld: %v", err)
				}
				w.Close()
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalidSpec mentioning %q", err, tt.want)
			}
			if _, err := NewWorld(s, WorldOptions{}); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("NewWorld = %v, want ErrInvalidSpec", err)
			}
		})
	}
	if err := (*Spec)(nil).Validate(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("nil spec: %v", err)
	}
}

func TestSpecCopied(t *testing.T) {
	s := &Spec{Bodies: []BodySpec{{Name: "a", GM: 1}}, Particles: ParticleSpec{X: []float64{1}, Y: []float64{1}, Z: []float64{1}, VX: []float64{0}, VY: []float64{0}, VZ: []float64{0}}}
	w := mustWorld(t, s, WorldOptions{})
	s.Bodies[0].Name = "changed"
	s.Particles.X[0] = 99
	if got := w.Bodies()[0].Name; got != "a" {
		t.Errorf("body name %q after the caller changed the spec, want a", got)
	}
	if p, _ := w.Particle(0); p.X != 1 {
		t.Errorf("particle x %g after the caller changed the spec, want 1", p.X)
	}
}

func TestSolveKepler(t *testing.T) {
	for _, e := range []float64{0, 0.1, 0.5, 0.9, 0.99} {
		for _, m := range []float64{-3, -1, 0, 0.001, 1, 2, 3.1, 10} {
			ea := SolveKepler(m, e)
			got := ea - e*math.Sin(ea)
			if d := math.Remainder(got-m, 2*math.Pi); math.Abs(d) > 1e-12 {
				t.Errorf("SolveKepler(%g, %g) = %g: E − e sin E = %g", m, e, ea, got)
			}
		}
	}
}
