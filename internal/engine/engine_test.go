package engine

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var fakeStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// startEngine runs an engine on an auto-advancing fake clock until the
// test ends.
func startEngine(t *testing.T, opts Options) (*Engine, *FakeClock) {
	t.Helper()
	clk := NewFakeClock(fakeStart)
	opts.Clock = clk
	e := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e, clk
}

// waitTicks lets the loop run until its snapshot reaches tick n.
func waitTicks(t *testing.T, e *Engine, n uint64) *Snapshot {
	t.Helper()
	for {
		s := e.Snapshot()
		if s.Tick >= n {
			return s
		}
		if _, err := e.Exec(context.Background(), "status"); err != nil {
			t.Fatalf("status: %v", err)
		}
	}
}

// waitFor runs the loop until ok(snapshot) or limit more ticks.
func waitFor(t *testing.T, e *Engine, limit uint64, what string, ok func(*Snapshot) bool) *Snapshot {
	t.Helper()
	end := e.Snapshot().Tick + limit
	for {
		s := e.Snapshot()
		if ok(s) {
			return s
		}
		if s.Tick > end {
			t.Fatalf("%s: not reached within %d ticks (perf %+v)", what, limit, s.Perf)
		}
		if _, err := e.Exec(context.Background(), "status"); err != nil {
			t.Fatalf("status: %v", err)
		}
	}
}

func sceneSpec(name string) *Spec {
	return &Spec{
		Name: name, Path: "res://" + name + ".tscn", Epoch: 1000,
		Bodies: []BodySpec{
			{Name: "Sun", GM: 1.32712440018e20, Radius: 6.957e8},
			{Name: "Earth", GM: 3.986004418e14, Radius: 6.371e6, Pos: Vec3{AU, 0, 0}, Vel: Vec3{0, 29780, 0}},
		},
		Player: &PlayerSpec{Name: "ship", Pos: Vec3{AU + 1e7, 0, 0}, Vel: Vec3{0, 29780 + 6300, 0}},
	}
}

func TestNewSnapshot(t *testing.T) {
	e := New(Options{Clock: NewFakeClock(fakeStart)})
	s := e.Snapshot()
	if s == nil || s.Tick != 0 || len(s.Bodies) != 0 || s.Player != nil || s.Perf.PhysicsFPS != DefaultPhysicsFPS {
		t.Fatalf("initial snapshot %+v, want an empty world at tick 0", s)
	}
}

func TestLoad(t *testing.T) {
	e, _ := startEngine(t, Options{})
	ctx := context.Background()
	if err := e.Load(ctx, sceneSpec("alpha")); err != nil {
		t.Fatalf("Load: %v", err)
	}
	s := e.Snapshot()
	if s.Scene.Name != "alpha" || s.Scene.Path != "res://alpha.tscn" || len(s.Bodies) != 2 || s.Player == nil {
		t.Fatalf("after Load: scene %+v, %d bodies, player %v", s.Scene, len(s.Bodies), s.Player)
	}
	// Load returned after the new world's first tick (the loop may have
	// run more since).
	if s.SimTime < 1000+1.0/DefaultPhysicsFPS {
		t.Errorf("sim time %v after Load, want at least one tick past the epoch 1000", s.SimTime)
	}
	if s.Scene.LoadedAt.IsZero() || s.Scene.Epoch != 1000 {
		t.Errorf("scene info %+v", s.Scene)
	}

	bad := sceneSpec("broken")
	bad.Bodies[1].GM = math.NaN()
	if err := e.Load(ctx, bad); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Load(bad) = %v, want ErrInvalidSpec", err)
	}
	later := waitTicks(t, e, s.Tick+5)
	if later.Scene.Name != "alpha" || later.SimTime <= s.SimTime {
		t.Errorf("after a failed load: scene %q at t=%v, want alpha still running past %v", later.Scene.Name, later.SimTime, s.SimTime)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.Load(canceled, sceneSpec("gamma")); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context = %v, want context.Canceled", err)
	}

	if err := e.Load(ctx, sceneSpec("beta")); err != nil {
		t.Fatalf("Load(beta): %v", err)
	}
	if s := e.Snapshot(); s.Scene.Name != "beta" {
		t.Errorf("scene %q, want beta", s.Scene.Name)
	}
}

