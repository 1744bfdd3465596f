package recorder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy"
)

type writeOutCall struct {
	f      *os.File
	off, n int64
}

// A FileStore hands every open file's new bytes to the kernel's write-out
// within writeOutEvery, each range once and in order, spread over the
// period rather than all at once; its timer stops with the last file.
func TestFileStoreWritesOut(t *testing.T) {
	if !writeBehindSupported {
		t.Skip("no write-out on this platform")
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, err := NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var calls []writeOutCall
		s.wo.do = func(f *os.File, off, n int64) {
			mu.Lock()
			calls = append(calls, writeOutCall{f, off, n})
			mu.Unlock()
		}
		const files = 120
		ws := make([]*fileWriter, files)
		for i := range ws {
			w, err := s.Create(ctx, Meta{ID: fmt.Sprintf("r%d", i), CallID: "c", Purpose: policy.Quality})
			if err != nil {
				t.Fatal(err)
			}
			ws[i] = w.(*fileWriter)
		}
		check := func(from, to int64) {
			t.Helper()
			mu.Lock()
			defer mu.Unlock()
			byFile := map[*os.File][]writeOutCall{}
			for _, c := range calls {
				byFile[c.f] = append(byFile[c.f], c)
			}
			for i, w := range ws {
				got := byFile[w.f]
				if len(got) != 1 || got[0].off != from || got[0].n != to-from {
					t.Fatalf("file %d: write-outs %+v, want one of [%d, %d)", i, got, from, to)
				}
			}
			calls = calls[:0]
		}
		for _, w := range ws {
			w.Write(make([]byte, 10000))
		}
		time.Sleep(writeOutEvery)
		synctest.Wait()
		check(0, 10000)
		for _, w := range ws {
			w.Write(make([]byte, 5000))
		}
		// Spread: within one tick, a few files only.
		time.Sleep(writeOutTick)
		synctest.Wait()
		mu.Lock()
		if n := len(calls); n == 0 || n > (files*int(writeOutTick)+int(writeOutEvery)-1)/int(writeOutEvery) {
			t.Errorf("%d write-outs in one tick, want 1 to %d", n, (files*int(writeOutTick)+int(writeOutEvery)-1)/int(writeOutEvery))
		}
		mu.Unlock()
		time.Sleep(writeOutEvery)
		synctest.Wait()
		check(10000, 15000)
		for _, w := range ws {
			if err := w.Abort(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s.wo.mu.Lock()
		defer s.wo.mu.Unlock()
		if pending := s.wo.timer.Stop(); pending || len(s.wo.files) != 0 {
			t.Fatalf("write-out after the last file closed: timer pending %v, %d files", pending, len(s.wo.files))
		}
	})
}

// writeBehind on a real file starts its write-out; on a closed one it does
// nothing (no error, no fault).
func TestWriteBehind(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<16)); err != nil {
		t.Fatal(err)
	}
	writeBehind(f, 0, 1<<16)
	f.Close()
	writeBehind(f, 0, 1<<16)
}
