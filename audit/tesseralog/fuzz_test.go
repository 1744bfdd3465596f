package tesseralog_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/consentrec/consentrec/audit/tesseralog"
	"github.com/transparency-dev/tessera/api/layout"
)

// FuzzVerifyTilesBundle replaces the entry bundle of a 3-entry log with
// arbitrary bytes: VerifyTiles never panics and accepts only the original.
func FuzzVerifyTilesBundle(f *testing.F) {
	m, key := tiles(f, 3)
	path := layout.EntriesPath(0, 3)
	orig := bytes.Clone(m[path].Data)
	f.Add(orig)
	f.Add(orig[:len(orig)-1])
	f.Add(append(bytes.Clone(orig), 0, 1, 'x'))
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m[path].Data = b
		_, err := tesseralog.VerifyTiles(context.Background(), m, key)
		if (err == nil) != bytes.Equal(b[:min(len(b), len(orig))], orig) {
			t.Fatalf("VerifyTiles(%x) = %v", b, err)
		}
	})
}
