package tesseralog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// TestReopen: entries, openings and the chain survive Close and Open, and
// a second opener of the directory is refused.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := testOptions(t)
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
	if err != nil || last.Prev != prev.Hash() || last.Event.CallID != audittest.Sample(5).CallID {
		t.Fatalf("entry 5 after reopen: %v, chained %v", err, last.Prev == prev.Hash())
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
	for _, o := range []tesseralog.Options{{}, {Origin: "x"}, {Signer: testOptions(t).Signer}} {
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
