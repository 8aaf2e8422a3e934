package audit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// discardSink counts and forgets.
type discardSink struct{ n atomic.Uint64 }

func (d *discardSink) Write(_ context.Context, recs []audit.Record) error {
	d.n.Add(uint64(len(recs)))
	return nil
}

func benchRecord() audit.Record {
	return audit.Record{
		RequestID: "5GZL2QYVHCN3M7XK", Principal: "key_7f3a", Role: "developer",
		ClientAddr: "203.0.113.7", Method: "POST", Route: "POST /scene/load", Path: "/scene/load",
		ScenePath: "res://scenes/solar_system.tscn", Status: 200, DurationMS: 1.25, UserAgent: "curl/8.5.0",
	}
}

// BenchmarkRecord measures the caller's cost of Record, from parallel
// goroutines, with the writer draining into a sink (time.Now stamps).
// dropped/op shows how often the queue overflowed.
func BenchmarkRecord(b *testing.B) {
	sinks := []struct {
		name string
		open func(b *testing.B) audit.Sink
	}{
		{"discard", func(*testing.B) audit.Sink { return &discardSink{} }},
		{"file", func(b *testing.B) audit.Sink {
			s, err := audit.OpenFile(audit.FileOptions{Dir: b.TempDir(), Name: "audit_bench.log", MaxBytes: 64 << 20, MaxBackups: 2})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, sk := range sinks {
		b.Run(sk.name, func(b *testing.B) {
			l, err := audit.New(audit.Options{}, sk.open(b))
			if err != nil {
				b.Fatal(err)
			}
			r := benchRecord()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Record(r)
				}
			})
			b.StopTimer()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := l.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
		})
	}
}

// BenchmarkFileSinkWrite measures the writer's side: encoding and writing
// one record, in batches of 256.
func BenchmarkFileSinkWrite(b *testing.B) {
	s, err := audit.OpenFile(audit.FileOptions{Dir: b.TempDir(), Name: "audit_bench.log", MaxBytes: 64 << 20, MaxBackups: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]audit.Record, 256)
	for i := range batch {
		batch[i] = benchRecord()
		batch[i].Time = base
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if err := s.Write(context.Background(), batch[:min(len(batch), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery measures a query over a 10,000-record log.
func BenchmarkQuery(b *testing.B) {
	s, err := audit.OpenFile(audit.FileOptions{Dir: b.TempDir(), Name: "audit_bench.log"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]audit.Record, 10000)
	for i := range batch {
		batch[i] = benchRecord()
		batch[i].Time = base.Add(time.Duration(i) * time.Second)
		if i%10 == 0 {
			batch[i].Status = 403
		}
	}
	if err := s.Write(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Query(context.Background(), audit.Filter{Status: 403, Limit: 100})
		if err != nil || len(got) != 100 {
			b.Fatalf("Query = %d, %v", len(got), err)
		}
	}
}
