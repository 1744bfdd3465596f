package retention_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

const (
	benchN        = 1_000_000
	benchSubjects = 100_000
)

var (
	benchOnce sync.Once
	benchCat  *retention.MemCatalog
)

// memCatalog1M returns an in-memory catalog of one million recordings
// created over a month, ten per subject, built once per process.
func memCatalog1M(b *testing.B) *retention.MemCatalog {
	benchOnce.Do(func() {
		ctx := context.Background()
		c := retention.NewMemCatalog()
		for i := range benchN {
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
			if err := c.Add(ctx, r); err != nil {
				panic(err)
			}
		}
		benchCat = c
	})
	return benchCat
}

// BenchmarkSweep1M: a sweep over one million catalogued recordings, none
// due (target: at most 5 s), on the in-memory catalog.
func BenchmarkSweep1M(b *testing.B) {
	c := memCatalog1M(b)
	ctx := context.Background()
	sw := &retention.Sweeper{Catalog: c, Store: &retentiontest.Store{}, Audit: &retentiontest.AuditLog{}}
	at := retentiontest.Epoch.AddDate(0, 0, 29)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := sw.Sweep(ctx, at)
		if err != nil || rep.Scanned != 0 {
			b.Fatalf("sweep: %+v, %v", rep, err)
		}
	}
}

// BenchmarkSubject1M: one subject's recordings among one million (target:
// at most 10 ms), on the in-memory catalog.
func BenchmarkSubject1M(b *testing.B) {
	c := memCatalog1M(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rs, err := c.Subject(ctx, retentiontest.SubjectOf(fmt.Sprint((i*7919)%benchSubjects)))
		if err != nil || len(rs) != benchN/benchSubjects {
			b.Fatalf("subject: %d, %v", len(rs), err)
		}
		i++
	}
}

// BenchmarkDryRun1MAllDue: a dry run when all one million are due.
func BenchmarkDryRun1MAllDue(b *testing.B) {
	c := memCatalog1M(b)
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