func TestExec(t *testing.T) {
	e, _ := startEngine(t, Options{})
	ctx := context.Background()
	if err := e.Load(ctx, sceneSpec("alpha")); err != nil {
		t.Fatal(err)
	}
	dt := 1.0 / DefaultPhysicsFPS
	var before *Snapshot
	tests := []struct {
		line  string
		reply string // substring
		check func(t *testing.T, s *Snapshot)
	}{
		{"help", "teleport", nil},
		{"status", "scene: alpha", nil},
		{"pause", "paused", func(t *testing.T, s *Snapshot) {
			if !s.Paused {
				t.Error("not paused")
			}
		}},
		{"status", "paused: true", func(t *testing.T, s *Snapshot) {
			if s.SimTime != before.SimTime {
				t.Errorf("sim time moved while paused: %v -> %v", before.SimTime, s.SimTime)
			}
		}},
		{"step 3", "stepped 3", func(t *testing.T, s *Snapshot) {
			if want := before.SimTime + 3*dt; math.Abs(s.SimTime-want) > 1e-9 {
				t.Errorf("sim time %v, want %v", s.SimTime, want)
			}
		}},
		{"warp 1000", "time scale 1000", func(t *testing.T, s *Snapshot) {
			if s.TimeScale != 1000 {
				t.Errorf("time scale %v", s.TimeScale)
			}
		}},
		{"teleport 1e12 2 -3", "player at", func(t *testing.T, s *Snapshot) {
			if s.Player.Pos != (Vec3{1e12, 2, -3}) {
				t.Errorf("player at %v", s.Player.Pos)
			}
		}},
		{"teleport Earth 400000", "circular orbit about Earth", func(t *testing.T, s *Snapshot) {
			if d := s.Player.Pos.Sub(s.Bodies[1].Pos).Norm(); math.Abs(d-(6.371e6+4e5+DefaultHullRadius)) > 1e-3 {
				t.Errorf("player %g m from Earth", d)
			}
		}},
		{"spawn Rogue 2e11 0 0 0 1000 0 1e15 5e5", "spawned Rogue", func(t *testing.T, s *Snapshot) {
			if len(s.Bodies) != 3 || s.Bodies[2].Name != "Rogue" || s.Bodies[2].GM != 1e15 || s.Bodies[2].Radius != 5e5 {
				t.Errorf("bodies %+v", s.Bodies)
			}
		}},
		{"remove Rogue", "removed Rogue", func(t *testing.T, s *Snapshot) {
			if len(s.Bodies) != 2 {
				t.Errorf("%d bodies", len(s.Bodies))
			}
		}},
		{"resume", "resumed", func(t *testing.T, s *Snapshot) {
			if s.Paused || s.SimTime < before.SimTime+1000*dt {
				t.Errorf("paused %v, sim time %v (from %v)", s.Paused, s.SimTime, before.SimTime)
			}
		}},
		{"spawn Rogue 2e11 0 0 0 1000 0 1e15", "spawned", nil},
		{"reset", "reset alpha", func(t *testing.T, s *Snapshot) {
			if len(s.Bodies) != 2 || s.TimeScale != 1 || s.SimTime < 1000+dt || s.SimTime > 1100 || s.Player.Pos.X == 1e12 {
				t.Errorf("after reset: %d bodies, time scale %v, sim time %v", len(s.Bodies), s.TimeScale, s.SimTime)
			}
		}},
	}
	for _, tt := range tests {
		before = e.Snapshot()
		got, err := e.Exec(ctx, tt.line)
		if err != nil {
			t.Fatalf("Exec(%q): %v", tt.line, err)
		}
		if !strings.Contains(got, tt.reply) {
			t.Errorf("Exec(%q) = %q, want it to mention %q", tt.line, got, tt.reply)
		}
		if tt.check != nil {
			// The reply comes after the tick that ran the command published.
			s := e.Snapshot()
			t.Run(tt.line, func(t *testing.T) { tt.check(t, s) })
		}
	}
}

