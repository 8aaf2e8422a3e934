package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// engineCollector reports the engine's gauges from the snapshot current at
// scrape time: no goroutine, no copy of the world, nothing on the tick
// path.
type engineCollector struct {
	src SnapshotSource

	fps, physicsFPS       *prometheus.Desc
	tickQuantile, tickMax *prometheus.Desc
	tickBudget            *prometheus.Desc
	ticks, overruns       *prometheus.Desc
	skipped               *prometheus.Desc
	quality, maxQuality   *prometheus.Desc
	subSteps              *prometheus.Desc
	particles, bodies     *prometheus.Desc
	paused, timeScale     *prometheus.Desc
	simTime               *prometheus.Desc
	playerLorentz         *prometheus.Desc
	sceneInfo             *prometheus.Desc
}

var _ prometheus.Collector = (*engineCollector)(nil)

func newEngineCollector(src SnapshotSource) *engineCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &engineCollector{
		src:        src,
		fps:        d("fps_current", "Ticks achieved over the last second (the guide's fps_current; VR target 90)."),
		physicsFPS: d("physics_fps", "Configured tick rate (physics_fps)."),
		tickQuantile: d("tick_duration_seconds",
			"Tick duration quantiles over the engine's recent ticks (0.5 and 0.99).", "quantile"),
		tickMax:    d("tick_duration_max_seconds", "Longest tick over the engine's recent ticks."),
		tickBudget: d("tick_budget_seconds", "Time one tick may take: 1/physics_fps."),
		ticks:      d("ticks_total", "Ticks run since the engine started."),
		overruns:   d("tick_overruns_total", "Ticks that took longer than the tick budget."),
		skipped: d("ticks_skipped_total",
			"Tick deadlines dropped because the loop fell more than two ticks behind."),
		quality:    d("quality_level", "Current quality level: 0 is full quality, higher is cheaper."),
		maxQuality: d("quality_level_max", "The cheapest quality level."),
		subSteps:   d("integrator_substeps", "Integrator sub-steps in the last tick."),
		particles:  d("particles", "Test particles in the world."),
		bodies:     d("bodies", "Massive bodies in the world."),
		paused:     d("paused", "1 while the simulation is paused."),
		timeScale:  d("time_scale", "Simulation time acceleration (1 = real time)."),
		simTime:    d("sim_time_seconds", "Simulation time in seconds since J2000."),
		playerLorentz: d("player_lorentz_factor",
			"The player's total time-dilation factor dt/dτ (absent without a player)."),
		sceneInfo: d("scene_info", "Always 1; the labels name the running scene.", "name", "path"),
	}
}

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.fps, c.physicsFPS, c.tickQuantile, c.tickMax, c.tickBudget,
		c.ticks, c.overruns, c.skipped, c.quality, c.maxQuality, c.subSteps,
		c.particles, c.bodies, c.paused, c.timeScale, c.simTime,
		c.playerLorentz, c.sceneInfo,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	s := c.src.Snapshot()
	if s == nil {
		return
	}
	p := &s.Perf
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(c.fps, p.FPS)
	gauge(c.physicsFPS, float64(p.PhysicsFPS))
	gauge(c.tickQuantile, p.TickP50.Seconds(), "0.5")
	gauge(c.tickQuantile, p.TickP99.Seconds(), "0.99")
	gauge(c.tickMax, p.TickMax.Seconds())
	gauge(c.tickBudget, p.TickBudget.Seconds())
	counter(c.ticks, p.Ticks)
	counter(c.overruns, p.Overruns)
	counter(c.skipped, p.Skipped)
	gauge(c.quality, float64(p.Quality))
	gauge(c.maxQuality, float64(p.MaxQuality))
	gauge(c.subSteps, float64(p.SubSteps))
	gauge(c.particles, float64(s.ParticleCount))
	gauge(c.bodies, float64(len(s.Bodies)))
	paused := 0.0
	if s.Paused {
		paused = 1
	}
	gauge(c.paused, paused)
	gauge(c.timeScale, s.TimeScale)
	gauge(c.simTime, s.SimTime)
	if s.Player != nil {
		gauge(c.playerLorentz, s.Player.Lorentz)
	}
	if s.Scene.Path != "" || s.Scene.Name != "" {
		// Label values must be valid UTF-8 or the whole scrape fails.
		gauge(c.sceneInfo, 1, strings.ToValidUTF8(s.Scene.Name, "\uFFFD"),
			strings.ToValidUTF8(s.Scene.Path, "\uFFFD"))
	}
}
