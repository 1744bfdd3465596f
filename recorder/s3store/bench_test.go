package s3store

import (
	"context"
	"testing"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// BenchmarkS3StoreWrite: the recorder's media path, one Write per Ogg page
// of one 20 ms packet (about 160 bytes), into recorder.FileStore and into
// this store (spool file; parts of 5 MiB are uploaded meanwhile by the
// background goroutine, i.e. every 32,768 packets). The two should not
// differ: Write never waits on the network.
func BenchmarkS3StoreWrite(b *testing.B) {
	ctx := context.Background()
	page := make([]byte, 160)
	rand32(page)
	run := func(b *testing.B, st recorder.Store) {
		w, err := st.Create(ctx, meta("bench", policy.Quality))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.Write(page); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := w.Abort(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("FileStore", func(b *testing.B) {
		fs, err := recorder.NewFileStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		run(b, fs)
	})
	b.Run("S3Store", func(b *testing.B) {
		run(b, newTestStore(b, testConfig(b)))
	})
}
