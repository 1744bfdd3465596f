package tesseralog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/consentrec/consentrec/audit"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyTiles verifies a copy of the log's tiles (fsys rooted at the
// "tlog" directory: checkpoint, tile/, tile/entries/) without the
// openings and without the database: the checkpoint's signature by key;
// every leaf of the entry bundles up to the checkpoint's size (format, one
// leaf version throughout, and for v1 leaves the index they carry and the
// chain from audit.Genesis); the tree recomputed from the leaves
// against every stored hash tile and against the checkpoint's root. It
// returns the checkpoint, or a *audit.VerifyError naming the first bad
// entry (for a hash tile, the first entry under the bad hash; for a bad
// checkpoint signature, the last entry it claims to cover). Memory: the
// tree's stored hashes, about 64 bytes per entry.
func VerifyTiles(ctx context.Context, fsys fs.FS, key note.Verifier) (audit.Checkpoint, error) {
	return VerifyTilesWith(ctx, fsys, VerifyOptions{Key: key})
}

// VerifyOptions configures VerifyTilesWith and Log.Verify.
type VerifyOptions struct {
	// Key verifies the log's signature (Log.Verify: the log's own key
	// when nil).
	Key note.Verifier
	// Witnesses are the witnesses whose cosignatures count (cosignature/v1
	// keys, audit.NewCosignatureVerifier, or plain Ed25519 note keys).
	// When listed, the cosigned checkpoint (CosignedPath) must be signed
	// by the log, cosigned by Quorum of them (all when Quorum is 0), and
	// the tree must extend it; otherwise the error wraps audit.ErrQuorum
	// and names the missing witnesses.
	Witnesses []note.Verifier
	Quorum    int
}

