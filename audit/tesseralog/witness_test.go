package tesseralog_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"golang.org/x/mod/sumdb/note"
)

func TestPOSIXWitnesses(t *testing.T) {
	dir := t.TempDir()
	testWitnesses(t, func(t *testing.T, o tesseralog.Options) *tesseralog.Log { return openPOSIX(t, dir, o) },
		func(*tesseralog.Log) fs.FS { return os.DirFS(filepath.Join(dir, "tlog")) })
}

// testWitnesses: a log (open) whose checkpoints the test witnesses a and b
// cosign, while c, listed by the auditor, never sees them. view returns
// the log's tiles after Close.
func testWitnesses(t *testing.T, open func(t *testing.T, o tesseralog.Options) *tesseralog.Log, view func(*tesseralog.Log) fs.FS) {
	ctx := context.Background()
	o := testOptions(t)
	key := logKey(t, o)
	a := audittest.NewWitness("witness.example/a", key)
	b := audittest.NewWitness("witness.example/b", key)
	c := audittest.NewWitness("witness.example/c", key)
	o.Witnesses = []audit.Witness{a, b}
	l := open(t, o)
	for i := range 5 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws := []note.Verifier{a.Verifier(), b.Verifier(), c.Verifier()}
	cp, got, err := audit.CheckWitnesses(signed, key, ws[:2], 0)
	if err != nil || cp.Size != 5 || len(got) != 2 || got[0].Time.IsZero() {
		t.Fatalf("Checkpoint: size %d, %d cosignatures, %v; want 5 cosigned by a and b", cp.Size, len(got), err)
	}
	// Receipts carry the cosigned checkpoint.
	r, err := l.Receipt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := r.MarshalText()
	if _, _, err := audit.CheckReceipt(txt, key, a.Verifier(), b.Verifier()); err != nil {
		t.Fatalf("receipt with witnesses a, b: %v", err)
	}
	// The log's own verify.
	if _, err := l.Verify(ctx, tesseralog.VerifyOptions{Witnesses: ws[:2]}); err != nil {
		t.Fatalf("Verify with a, b: %v", err)
	}
	if _, err := l.Verify(ctx, tesseralog.VerifyOptions{Witnesses: ws}); !errors.Is(err, audit.ErrQuorum) || !strings.Contains(err.Error(), "missing: witness.example/c") {
		t.Fatalf("Verify with a, b, c: %v, want ErrQuorum naming witness.example/c", err)
	}
	// More entries: the witnesses follow through consistency proofs (the
	// test witness refuses any other).
	for i := 5; i < 300; i++ {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*audittest.Witness{a, b} {
		if held, ok := w.Latest(o.Origin); !ok || held.Size != 300 {
			t.Fatalf("%s holds size %d, want 300", w.Verifier().Name(), held.Size)
		}
	}
	fsys := view(l)
	for _, q := range []struct {
		quorum  int
		ws      []note.Verifier
		missing string
	}{
		{2, ws, ""},
		{0, ws[:2], ""},
		{0, ws, "witness.example/c"},
		{3, ws, "witness.example/c"},
		{1, ws[2:], "witness.example/c"},
	} {
		cp, err := tesseralog.VerifyTilesWith(ctx, fsys, tesseralog.VerifyOptions{Key: key, Witnesses: q.ws, Quorum: q.quorum})
		if q.missing == "" {
			if err != nil || cp.Size != 300 {
				t.Fatalf("quorum %d of %d: size %d, %v", q.quorum, len(q.ws), cp.Size, err)
			}
			continue
		}
		if !errors.Is(err, audit.ErrQuorum) || !strings.Contains(err.Error(), q.missing) {
			t.Fatalf("quorum %d of %d: %v, want ErrQuorum naming %s", q.quorum, len(q.ws), err, q.missing)
		}
	}
}

// logKey returns the verifier of the log o opens.
func logKey(t *testing.T, o tesseralog.Options) note.Verifier {
	t.Helper()
	pub := o.Signer.Public().(ed25519.PublicKey)
	vk, err := audit.VerifierKey(o.Origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWitnessFailures: a witness that fails does not stop the log:
// Checkpoint returns the checkpoint with the others' cosignatures and the
// failure beside it; an auditor requiring that witness gets ErrQuorum
// naming it; a changed byte of the cosigned checkpoint is a signature
// error; without a cosigned checkpoint, every listed witness is missing.
func TestWitnessFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := testOptions(t)
	key := logKey(t, o)
	a := audittest.NewWitness("witness.example/a", key)
	stranger := audittest.NewWitness("witness.example/stranger") // knows no log: refuses
	o.Witnesses = []audit.Witness{a, stranger}
	l := openPOSIX(t, dir, o)
	if _, err := l.Append(ctx, audittest.Sample(0)); err != nil {
		t.Fatal(err)
	}
	signed, err := l.Checkpoint(ctx)
	if signed == nil || err == nil || !strings.Contains(err.Error(), "witness 1") {
		t.Fatalf("Checkpoint with a refusing witness = %v; want the checkpoint and witness 1's error", err)
	}
	if _, _, err := audit.CheckWitnesses(signed, key, []note.Verifier{a.Verifier()}, 0); err != nil {
		t.Fatalf("the other witness's cosignature: %v", err)
	}
	if _, err := l.Append(ctx, audittest.Sample(1)); err != nil {
		t.Fatalf("append after a witness failure: %v", err)
	}
	l.Close()
	fsys := os.DirFS(filepath.Join(dir, "tlog"))
	both := []note.Verifier{a.Verifier(), stranger.Verifier()}
	if _, err := tesseralog.VerifyTilesWith(ctx, fsys, tesseralog.VerifyOptions{Key: key, Witnesses: both}); !errors.Is(err, audit.ErrQuorum) || !strings.Contains(err.Error(), "witness.example/stranger") {
		t.Fatalf("requiring the refusing witness: %v", err)
	}
	if _, err := tesseralog.VerifyTilesWith(ctx, fsys, tesseralog.VerifyOptions{Key: key, Witnesses: both, Quorum: 1}); err != nil {
		t.Fatalf("quorum 1: %v", err)
	}
	path := filepath.Join(dir, "tlog", tesseralog.CosignedPath)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := range raw {
		bad := []byte(string(raw))
		bad[off] ^= 1
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tesseralog.VerifyTilesWith(ctx, fsys, tesseralog.VerifyOptions{Key: key, Witnesses: both, Quorum: 1})
		var ve *audit.VerifyError
		if err == nil || (!errors.As(err, &ve) && !errors.Is(err, audit.ErrQuorum)) {
			t.Fatalf("cosigned checkpoint byte %d flipped: %v", off, err)
		}
	}
	os.Remove(path)
	if _, err := tesseralog.VerifyTilesWith(ctx, fsys, tesseralog.VerifyOptions{Key: key, Witnesses: both, Quorum: 1}); !errors.Is(err, audit.ErrQuorum) ||
		!strings.Contains(err.Error(), "witness.example/a, witness.example/stranger") {
		t.Fatalf("no cosigned checkpoint: %v", err)
	}
	// Without witnesses listed, the tiles alone still verify.
	if _, err := tesseralog.VerifyTiles(ctx, fsys, key); err != nil {
		t.Fatal(err)
	}
}

// TestWitnessedRollback: the tiles of an older state (the log's
// checkpoint and bundles rolled back) under a later cosigned checkpoint
// are truncation: the witnessed history must still be there.
func TestWitnessedRollback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := testOptions(t)
	key := logKey(t, o)
	a := audittest.NewWitness("witness.example/a", key)
	o.Witnesses = []audit.Witness{a}
	l := openPOSIX(t, dir, o)
	var old fstest.MapFS
	for i := range 300 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			old = loadDir(t, filepath.Join(dir, "tlog")) // 3 entries, signed and cosigned
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	final := loadDir(t, filepath.Join(dir, "tlog"))
	ws := []note.Verifier{a.Verifier()}
	if _, err := tesseralog.VerifyTilesWith(ctx, final, tesseralog.VerifyOptions{Key: key, Witnesses: ws}); err != nil {
		t.Fatal(err)
	}
	// Roll back to a state of 3 entries, keeping the final cosigned
	// checkpoint (300): the bundles past 3 are gone.
	rolled := fstest.MapFS{}
	for p, f := range final {
		if p == tesseralog.CosignedPath || !strings.HasPrefix(p, "tile/") {
			rolled[p] = f
		}
	}
	for p, f := range old {
		if p == "checkpoint" || strings.HasPrefix(p, "tile/") {
			rolled[p] = f
		}
	}
	cp, err := tesseralog.VerifyTiles(ctx, rolled, key)
	if err != nil || cp.Size != 3 {
		t.Fatalf("the rolled-back tiles alone: size %d, %v; want 3 entries that verify", cp.Size, err)
	}
	if _, err := tesseralog.VerifyTilesWith(ctx, rolled, tesseralog.VerifyOptions{Key: key, Witnesses: ws}); !errors.Is(err, audit.ErrRollback) {
		t.Fatalf("tiles of size %d under a cosigned checkpoint of 300: %v, want ErrRollback", cp.Size, err)
	}
}

// loadDir reads every file under root into a MapFS.
func loadDir(t testing.TB, root string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
