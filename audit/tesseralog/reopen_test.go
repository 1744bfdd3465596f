package tesseralog_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// TestReopen: entries, openings and (v1) the chain survive Close and Open,
// a log keeps the leaf format it was created with, and a second opener of
// the directory is refused.
func TestReopen(t *testing.T) {
	t.Run("v1", func(t *testing.T) { reopen(t, audit.LeafV1) })
	t.Run("v2", func(t *testing.T) { reopen(t, 0) })
}

func reopen(t *testing.T, version int) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := testOptions(t)
	opts.LeafVersion = version
	l := openPOSIX(t, dir, opts)
	for i := range 5 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tesseralog.OpenPOSIX(ctx, dir, opts); !errors.Is(err, tesseralog.ErrLocked) {
		t.Fatalf("second open = %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The log keeps its format: asking for the other one is refused, and
	// the default (0) reopens it as it is.
	other := audit.LeafV1
	if version == audit.LeafV1 {
		other = audit.LeafV2
	}
	if _, err := tesseralog.OpenPOSIX(ctx, dir, tesseralog.Options{Signer: opts.Signer, Origin: opts.Origin, LeafVersion: other}); !errors.Is(err, tesseralog.ErrOptions) {
		t.Fatalf("reopen with leaf version %d = %v, want ErrOptions", other, err)
	}
	opts.LeafVersion = 0
	l = openPOSIX(t, dir, opts)
	defer l.Close()
	if l.Size() != 5 {
		t.Fatalf("reopened size %d, want 5", l.Size())
	}
	i, err := l.Append(ctx, audittest.Sample(5))
	if err != nil || i != 5 {
		t.Fatalf("append after reopen = %d, %v", i, err)
	}
	prev, _ := l.Entry(ctx, 4)
	last, err := l.Entry(ctx, 5)
	if err != nil || last.Event.CallID != audittest.Sample(5).CallID || last.Index != 5 {
		t.Fatalf("entry 5 after reopen: %v", err)
	}
	wantV := cmp.Or(version, audit.LeafV2)
	if prev.Version != wantV || last.Version != wantV {
		t.Fatalf("leaf versions %d, %d after reopen, want %d", prev.Version, last.Version, wantV)
	}
	if chained := last.Prev == prev.Hash(); chained != (wantV == audit.LeafV1) {
		t.Fatalf("entry 5 after reopen: chained %v, leaf version %d", chained, wantV)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if cp, err := tesseralog.VerifyTiles(ctx, l.TilesFS(ctx), l.VerifierKey()); err != nil || cp.Size != 6 {
		t.Fatalf("VerifyTiles over TilesFS = size %d, %v; want 6", cp.Size, err)
	}
	first, err := l.Entry(ctx, 0)
	if err != nil || first.Event.Subject != audittest.Sample(0).Subject {
		t.Fatalf("opening of entry 0 lost: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tesseralog.VerifyTiles(ctx, os.DirFS(filepath.Join(dir, "tlog")), l.VerifierKey()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenOptions(t *testing.T) {
	for _, o := range []tesseralog.Options{{}, {Origin: "x"}, {Signer: testOptions(t).Signer},
		{Signer: testOptions(t).Signer, Origin: "x", LeafVersion: 3}} {
		if _, err := tesseralog.OpenPOSIX(context.Background(), t.TempDir(), o); !errors.Is(err, tesseralog.ErrOptions) {
			t.Errorf("OpenPOSIX(%+v) = %v, want ErrOptions", o, err)
		}
	}
	l := openPOSIX(t, t.TempDir(), testOptions(t))
	l.Close()
	if _, err := l.Entry(context.Background(), 0); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Entry after Close = %v", err)
	}
}

// TestReopenPlacesOpenings: a crash after Tessera sequenced v2 leaves but
// before their openings' indexes were written leaves those openings
// unplaced; Open finds their leaves by commitment and places them (Shred
// then lists them), and deletes an opening no leaf has (a crash before
// Tessera's commit).
func TestReopenPlacesOpenings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := testOptions(t)
	l := openPOSIX(t, dir, opts)
	for i := range 9 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "openings.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var placed int
	if err := db.QueryRow(`SELECT count(*) FROM consentrec_openings2 WHERE idx IS NOT NULL`).Scan(&placed); err != nil || placed != 9 {
		t.Fatalf("%d openings placed after Close (%v), want 9", placed, err)
	}
	// As after a crash: entries 3.. unplaced, and an orphan opening.
	if _, err := db.Exec(`UPDATE consentrec_openings2 SET idx = NULL, min_idx = 2 WHERE idx >= 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO consentrec_openings2 (commitment, idx, min_idx, time, kind, salt, payload) VALUES (?, NULL, 9, 0, 11, ?, ?)`,
		make([]byte, 32), make([]byte, 32), []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l = openPOSIX(t, dir, opts)
	defer l.Close()
	// Subjects cycle over i%3: entries 1, 4, 7.
	if n, err := l.Shred(ctx, audittest.Sample(4).Subject); err != nil || n != 3 {
		t.Fatalf("Shred after reopen = %d, %v; want 3", n, err)
	}
	for i := range uint64(9) {
		en, err := l.Entry(ctx, i)
		if err != nil || en.Event.CallID != audittest.Sample(int(i)).CallID || en.Shredded != (i%3 == 1) {
			t.Fatalf("entry %d after reopen: %+v, %v", i, en.Event, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db, _ = sql.Open("sqlite", filepath.Join(dir, "openings.db"))
	defer db.Close()
	var orphans, all int
	if err := db.QueryRow(`SELECT count(*) FROM consentrec_openings2 WHERE idx IS NULL`).Scan(&orphans); err != nil || orphans != 0 {
		t.Fatalf("%d unplaced openings after reopen and close (%v), want 0", orphans, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM consentrec_openings2`).Scan(&all); err != nil || all != 10 {
		t.Fatalf("%d openings (%v), want 10 (9 entries and the shred event)", all, err)
	}
}