// VerifyTilesWith is VerifyTiles with witnesses: it also checks the
// cosigned checkpoint (CosignedPath) against opts.Witnesses and
// opts.Quorum, and that the tree recomputed from the entry bundles has
// its root at its size (the witnessed history is the log's). A cosigned
// checkpoint larger than the log's own checkpoint makes the bundles up to
// its size required (a log rolled back behind what its witnesses saw is
// truncated). It returns the log's checkpoint.
func VerifyTilesWith(ctx context.Context, fsys fs.FS, opts VerifyOptions) (audit.Checkpoint, error) {
	key := opts.Key
	var witnessed audit.Checkpoint
	if len(opts.Witnesses) > 0 {
		raw, err := fs.ReadFile(fsys, CosignedPath)
		if errors.Is(err, fs.ErrNotExist) {
			names := make([]string, len(opts.Witnesses))
			for i, w := range opts.Witnesses {
				names[i] = w.Name()
			}
			return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: no cosigned checkpoint (missing: %s): %w", strings.Join(names, ", "), audit.ErrQuorum)
		}
		if err != nil {
			return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: %w", err)
		}
		c, _, err := audit.CheckWitnesses(raw, key, opts.Witnesses, opts.Quorum)
		switch {
		case errors.Is(err, audit.ErrQuorum):
			return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: %w", err)
		case err != nil:
			return audit.Checkpoint{}, &audit.VerifyError{Index: max(c.Size, 1) - 1, Problem: audit.ProblemSignature, Msg: "cosigned checkpoint: " + err.Error()}
		}
		witnessed = c
	}
	raw, err := fs.ReadFile(fsys, layout.CheckpointPath)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: %w", err)
	}
	cp, _, err := audit.OpenCheckpoint(raw, key)
	if err != nil {
		// Name the last entry the checkpoint claims; when its body no
		// longer parses, the last entry the bundles hold.
		last := storedEntries(fsys)
		if c, perr := audit.ParseCheckpoint(bodyOf(raw)); perr == nil {
			last = c.Size
		}
		if last > 0 {
			last--
		}
		return audit.Checkpoint{}, &audit.VerifyError{Index: last, Problem: audit.ProblemSignature, Msg: err.Error()}
	}
	n := max(cp.Size, witnessed.Size)
	hashes := make([]tlog.Hash, 0, 2*n)
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("stored hash %d out of range", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	prev := audit.Genesis(cp.Origin)
	version := 0 // entry 0's leaf format, the log's
	var chainErr *audit.VerifyError
	for bi := uint64(0); bi*layout.EntryBundleWidth < n; bi++ {
		if err := ctx.Err(); err != nil {
			return audit.Checkpoint{}, err
		}
		first := bi * layout.EntryBundleWidth
		want := min(n-first, layout.EntryBundleWidth)
		data, err := readPartialOrFull(fsys, func(p uint8) string { return layout.EntriesPath(bi, p) }, layout.PartialTileSize(0, bi, n))
		if err != nil {
			return audit.Checkpoint{}, &audit.VerifyError{Index: first, Problem: audit.ProblemTruncated, Msg: "entry bundle: " + err.Error()}
		}
		entries, bad := splitBundle(data, want)
		if bad >= 0 {
			return audit.Checkpoint{}, &audit.VerifyError{Index: first + uint64(bad), Problem: audit.ProblemFormat, Msg: "entry bundle: bad entry length"}
		}
		if uint64(len(entries)) < want {
			return audit.Checkpoint{}, &audit.VerifyError{Index: first + uint64(len(entries)), Problem: audit.ProblemTruncated, Msg: "entry bundle too short"}
		}
		for k := range want {
			i := first + k
			var lf audit.Leaf
			if err := lf.UnmarshalBinary(entries[k]); err != nil {
				return audit.Checkpoint{}, &audit.VerifyError{Index: i, Problem: audit.ProblemFormat, Msg: err.Error()}
			}
			if i == 0 {
				version = lf.Version
			}
			if lf.Version != version {
				return audit.Checkpoint{}, &audit.VerifyError{Index: i, Problem: audit.ProblemFormat, Msg: fmt.Sprintf("v%d leaf in a log of v%d leaves", lf.Version, version)}
			}
			// Index and chain (v1 leaves) are reported after the tiles: a
			// changed leaf shows there at its own index, before it breaks
			// the next leaf's chain. A v2 leaf's index is its position.
			if chainErr == nil && lf.Chained() {
				switch {
				case lf.Index < i:
					chainErr = &audit.VerifyError{Index: i, Problem: audit.ProblemOrder, Msg: fmt.Sprintf("leaf carries index %d", lf.Index)}
				case lf.Index > i:
					chainErr = &audit.VerifyError{Index: i, Problem: audit.ProblemGap, Msg: fmt.Sprintf("leaf carries index %d", lf.Index)}
				case lf.Prev != prev:
					chainErr = &audit.VerifyError{Index: i, Problem: audit.ProblemChain, Msg: "previous hash differs"}
				}
			}
			prev = lf.Hash()
			hs, err := tlog.StoredHashes(int64(i), entries[k], hr)
			if err != nil {
				return audit.Checkpoint{}, &audit.VerifyError{Index: i, Problem: audit.ProblemContent, Msg: err.Error()}
			}
			hashes = append(hashes, hs...)
		}
	}
	// Every hash tile must match the tree recomputed from the leaves. A
	// leaf whose bytes changed shows here at its own index (level 0).
	for _, t := range tlog.NewTiles(8, 0, int64(n)) {
		wantData, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: %w", err)
		}
		firstEntry := func(k int) uint64 { return uint64(t.N*256+int64(k)) << (8 * uint(t.L)) }
		p := uint8(0)
		if t.W < 256 {
			p = uint8(t.W)
		}
		got, err := readPartialOrFull(fsys, func(p uint8) string { return layout.TilePath(uint64(t.L), uint64(t.N), p) }, p)
		if err != nil {
			return audit.Checkpoint{}, &audit.VerifyError{Index: firstEntry(0), Problem: audit.ProblemTruncated, Msg: fmt.Sprintf("tile %d/%d: %v", t.L, t.N, err)}
		}
		if len(got) < len(wantData) || (p == 0 && len(got) != len(wantData)) || len(got)%tlog.HashSize != 0 {
			return audit.Checkpoint{}, &audit.VerifyError{Index: firstEntry(min(len(got), len(wantData)) / tlog.HashSize), Problem: audit.ProblemContent, Msg: fmt.Sprintf("tile %d/%d has %d bytes", t.L, t.N, len(got))}
		}
		for k := 0; k < len(wantData); k += tlog.HashSize {
			if string(got[k:k+tlog.HashSize]) != string(wantData[k:k+tlog.HashSize]) {
				return audit.Checkpoint{}, &audit.VerifyError{Index: firstEntry(k / tlog.HashSize), Problem: audit.ProblemContent, Msg: fmt.Sprintf("hash %d of tile %d/%d differs from the entries", k/tlog.HashSize, t.L, t.N)}
			}
		}
	}
	if chainErr != nil {
		return audit.Checkpoint{}, chainErr
	}
	checks := []struct {
		cp   audit.Checkpoint
		what string
	}{{cp, "signed checkpoint"}}
	if len(opts.Witnesses) > 0 {
		checks = append(checks, struct {
			cp   audit.Checkpoint
			what string
		}{witnessed, "cosigned checkpoint"})
	}
	for _, c := range checks {
		root, err := tlog.TreeHash(int64(c.cp.Size), hr)
		if err != nil {
			return audit.Checkpoint{}, fmt.Errorf("tesseralog: verify: %w", err)
		}
		if root != c.cp.Root {
			return audit.Checkpoint{}, &audit.VerifyError{Index: max(c.cp.Size, 1) - 1, Problem: audit.ProblemInconsistent, Msg: "tree root differs from the " + c.what}
		}
	}
	return cp, nil
}

