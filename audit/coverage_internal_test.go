package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"testing"
	"time"
)

// Whoever can write the log's directory, but holds no key, can append
// records after the signed checkpoint (the chain is public). A prune event
// forged there must not cover a payload stripped by hand: only a prune
// event inside the signed checkpoint does.
func TestForgedUnsignedPruneEventCoversNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	l, err := Open(ctx, DirFS(dir), Options{Signer: key, Origin: "test.example/forge"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := l.Append(ctx, Event{Kind: KindConsentGiven, Time: time.Unix(int64(100+i), 0), CallID: "c", Actor: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := readFile(DirFS(dir), logFile)
	if err != nil {
		t.Fatal(err)
	}
	// Re-frame every record, entry 1 without its payload.
	rr := &recordReader{r: bufioReader(b)}
	hdr := fileHeader("test.example/forge")
	if _, _, err := readHeader(rr.r); err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), hdr...)
	var last Leaf
	for i := range 4 {
		rec, _, err := rr.next()
		if err != nil {
			t.Fatal(err)
		}
		o := rec.open
		if i == 1 {
			o = nil
		} else {
			c := *o
			c.Payload = append([]byte(nil), o.Payload...)
			o = &c
		}
		out = appendRecord(out, append([]byte(nil), rec.leafRaw...), o, true)
		last = rec.leaf
	}
	// Then a prune event covering it, chained correctly, never signed.
	e := PruneEvent(PruneOptions{Before: time.Unix(1000, 0), Actor: "mallory"}, 4, 1)
	e.Time = time.Unix(200, 0).UTC()
	o, err := Seal(&e, func(p []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	leaf := Leaf{Index: 4, Prev: last.Hash(), Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}
	raw, _ := leaf.MarshalBinary()
	out = appendRecord(out, raw, o, true)
	f, err := DirFS(dir).OpenFile(logFile, os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(out)
	f.Close()

	_, err = VerifyFS(ctx, DirFS(dir), nil)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Problem != ProblemStripped || ve.Index != 1 {
		t.Fatalf("verify with a forged, unsigned prune event = %v, want entry 1 stripped", err)
	}
	if _, err := Open(ctx, DirFS(dir), Options{Signer: key}); !errors.As(err, &ve) || ve.Index != 1 {
		t.Fatalf("open = %v, want entry 1 stripped", err)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
