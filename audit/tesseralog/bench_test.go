package tesseralog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// BenchmarkAppend64 measures durable appends from 64 concurrent
// appenders, the file log, the Tessera POSIX log and the Tessera MySQL log
// (when CONSENTREC_TEST_MYSQL_DSN is set; also as two writers of one
// database) in the same run. Each
// Append returns once its entry is durable (the file log's fsync; the
// resolution of Tessera's future).
func BenchmarkAppend64(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(b *testing.B) appendCloser
	}{
		{"filelog", func(b *testing.B) appendCloser {
			o := testOptions(b)
			l, err := audit.Open(context.Background(), audit.DirFS(b.TempDir()), audit.Options{Signer: o.Signer, Origin: o.Origin})
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"tessera-posix", func(b *testing.B) appendCloser { return openPOSIX(b, b.TempDir(), testOptions(b)) }},
		{"tessera-mysql", func(b *testing.B) appendCloser {
			l, err := tesseralog.OpenMySQL(context.Background(), freshDB(b), testOptions(b))
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"tessera-mysql-2writers", func(b *testing.B) appendCloser {
			// Two writers on one database, as two nodes: the appenders
			// alternate between them.
			db, o := freshDB(b), testOptions(b)
			var ls twoLogs
			for i := range ls {
				l, err := tesseralog.OpenMySQL(context.Background(), db, o)
				if err != nil {
					b.Fatal(err)
				}
				ls[i] = l
			}
			return &ls
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := c.open(b)
			defer l.Close()
			e := audittest.Sample(1)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range 64 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := l.Append(context.Background(), e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkVerify measures full verification of a 4,096-entry log: the
// file log's VerifyFS (which also opens every commitment) and VerifyTiles
// over the Tessera log's tiles (leaves, chain, tiles and root; no
// openings), from the POSIX directory and, with a server, from MySQL.
func BenchmarkVerify(b *testing.B) {
	const n = 4096
	fill := func(b *testing.B, l audit.Log) {
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				for i := w; i < n; i += 64 {
					if _, err := l.Append(context.Background(), audittest.Sample(i)); err != nil {
						b.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	b.Run("filelog", func(b *testing.B) {
		dir := b.TempDir()
		o := testOptions(b)
		l, err := audit.Open(context.Background(), audit.DirFS(dir), audit.Options{Signer: o.Signer, Origin: o.Origin})
		if err != nil {
			b.Fatal(err)
		}
		fill(b, l)
		key := l.VerifierKey()
		l.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := audit.VerifyFS(context.Background(), audit.DirFS(dir), key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("tessera-tiles", func(b *testing.B) {
		dir := b.TempDir()
		l := openPOSIX(b, dir, testOptions(b))
		fill(b, l)
		key := l.VerifierKey()
		l.Close()
		fsys := os.DirFS(filepath.Join(dir, "tlog"))
		b.ResetTimer()
		for b.Loop() {
			if _, err := tesseralog.VerifyTiles(context.Background(), fsys, key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("tessera-mysql-tiles", func(b *testing.B) {
		l, err := tesseralog.OpenMySQL(context.Background(), freshDB(b), testOptions(b))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		fill(b, l)
		ctx := context.Background()
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := tesseralog.VerifyTiles(ctx, l.TilesFS(ctx), l.VerifierKey()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

type appendCloser interface {
	Append(context.Context, audit.Event) (uint64, error)
	Close() error
}

// twoLogs sends appends to two writers of one log in turn (only Append and
// Close are used).
type twoLogs [2]*tesseralog.Log

var twoNext atomic.Uint64

func (t *twoLogs) Append(ctx context.Context, e audit.Event) (uint64, error) {
	return t[twoNext.Add(1)%2].Append(ctx, e)
}

func (t *twoLogs) Close() error { return errors.Join(t[0].Close(), t[1].Close()) }
