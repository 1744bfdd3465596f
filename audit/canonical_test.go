package audit_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// Go's base64 decoders skip '\r' and '\n' anywhere in their input, even in
// Strict mode: a receipt or checkpoint with a carriage return inserted in a
// base64 value was accepted, so they had more than one byte form although
// ParseReceipt and OpenCheckpoint promise to refuse non-canonical base64
// (found by FuzzParseReceipt).
func TestBase64WithLineBreaksRefused(t *testing.T) {
	ctx := context.Background()
	l := audittest.NewLog("canonical.example/log", nil)
	for i := range 3 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.Receipt(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := r.MarshalText()
	insertCR := func(b []byte, after string) []byte {
		i := bytes.Index(b, []byte(after))
		if i < 0 {
			t.Fatalf("%q not found", after)
		}
		i += len(after) + 4
		return append(append(bytes.Clone(b[:i]), '\r'), b[i:]...)
	}
	if _, err := audit.ParseReceipt(insertCR(txt, "\nleaf ")); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("receipt with a CR in its leaf: %v, want ErrMalformed", err)
	}
	if _, _, err := audit.CheckReceipt(insertCR(txt, "\nproof "), l.VerifierKey()); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("receipt with a CR in a proof hash: %v, want ErrMalformed", err)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.OpenCheckpoint(cp, l.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	sig := bytes.LastIndex(cp, []byte("\n\u2014 "))
	crSig := insertCR(cp[:len(cp):len(cp)], string(cp[sig:sig+len("\n\u2014 ")+len("canonical.example/log ")]))
	if _, _, err := audit.OpenCheckpoint(crSig, l.VerifierKey()); !errors.Is(err, audit.ErrSignature) {
		t.Errorf("checkpoint with a CR in its signature: %v, want ErrSignature", err)
	}
	body := string(cp[:bytes.Index(cp, []byte("\n\n"))+1])
	lines := strings.SplitAfter(body, "\n")
	lines[2] = lines[2][:4] + "\r" + lines[2][4:]
	if _, err := audit.ParseCheckpoint(strings.Join(lines, "")); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("checkpoint body with a CR in its root: %v, want ErrMalformed", err)
	}
}

// DecodeEvent returned events of 2262 (any int64 nanosecond time) that
// EncodeEvent refused (it stopped at 2261): decoded events must re-encode,
// and the encodable range is exactly the int64 one (found by
// FuzzDecodeEvent).
func TestEventTimeRangeIsInt64Nanoseconds(t *testing.T) {
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{time.Unix(0, math.MaxInt64).UTC(), true},
		{time.Unix(0, math.MinInt64).UTC(), true},
		{time.Unix(0, math.MaxInt64).UTC().Add(time.Nanosecond), false},
		{time.Unix(0, math.MinInt64).UTC().Add(-time.Nanosecond), false},
	} {
		e := audit.Event{Kind: audit.KindAccess, Time: c.at, Actor: "a"}
		b, err := audit.EncodeEvent(&e, nil)
		if (err == nil) != c.ok {
			t.Errorf("EncodeEvent at %v: %v, want ok %v", c.at, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		d, _, err := audit.DecodeEvent(b)
		if err != nil || !d.Time.Equal(c.at) {
			t.Errorf("DecodeEvent at %v: %v, %v", c.at, d.Time, err)
		}
	}
}
