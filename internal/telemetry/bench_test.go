package telemetry

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/engine"
)

// The report flags run RunBench at full size and print the results:
//
//	go test -run TestBenchReport ./internal/telemetry/ -args -fanout-report [-fanout-clients 100,500] [-fanout-inprocess]
var (
	benchReport    = flag.Bool("fanout-report", false, "run the 5 s telemetry fan-out benchmarks and print their JSON")
	benchClients   = flag.String("fanout-clients", "100,500", "client counts of -fanout-report")
	benchInProcess = flag.Bool("fanout-inprocess", false, "also run -fanout-report with in-process clients")
	benchTopics    = flag.String("fanout-topics", "perf,player", "topics of -fanout-report")
	benchStalled   = flag.Int("fanout-stalled", 0, "stalled clients of -fanout-report")
)

func TestRunBenchSmall(t *testing.T) {
	tests := []struct {
		name    string
		command bool
		gen     string
	}{
		{"in-process clients", false, "in-process"},
		{"child-process clients", true, "child-process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := BenchOptions{Clients: 3, RateHz: 30, Seconds: 0.5, Particles: 200, Baseline: 100 * time.Millisecond,
				Topics: []string{TopicPerf, TopicPlayer, TopicBodies}, Decimate: 10}
			if tt.command {
				t.Setenv(loadGenEnv, "1")
				opts.LoadCommand = []string{os.Args[0]}
			}
			res, err := RunBench(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			want := uint64(3 * 3 * 30 * res.Seconds) // clients × topics × rate × window
			if d := int64(res.FramesExpected) - int64(want); d < -3 || d > 3 {
				t.Errorf("frames expected %d, want about %d", res.FramesExpected, want)
			}
			if res.FramesDelivered == 0 || res.DeliveredRatio <= 0 || res.FPS <= 0 || res.LoadGenerator != tt.gen ||
				res.CPUMethod == "" || res.Particles != 200 || res.ClientFailures != 0 {
				t.Errorf("result = %+v", res)
			}
			if tt.command && res.LoadGenCPUSeconds <= 0 {
				t.Errorf("no CPU measured for the load-generator process: %+v", res)
			}
		})
	}
}

func TestBenchReport(t *testing.T) {
	if !*benchReport {
		t.Skip("run with -fanout-report")
	}
	t.Setenv(loadGenEnv, "1")
	for _, cs := range splitTopics(*benchClients) {
		clients, err := strconv.Atoi(cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, child := range []bool{true, false} {
			if !child && !*benchInProcess {
				continue
			}
			opts := BenchOptions{Clients: clients, RateHz: 90, Seconds: 5, Topics: splitTopics(*benchTopics), Stalled: *benchStalled}
			if child {
				opts.LoadCommand = []string{os.Args[0]}
			}
			res, err := RunBench(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.MarshalIndent(res, "", "  ")
			t.Logf("%d clients:\n%s", clients, b)
		}
	}
}

// benchHub is a hub with n socketless subscribers to perf and player at
// 90 Hz, for measuring Step alone.
func benchHub(b *testing.B, n int) (*Hub, *fakeSource, []*conn) {
	b.Helper()
	src := &fakeSource{}
	src.set(testSnapshot(1, 0, 1))
	h := NewHub(HubOptions{Source: src, MaxDropStreak: 1 << 30, MaxBehind: time.Hour})
	conns := make([]*conn, n)
	for i := range conns {
		c := &conn{h: h, q: newSendQueue(h.opts.SendQueue, maxCtrl), kill: make(chan struct{})}
		cfg := &subConfig{decimate: 1, format: FormatBinary, particles: true}
		cfg.topics[topicPerfI] = topicConfig{on: true, rate: 90, gen: 1}
		cfg.topics[topicPlayerI] = topicConfig{on: true, rate: 90, gen: 1}
		c.cfg.Store(cfg)
		h.addSub(c)
		conns[i] = c
	}
	return h, src, conns
}

// BenchmarkFanout is one tick of the hub with 500 subscribers: perf and
// player encoded once each, the same two frames queued to every
// subscriber (then taken, as the writers would).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 500} {
		b.Run(strconv.Itoa(n)+"-subscribers", func(b *testing.B) {
			h, src, conns := benchHub(b, n)
			base := *testSnapshot(2, 0, 1)
			var batch []outItem
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s := base
				s.Tick = uint64(i + 2)
				src.set(&s)
				h.Step()
				for _, c := range conns {
					batch = c.q.take(batch)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber")
		})
	}
}

// BenchmarkEncodeBodies encodes 10 000 bodies (no particles) in the
// binary frame, in the stream's JSON, and with encoding/json.
func BenchmarkEncodeBodies(b *testing.B) {
	s := &engine.Snapshot{Tick: 7, SimTime: 1234.5}
	for i := range 10_000 {
		f := float64(i)
		s.Bodies = append(s.Bodies, engine.BodyState{
			Name: "body-" + strconv.Itoa(i), GM: 1e10 + f, Radius: 1000 + f,
			Pos: engine.Vec3{X: 1.5e11 + f*1e6, Y: -2.5e10 + f, Z: f * 1e3}, Vel: engine.Vec3{X: 29780 - f, Y: f, Z: -f},
		})
	}
	b.Run("binary", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = EncodeBodiesFrame(buf[:0], s, 1, true)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("json-stream", func(b *testing.B) {
		var buf jbuf
		b.ReportAllocs()
		for b.Loop() {
			buf = appendBodies(buf[:0], s, bodiesVariant{format: FormatJSON, decimate: 1})
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding-json", func(b *testing.B) {
		type body struct {
			Name     string  `json:"name"`
			GM       float64 `json:"gm"`
			Radius   float64 `json:"radius"`
			Position Vec     `json:"position"`
			Velocity Vec     `json:"velocity"`
		}
		var n int
		b.ReportAllocs()
		for b.Loop() {
			out := make([]body, len(s.Bodies))
			for i, bs := range s.Bodies {
				out[i] = body{bs.Name, bs.GM, bs.Radius, Vec{bs.Pos.X, bs.Pos.Y, bs.Pos.Z}, Vec{bs.Vel.X, bs.Vel.Y, bs.Vel.Z}}
			}
			data, err := json.Marshal(out)
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.SetBytes(int64(n))
	})
}
