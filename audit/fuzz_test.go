package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// FuzzDecodeEvent: the decoder never panics, and whatever it accepts is
// canonical: re-encoding gives back the same bytes.
func FuzzDecodeEvent(f *testing.F) {
	for i := range 4 {
		e := audittest.Sample(i)
		sc := audit.SubjectCommitment([32]byte{byte(i)}, e.Subject)
		b, err := audit.EncodeEvent(&e, sc[:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		e.Subject, e.Attrs = "", nil
		b, _ = audit.EncodeEvent(&e, nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, sc, err := audit.DecodeEvent(b)
		if err != nil {
			return
		}
		if sc != nil {
			e.Subject = "x"
		}
		again, err := audit.EncodeEvent(&e, sc)
		if err != nil {
			if e.Kind.Valid() {
				t.Fatalf("decoded event does not re-encode: %v", err)
			}
			return
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("non-canonical encoding accepted:\n%x\n%x", b, again)
		}
	})
}

// FuzzParseReceipt: the receipt parser never panics, what it accepts is
// canonical (MarshalText gives back the input), and CheckReceipt accepts
// only the genuine receipt.
func FuzzParseReceipt(f *testing.F) {
	ctx := context.Background()
	l := audittest.NewLog("fuzz.example/log", func() time.Time { return time.Unix(1, 0) })
	for i := range 5 {
		l.Append(ctx, audittest.Sample(i))
	}
	var genuine [][]byte
	for i := range uint64(5) {
		r, err := l.Receipt(ctx, i)
		if err != nil {
			f.Fatal(err)
		}
		txt, _ := r.MarshalText()
		genuine = append(genuine, txt)
		f.Add(txt)
	}
	key := l.VerifierKey()
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := audit.ParseReceipt(b)
		if err == nil {
			again, _ := r.MarshalText()
			if !bytes.Equal(again, b) {
				t.Fatalf("non-canonical receipt accepted")
			}
		}
		en, _, err := audit.CheckReceipt(b, key)
		if err != nil {
			return
		}
		// An accepted receipt may only reveal less than a genuine one
		// (no subject, or no opening): same leaf, same event bytes.
		g, _ := audit.ParseReceipt(genuine[en.Index])
		if en.Leaf != g.Leaf {
			t.Fatalf("accepted a receipt with another leaf:\n%s", b)
		}
		if r.Opening != nil && !bytes.Equal(r.Opening.Payload, g.Opening.Payload) {
			t.Fatalf("accepted a receipt with another event:\n%s", b)
		}
	})
}

// FuzzParseCheckpoint: never panics; accepted bodies round-trip.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("origin.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := audit.ParseCheckpoint(s)
		if err == nil && c.String() != s {
			t.Fatalf("checkpoint %q re-encodes as %q", s, c.String())
		}
	})
}

// FuzzCosignatureVerifier: the cosignature/v1 key parser never panics,
// accepts only keys that re-encode to themselves, and its Verify never
// panics on any signature.
func FuzzCosignatureVerifier(f *testing.F) {
	w := audittest.NewWitness("w.example/w1")
	f.Add(w.VerifierKey(), []byte("msg\n"), make([]byte, 72))
	f.Add("w+00000000+BA==", []byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, vkey string, msg, sig []byte) {
		v, err := audit.NewCosignatureVerifier(vkey)
		if err != nil {
			return
		}
		v.Verify(msg, sig)
		if again, _ := audit.LoadVerifier(vkey); again == nil || again.KeyHash() != v.KeyHash() || again.Name() != v.Name() {
			t.Fatalf("LoadVerifier disagrees on %q", vkey)
		}
	})
}
