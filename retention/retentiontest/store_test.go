package retentiontest_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// Corrupt flipped a byte of the slice an Open running at the same time was
// hashing and copying outside the lock: a data race (go test -race), and a
// reader that could return the corrupted bytes although Open had verified
// them. A reader returned by Open must keep the bytes Open checked.
func TestStoreCorruptDuringOpen(t *testing.T) {
	ctx := context.Background()
	s := &retentiontest.Store{}
	data := make([]byte, 1<<16)
	for range 20 {
		s.Put("a", data)
		var wg sync.WaitGroup
		wg.Go(func() { s.Corrupt("a") })
		rc, err := s.Open(ctx, "a")
		wg.Wait()
		if err != nil {
			if !errors.Is(err, retention.ErrIntegrity) {
				t.Fatal(err)
			}
			continue
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		for i, c := range b {
			if c != 0 {
				t.Fatalf("Open verified the file, then its reader returned a corrupted byte at %d", i)
			}
		}
	}
}
