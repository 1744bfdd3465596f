package sqlitecatalog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

const (
	benchN        = 1_000_000
	benchSubjects = 100_000 // ten recordings per subject
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchRecording is the i-th of the benchmark's recordings: created over a
// month, training/quality (30 days) and contract proof (5 years).
func benchRecording(i int) retention.Recording {
	p := []policy.Purpose{policy.Quality, policy.Training, policy.ContractProof}[i%3]
	r, err := retention.New(retention.Entry{
		ID: fmt.Sprintf("rec-%07d", i), CallID: fmt.Sprintf("call-%07d", i), Purpose: p,
		Created: retentiontest.Epoch.Add(time.Duration(i) * 2600 * time.Millisecond),
		Subject: retentiontest.SubjectOf(fmt.Sprint(i % benchSubjects)),
		SHA256:  fmt.Sprintf("%064x", i),
	})
	if err != nil {
		panic(err)
	}
	return r
}

// benchCatalog returns a catalog of one million recordings. Building it
// takes minutes on a small machine, so it is kept between runs in
// $TMPDIR/consentrec-sqlitecatalog-bench-v1 (delete it at will) and rebuilt
// when missing or incomplete.
func benchCatalog(b *testing.B) *sqlitecatalog.Catalog {
	benchOnce.Do(func() {
		benchDir = filepath.Join(os.TempDir(), "consentrec-sqlitecatalog-bench-v1")
		ctx := context.Background()
		if c, err := sqlitecatalog.Open(ctx, filepath.Join(benchDir, "catalog.db")); err == nil {
			n, err := c.Count(ctx)
			c.Close()
			if err == nil && n == benchN {
				return
			}
		}
		os.RemoveAll(benchDir)
		if benchErr = os.MkdirAll(benchDir, 0o700); benchErr != nil {
			return
		}
		c, err := sqlitecatalog.Open(ctx, filepath.Join(benchDir, "catalog.db"))
		if err != nil {
			benchErr = err
			return
		}
		defer c.Close()
		batch := make([]retention.Recording, 0, 20_000)
		for i := range benchN {
			batch = append(batch, benchRecording(i))
			if len(batch) == cap(batch) || i == benchN-1 {
				if benchErr = c.AddBatch(ctx, batch); benchErr != nil {
					return
				}
				batch = batch[:0]
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	c, err := sqlitecatalog.Open(context.Background(), filepath.Join(benchDir, "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkSweep1M: a sweep over one million catalogued recordings, none
// due (target: at most 5 s).
func BenchmarkSweep1M(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	if n, err := c.Count(ctx); err != nil || n != benchN {
		b.Fatalf("catalog holds %d, %v", n, err)
	}
	sw := &retention.Sweeper{Catalog: c, Store: &retentiontest.Store{}, Audit: &retentiontest.AuditLog{}}
	at := retentiontest.Epoch.AddDate(0, 0, 29) // before the first deadline
	b.ReportAllocs()
	for b.Loop() {
		rep, err := sw.Sweep(ctx, at)
		if err != nil || rep.Scanned != 0 || len(rep.Deleted) != 0 {
			b.Fatalf("sweep: %+v, %v", rep, err)
		}
	}
}

// BenchmarkSubject1M: finding one subject's recordings among one million
// (target: at most 10 ms).
func BenchmarkSubject1M(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := retentiontest.SubjectOf(fmt.Sprint((i * 7919) % benchSubjects))
		rs, err := c.Subject(ctx, s)
		if err != nil || len(rs) != benchN/benchSubjects {
			b.Fatalf("subject: %d recordings, %v", len(rs), err)
		}
		i++
	}
}

// BenchmarkDryRun1MAllDue: the catalog side of the worst case, a dry run
// at a date when all one million recordings are due: every row is read,
// page by page (1000 a page), in deadline order.
func BenchmarkDryRun1MAllDue(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	sw := &retention.Sweeper{Catalog: c}
	at := retentiontest.Epoch.AddDate(10, 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := sw.DryRun(ctx, at)
		if err != nil || len(rep.Deleted) != benchN {
			b.Fatalf("dry run: %d, %v", len(rep.Deleted), err)
		}
	}
}