// readPartialOrFull reads the partial resource of width p, or the full one
// when p is 0 or the partial one was garbage-collected.
func readPartialOrFull(fsys fs.FS, path func(uint8) string, p uint8) ([]byte, error) {
	b, err := fs.ReadFile(fsys, path(p))
	if p > 0 && errors.Is(err, fs.ErrNotExist) {
		b, err = fs.ReadFile(fsys, path(0))
	}
	return b, err
}

// splitBundle splits an entry bundle (uint16 big-endian length, then the
// entry) into at most want leaves. It returns the position of the first
// entry whose length is not a leaf's (v1 or v2) or runs past the data, or -1.
func splitBundle(data []byte, want uint64) ([][]byte, int) {
	var out [][]byte
	for uint64(len(out)) < want && len(data) > 0 {
		if len(data) < 2 {
			return out, len(out)
		}
		n := int(data[0])<<8 | int(data[1])
		if (n != audit.LeafSize && n != audit.LeafSizeV2) || len(data) < 2+n {
			return out, len(out)
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, -1
}

// storedEntries counts the entries of the bundles in fsys: full bundles
// from the first, then the widest partial bundle after them.
func storedEntries(fsys fs.FS) uint64 {
	var bi uint64
	for ; ; bi++ {
		if _, err := fs.Stat(fsys, layout.EntriesPath(bi, 0)); err != nil {
			break
		}
	}
	n := bi * layout.EntryBundleWidth
	var widest uint64
	for w := uint64(layout.EntryBundleWidth - 1); w > 0; w-- {
		if _, err := fs.Stat(fsys, layout.EntriesPath(bi, uint8(w))); err == nil {
			widest = w
			break
		}
	}
	return n + widest
}

// bodyOf returns the text of a note before its signatures.
func bodyOf(signed []byte) string {
	for i := 0; i+1 < len(signed); i++ {
		if signed[i] == '\n' && signed[i+1] == '\n' {
			return string(signed[:i+1])
		}
	}
	return string(signed)
}

// Verify checks the log as an auditor would (VerifyTilesWith over
// TilesFS): the tiles against the signed checkpoint, and with
// opts.Witnesses the cosigned checkpoint against them (audit.ErrQuorum
// naming the missing witnesses). opts.Key nil means the log's own key.
func (l *Log) Verify(ctx context.Context, opts VerifyOptions) (audit.Checkpoint, error) {
	if opts.Key == nil {
		opts.Key = l.verifier
	}
	return VerifyTilesWith(ctx, l.TilesFS(ctx), opts)
}