func TestExecErrors(t *testing.T) {
	e, _ := startEngine(t, Options{})
	ctx := context.Background()
	noPlayer := sceneSpec("alpha")
	noPlayer.Player = nil
	if err := e.Load(ctx, noPlayer); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string
		also error
	}{
		{"step 2", nil}, // not paused
		{"remove Pluto", ErrNotFound},
		{"teleport Pluto", ErrNoPlayer},
		{"teleport 1 2 3", ErrNoPlayer},
		{"spawn Earth 1 2 3 4 5 6 7", ErrInvalidSpec},
		{"fly me to the moon", nil},
		{"warp 0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := e.Exec(ctx, tt.line)
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("Exec(%q) = %v, want ErrBadCommand", tt.line, err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("Exec(%q) = %v, want it to wrap %v too", tt.line, err, tt.also)
			}
		})
	}
	if n := len(e.Snapshot().Bodies); n != 2 {
		t.Errorf("failed commands changed the world: %d bodies", n)
	}
}

func TestSetInput(t *testing.T) {
	e, _ := startEngine(t, Options{})
	if err := e.Load(context.Background(), sceneSpec("alpha")); err != nil {
		t.Fatal(err)
	}
	e.SetInput(Input{Throttle: Vec3{0, 0, -5}, Rotation: Vec3{10, 0, 0}})
	s := waitTicks(t, e, e.Snapshot().Tick+2)
	want := Input{Throttle: Vec3{0, 0, -1}, Rotation: Vec3{MaxRotationRate, 0, 0}}
	if s.Player.Input != want {
		t.Errorf("input %+v, want %+v (clamped)", s.Player.Input, want)
	}
}

// deepCopy copies what a snapshot points to.
func deepCopy(s *Snapshot) Snapshot {
	c := *s
	c.Bodies = slices.Clone(s.Bodies)
	c.ParticlePos = slices.Clone(s.ParticlePos)
	c.ParticleGroups = slices.Clone(s.ParticleGroups)
	if s.Player != nil {
		p := *s.Player
		c.Player = &p
	}
	return c
}

func TestSnapshotImmutable(t *testing.T) {
	e, _ := startEngine(t, Options{})
	spec := BenchSpec(3000, 5)
	spec.TimeScale = 1e5
	spec.Player = &PlayerSpec{Name: "ship", Pos: Vec3{2 * AU, 0, 0}}
	if err := e.Load(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	held := e.Snapshot()
	want := deepCopy(held)
	later := waitTicks(t, e, held.Tick+20)
	if !reflect.DeepEqual(deepCopy(held), want) {
		t.Fatal("a held snapshot changed while the engine ran")
	}
	if later.ParticleTick == held.ParticleTick || &later.ParticlePos[0] == &held.ParticlePos[0] {
		t.Error("particle positions were not refreshed into a new array")
	}
	if reflect.DeepEqual(later.ParticlePos, held.ParticlePos) {
		t.Error("particles did not move at 1e5× warp")
	}
	if len(later.ParticlePos) != 3*3000 || later.ParticleCount != 3000 || len(later.ParticleGroups) != 1 {
		t.Errorf("particles: %d floats, count %d, groups %v", len(later.ParticlePos), later.ParticleCount, later.ParticleGroups)
	}
}

func TestPerfMeasurement(t *testing.T) {
	tests := []struct {
		name         string
		tick         time.Duration // how long each tick appears to take
		wantFPS      float64
		wantOverruns bool
	}{
		{"idle", 0, 90, false},
		{"busy", 4 * time.Millisecond, 90, false},
		// Two Now calls per tick, so each tick consumes 2×tick of fake time.
		{"behind", 10 * time.Millisecond, 50, false},
		{"overrun", 15 * time.Millisecond, 1000.0 / 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clk := startEngine(t, Options{})
			clk.SetNowStep(tt.tick)
			// The loop runs at CPU speed on the fake clock: count from the
			// step's first full tick, so every measured tick is stepped.
			from := e.Snapshot().Tick + 2
			s := waitTicks(t, e, from+300)
			p := s.Perf
			if math.Abs(p.FPS-tt.wantFPS) > 0.005*tt.wantFPS {
				t.Errorf("FPS %.3f, want %.3f", p.FPS, tt.wantFPS)
			}
			if p.TickP50 != tt.tick || p.TickP99 != tt.tick || p.TickMax != tt.tick {
				t.Errorf("tick p50/p99/max %v/%v/%v, want %v", p.TickP50, p.TickP99, p.TickMax, tt.tick)
			}
			if got := p.Overruns > 0; got != tt.wantOverruns {
				t.Errorf("overruns %d, want any: %v", p.Overruns, tt.wantOverruns)
			}
			if tt.wantFPS < 85 && p.Skipped == 0 {
				t.Error("the loop fell behind without skipping deadlines")
			}
			if p.TickBudget != time.Second/90 || p.Ticks != s.Tick {
				t.Errorf("budget %v, ticks %d (snapshot tick %d)", p.TickBudget, p.Ticks, s.Tick)
			}
		})
	}
}

