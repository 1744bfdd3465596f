package tesseralog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tiles builds a closed log of n entries (v2 leaves) and returns its tlog
// directory loaded into memory, and the log's key.
func tiles(t testing.TB, n int) (fstest.MapFS, note.Verifier) {
	return tilesV(t, n, audit.LeafV2)
}

// tilesV is tiles with leaves of the given version.
func tilesV(t testing.TB, n, version int) (fstest.MapFS, note.Verifier) {
	t.Helper()
	dir := t.TempDir()
	opts := testOptions(t)
	opts.LeafVersion = version
	l := openPOSIX(t, dir, opts)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := l.Append(context.Background(), audittest.Sample(i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	key := l.VerifierKey()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return loadDir(t, filepath.Join(dir, "tlog")), key
}

func TestVerifyTilesAccepts(t *testing.T) {
	m, key := tiles(t, 300)
	cp, err := tesseralog.VerifyTiles(context.Background(), m, key)
	if err != nil || cp.Size != 300 {
		t.Fatalf("VerifyTiles = %d, %v; want size 300", cp.Size, err)
	}
	other, _ := tiles(t, 3)
	if _, err := tesseralog.VerifyTiles(context.Background(), other, key); !errors.Is(err, audit.ErrSignature) {
		t.Fatalf("another log's tiles under this key = %v, want ErrSignature", err)
	}
}

// readPath returns the file VerifyTiles reads for a resource of width p.
func readPath(m fstest.MapFS, path func(uint8) string, p uint8) string {
	if _, ok := m[path(p)]; ok || p == 0 {
		return path(p)
	}
	return path(0)
}

// TestTamperTiles flips bytes of every hash tile, entry bundle and the
// checkpoint the verifier reads: each flip must be reported, with the
// index of the entry under the changed bytes, for both leaf versions.
func TestTamperTiles(t *testing.T) {
	t.Run("v1", func(t *testing.T) { tamperTiles(t, audit.LeafV1, audit.LeafSize) })
	t.Run("v2", func(t *testing.T) { tamperTiles(t, audit.LeafV2, audit.LeafSizeV2) })
}

func tamperTiles(t *testing.T, version, leafSize int) {
	const n = 300
	m, key := tilesV(t, n, version)
	ctx := context.Background()
	type target struct {
		path   string
		index  func(off int) uint64 // the entry a flip at off must name
		stride int
	}
	var targets []target
	for _, tl := range tlog.NewTiles(8, 0, n) {
		p := uint8(0)
		if tl.W < 256 {
			p = uint8(tl.W)
		}
		path := readPath(m, func(p uint8) string { return layout.TilePath(uint64(tl.L), uint64(tl.N), p) }, p)
		targets = append(targets, target{path, func(off int) uint64 {
			return uint64(tl.N*256+int64(off/tlog.HashSize)) << (8 * uint(tl.L))
		}, 31})
	}
	for bi := uint64(0); bi*256 < n; bi++ {
		path := readPath(m, func(p uint8) string { return layout.EntriesPath(bi, p) }, layout.PartialTileSize(0, bi, n))
		targets = append(targets, target{path, func(off int) uint64 { return bi*256 + uint64(off/(2+leafSize)) }, 37})
	}
	for _, tg := range targets {
		data := m[tg.path].Data
		if len(data) == 0 {
			t.Fatalf("%s is empty", tg.path)
		}
		for off := 0; off < len(data); off += tg.stride {
			for _, bit := range []byte{0x01, 0x80}[:1+off%2] {
				data[off] ^= bit
				_, err := tesseralog.VerifyTiles(ctx, m, key)
				data[off] ^= bit
				var ve *audit.VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("%s byte %d ^%#x: VerifyTiles = %v, want a *VerifyError", tg.path, off, bit, err)
				}
				if want := tg.index(off); ve.Index != want {
					t.Fatalf("%s byte %d ^%#x: %v, want entry %d", tg.path, off, bit, err, want)
				}
			}
		}
	}
	// The checkpoint: every byte, outside the size line, names the last
	// entry it claims to cover.
	cp := m[layout.CheckpointPath].Data
	sizeLine := strings.Index(string(cp), fmt.Sprintf("\n%d\n", n)) + 1
	for off := range cp {
		cp[off] ^= 0x01
		_, err := tesseralog.VerifyTiles(ctx, m, key)
		cp[off] ^= 0x01
		var ve *audit.VerifyError
		if !errors.As(err, &ve) || !errors.Is(err, audit.ErrSignature) {
			t.Fatalf("checkpoint byte %d: %v, want a signature *VerifyError", off, err)
		}
		if (off < sizeLine || off > sizeLine+3) && ve.Index != n-1 {
			t.Fatalf("checkpoint byte %d: %v, want entry %d", off, err, n-1)
		}
	}
	if _, err := tesseralog.VerifyTiles(ctx, m, key); err != nil {
		t.Fatalf("restored tiles: %v", err)
	}
}

// TestTamperMissing: a deleted entry bundle or tile is truncation.
func TestTamperMissing(t *testing.T) {
	m, key := tiles(t, 300)
	for _, p := range []string{layout.EntriesPath(1, 44), layout.TilePath(0, 0, 0)} {
		f := m[p]
		delete(m, p)
		_, err := tesseralog.VerifyTiles(context.Background(), m, key)
		m[p] = f
		if !errors.Is(err, audit.ErrRollback) {
			t.Fatalf("without %s: %v, want ErrRollback", p, err)
		}
	}
}

// TestMixedLeafVersions: a v1 leaf among v2 leaves (or the reverse) is a
// format error at its index, even where the tiles were rebuilt to match.
func TestMixedLeafVersions(t *testing.T) {
	m, key := tilesV(t, 10, audit.LeafV2)
	path := layout.EntriesPath(0, 10)
	data := m[path].Data
	var out []byte
	for k := 0; len(data) > 0; k++ {
		n := int(data[0])<<8 | int(data[1])
		entry := data[2 : 2+n]
		data = data[2+n:]
		if k == 6 {
			var lf audit.Leaf
			if err := lf.UnmarshalBinary(entry); err != nil {
				t.Fatal(err)
			}
			lf.Version, lf.Index = audit.LeafV1, 6
			entry, _ = lf.MarshalBinary()
		}
		out = append(out, byte(len(entry)>>8), byte(len(entry)))
		out = append(out, entry...)
	}
	m[path] = &fstest.MapFile{Data: out}
	_, err := tesseralog.VerifyTiles(context.Background(), m, key)
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || ve.Index != 6 || ve.Problem != audit.ProblemFormat {
		t.Fatalf("v1 leaf at 6 among v2 leaves: %v, want a format error at entry 6", err)
	}
}
