package pgcatalog

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

const (
	benchN        = 1_000_000
	benchSubjects = 100_000 // ten recordings per subject
	benchSchema   = "consentrec_bench_1m_v1"
)

var benchOnce sync.Once

// benchCatalog returns a catalog of one million recordings (planRecording)
// in schema consentrec_bench_1m_v1 of CONSENTREC_PG_DSN, built with COPY
// (AddBatch) when missing or incomplete and kept between runs (drop the
// schema at will).
func benchCatalog(b *testing.B) *Catalog {
	dsn := testDSN(b)
	ctx := context.Background()
	benchOnce.Do(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if c, err := Open(ctx, withSearchPath(dsn, benchSchema)); err == nil {
			n, err := c.Count(ctx)
			c.Close()
			if err == nil && n == benchN {
				return
			}
		}
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+benchSchema+" CASCADE; CREATE SCHEMA "+benchSchema); err != nil {
			b.Fatal(err)
		}
		c, err := Open(ctx, withSearchPath(dsn, benchSchema))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		batch := make([]retention.Recording, 0, 50_000)
		for i := range benchN {
			batch = append(batch, planRecording(i, benchSubjects))
			if len(batch) == cap(batch) || i == benchN-1 {
				if err := c.AddBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if _, err := c.pool.Exec(ctx, "ANALYZE recordings; ANALYZE holds"); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d rows with COPY in %v", benchN, time.Since(start).Round(time.Millisecond))
	})
	c, err := Open(ctx, withSearchPath(dsn, benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkAdd: catalogue insert rate, one Add (one transaction) per
// recording.
func BenchmarkAdd(b *testing.B) {
	c := openT(b, freshSchema(b))
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := c.Add(ctx, planRecording(i, 1000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAddBatch: catalogue insert rate with COPY, 10,000 recordings
// per batch.
func BenchmarkAddBatch(b *testing.B) {
	c := openT(b, freshSchema(b))
	ctx := context.Background()
	const n = 10_000
	i := 0
	for b.Loop() {
		b.StopTimer()
		rs := make([]retention.Recording, n)
		for j := range rs {
			rs[j] = planRecording(i, 1000)
			i++
		}
		b.StartTimer()
		if err := c.AddBatch(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSweep1M: a sweep over one million catalogued recordings, none
// due: one index probe of the expiry scan.
func BenchmarkSweep1M(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	sw := &retention.Sweeper{Catalog: c, Store: &retentiontest.Store{}, Audit: &retentiontest.AuditLog{}}
	at := retentiontest.Epoch.AddDate(0, 0, 29) // before the first deadline
	b.ReportAllocs()
	for b.Loop() {
		rep, err := sw.Sweep(ctx, at)
		if err != nil || rep.Scanned != 0 {
			b.Fatalf("sweep: %+v, %v", rep, err)
		}
	}
}

// BenchmarkExpiredPage1M: one page of 1000 due recordings from the middle
// of the one million (the sweeper's unit of work).
func BenchmarkExpiredPage1M(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	mid := planRecording(benchN/2, benchSubjects)
	at := retentiontest.Epoch.AddDate(10, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		rs, err := c.Expired(ctx, at, retention.After(mid), 1000)
		if err != nil || len(rs) != 1000 {
			b.Fatalf("expired: %d, %v", len(rs), err)
		}
	}
}

// BenchmarkDryRun1MAllDue: the expiry scan of all one million recordings,
// page by page (1000 a page) in deadline order, as a dry run at a date when
// all are due.
func BenchmarkDryRun1MAllDue(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	sw := &retention.Sweeper{Catalog: c}
	at := retentiontest.Epoch.AddDate(10, 0, 0)
	for b.Loop() {
		rep, err := sw.DryRun(ctx, at)
		if err != nil || len(rep.Deleted) != benchN {
			b.Fatalf("dry run: %d, %v", len(rep.Deleted), err)
		}
	}
}

// BenchmarkSubject1M: one subject's recordings among one million.
func BenchmarkSubject1M(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		rs, err := c.Subject(ctx, subjectOf((i*7919)%benchSubjects))
		if err != nil || len(rs) != benchN/benchSubjects {
			b.Fatalf("subject: %d, %v", len(rs), err)
		}
		i++
	}
}