func TestDynamicQuality(t *testing.T) {
	e, clk := startEngine(t, Options{DynamicQuality: true})
	spec := BenchSpec(1000, 2)
	if err := e.Load(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if q := e.Snapshot().Perf.Quality; q != 0 {
		t.Fatalf("quality %d at the start, want 0", q)
	}
	// Every tick overruns: the level steps down to the cheapest, one per
	// interval, and the cheaper levels update particles less often.
	clk.SetNowStep(15 * time.Millisecond)
	s := waitFor(t, e, 90*(MaxQualityLevel+2), "lowest quality", func(s *Snapshot) bool { return s.Perf.Quality == MaxQualityLevel })
	if s.Perf.ParticleStride <= 1 || s.Perf.SnapshotStride <= 1 || s.Perf.MaxQuality != MaxQualityLevel {
		t.Errorf("at the lowest quality: %+v", s.Perf)
	}
	// Between the thresholds (p99 at 45% of the budget): hysteresis, no change.
	clk.SetNowStep(5 * time.Millisecond)
	s = waitTicks(t, e, s.Tick+90*6)
	if s.Perf.Quality != MaxQualityLevel {
		t.Errorf("quality %d with p99 between the thresholds, want %d kept", s.Perf.Quality, MaxQualityLevel)
	}
	// Sustained headroom: back to full quality, one level per three
	// intervals.
	clk.SetNowStep(time.Millisecond)
	s = waitFor(t, e, 90*(3*MaxQualityLevel+2), "full quality", func(s *Snapshot) bool { return s.Perf.Quality == 0 })
	if s.Perf.ParticleStride != 1 || s.Perf.SnapshotStride != 1 {
		t.Errorf("at full quality: %+v", s.Perf)
	}
}

func TestManualClock(t *testing.T) {
	clk := NewFakeClock(fakeStart)
	clk.SetAutoAdvance(false)
	e := New(Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// The first tick is due at once; then the loop waits for the clock.
	for want := uint64(1); want <= 10; want++ {
		if err := clk.WaitSleepers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if got := e.Snapshot().Tick; got != want {
			t.Fatalf("tick %d while the clock stands still, want %d", got, want)
		}
		// Tick k is due at start + k/90 s exactly (no drift from summing a
		// truncated period).
		clk.Set(fakeStart.Add(time.Duration(want) * time.Second / 90))
		// Wait until the loop has left SleepUntil and run the tick.
		for e.Snapshot().Tick < want+1 {
			if err := clk.WaitSleepers(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRunOnceAndStop(t *testing.T) {
	e := New(Options{Clock: NewFakeClock(fakeStart)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	if err := e.Load(ctx, sceneSpec("alpha")); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil at cancellation", err)
	}
	if _, err := e.Exec(context.Background(), "status"); !errors.Is(err, ErrStopped) {
		t.Errorf("Exec after stop = %v, want ErrStopped", err)
	}
	if err := e.Load(context.Background(), sceneSpec("beta")); !errors.Is(err, ErrStopped) {
		t.Errorf("Load after stop = %v, want ErrStopped", err)
	}
	if s := e.Snapshot(); s.Scene.Name != "alpha" {
		t.Errorf("snapshot after stop: scene %q", s.Scene.Name)
	}
}

func TestWorkersShutDown(t *testing.T) {
	// Workers > 1 start goroutines; goleak (TestMain) checks that Run's end
	// and Load's swaps stop them all.
	e, _ := startEngine(t, Options{Workers: 2})
	for i := range 3 {
		if err := e.Load(context.Background(), BenchSpec(3*minChunk, uint64(i))); err != nil {
			t.Fatal(err)
		}
		waitTicks(t, e, e.Snapshot().Tick+3)
	}
}
