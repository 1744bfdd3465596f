package tesseralog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/transparency-dev/tessera"
)

// TestIndexMismatchStops: when Tessera sequences an entry elsewhere than
// the index its leaf carries (another writer, a reordered queue), the
// append fails and the log stops instead of chaining more leaves.
func TestIndexMismatchStops(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	l, err := OpenPOSIX(context.Background(), t.TempDir(), Options{Signer: priv, Origin: "example.com/mismatch", LeafVersion: audit.LeafV1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Append(ctx, audittest.Sample(0)); err != nil {
		t.Fatal(err)
	}
	add := l.add
	l.add = func(ctx context.Context, e *tessera.Entry) tessera.IndexFuture {
		f := add(ctx, e)
		return func() (tessera.Index, error) {
			idx, err := f()
			idx.Index++ // as if another writer got there first
			return idx, err
		}
	}
	if _, err := l.Append(ctx, audittest.Sample(1)); !errors.Is(err, ErrIndexMismatch) {
		t.Fatalf("Append with a shifted index = %v, want ErrIndexMismatch", err)
	}
	if _, err := l.Append(ctx, audittest.Sample(2)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Append after a mismatch = %v, want ErrClosed", err)
	}
	if l.Size() != 1 {
		t.Fatalf("size %d after a mismatch, want 1 (the bad entry is not acknowledged)", l.Size())
	}
}
