package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// BenchmarkAuditWrite measures audit batch write throughput (records/s):
// one Write of a Logger-sized batch (audit.DefaultBatchSize) per iteration,
// one transaction each.
func BenchmarkAuditWrite(b *testing.B) {
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		b.Run(be.name, func(b *testing.B) {
			for _, batch := range []int{1, 32, audit.DefaultBatchSize} {
				b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
					a := openStore(b, be.fresh(b)).Audit()
					recs := auditFixture()[:batch]
					ctx := context.Background()
					for b.Loop() {
						if err := a.Write(ctx, recs); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
				})
			}
		})
	}
}

// BenchmarkAuditQuery measures a filtered query over 10 000 records.
func BenchmarkAuditQuery(b *testing.B) {
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		b.Run(be.name, func(b *testing.B) {
			a := openStore(b, be.fresh(b)).Audit()
			ctx := context.Background()
			recs := auditFixture()
			for range 10000 / len(recs) {
				if err := a.Write(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			f := audit.Filter{Principal: "dev-1", StatusClass: 4, Limit: 100}
			for b.Loop() {
				if _, err := a.Query(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
