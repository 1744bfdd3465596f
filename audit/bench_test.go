package audit_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// BenchmarkAppend measures durable appends (each Append returns after its
// fsync) from 64 concurrent appenders (SetParallelism(32) with
// GOMAXPROCS=2): "group-commit" shares one sync among the appends that
// arrive while the previous one runs; "fsync-per-append" (MaxBatch 1) is
// the same load with one fsync per append, in the same run.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name     string
		maxBatch int
	}{{"group-commit", 0}, {"fsync-per-append", 1}} {
		b.Run(c.name, func(b *testing.B) {
			l, err := audit.Open(context.Background(), audit.DirFS(b.TempDir()), audit.Options{
				Signer: testKey(b), Origin: "bench.example/append", MaxBatch: c.maxBatch,
				CheckpointInterval: -1,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			e := audittest.Sample(1)
			b.ReportAllocs()
			b.SetParallelism(64 / max(1, testingProcs()))
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := l.Append(ctx, e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "appends/cpu-s")
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
