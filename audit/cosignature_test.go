package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"golang.org/x/mod/sumdb/note"
)

// witnessedDir returns a data directory whose log was cosigned by ws.
func witnessedDir(t *testing.T, ws ...*audittest.Witness) string {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	l, err := audit.OpenDir(ctx, data, audit.Options{Origin: "test.example/witnessed"})
	if err != nil {
		t.Fatal(err)
	}
	logKey := l.VerifierKey()
	l.Close()
	opts := audit.Options{}
	for _, w := range ws {
		w.AddLog(logKey)
		opts.Witnesses = append(opts.Witnesses, w)
	}
	if l, err = audit.OpenDir(ctx, data, opts); err != nil {
		t.Fatal(err)
	}
	appendSamples(t, l, 0, 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// Issue 18 item 7: Verify, VerifyFS and VerifyDir returned nil when a
// listed witness had not cosigned (only Report.Cosigned told). They now
// fail with ErrQuorum unless the quorum (all listed by default) cosigned.
func TestVerifyWitnessQuorum(t *testing.T) {
	ctx := context.Background()
	a := audittest.NewWitness("a.witness.example")
	b := audittest.NewWitness("b.witness.example")
	data := witnessedDir(t, a)
	fsys := audit.DirFS(filepath.Join(data, "audit"))

	if rep, err := audit.VerifyDir(ctx, data, nil, a.Verifier()); err != nil || rep.Cosigned != 1 {
		t.Fatalf("cosigned by the one witness listed: %+v, %v", rep, err)
	}
	if _, err := audit.VerifyDir(ctx, data, nil, a.Verifier(), b.Verifier()); !errors.Is(err, audit.ErrQuorum) || !strings.Contains(err.Error(), "b.witness.example") {
		t.Fatalf("VerifyDir with a witness that did not cosign = %v, want ErrQuorum naming it", err)
	}
	if _, err := audit.VerifyFS(ctx, fsys, nil, b.Verifier()); !errors.Is(err, audit.ErrQuorum) {
		t.Fatalf("VerifyFS = %v, want ErrQuorum", err)
	}
	if _, err := audit.Verify(ctx, fsys, audit.VerifyOptions{Witnesses: []note.Verifier{a.Verifier(), b.Verifier()}}); !errors.Is(err, audit.ErrQuorum) {
		t.Fatalf("Verify, quorum all = %v, want ErrQuorum", err)
	}
	rep, err := audit.Verify(ctx, fsys, audit.VerifyOptions{Witnesses: []note.Verifier{a.Verifier(), b.Verifier()}, Quorum: 1})
	if err != nil || rep.Cosigned != 1 || rep.Cosignatures[0].Name != "a.witness.example" {
		t.Fatalf("Verify, quorum 1 of 2 = %+v, %v", rep, err)
	}
	if _, err := audit.Verify(ctx, fsys, audit.VerifyOptions{Witnesses: []note.Verifier{a.Verifier()}, Quorum: 2}); !errors.Is(err, audit.ErrQuorum) {
		t.Fatalf("a quorum above the witnesses listed = %v, want ErrQuorum", err)
	}
}

// The cosignature is C2SP cosignature/v1: key ID over 0x04 || key, and an
// Ed25519 signature, after a big-endian timestamp, over "cosignature/v1",
// "time <ts>" and the checkpoint body; checked here by hand.
func TestCosignatureV1Format(t *testing.T) {
	w := audittest.NewWitness("w.example/w1")
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	w.Now = func() time.Time { return at }
	data := witnessedDir(t, w)
	signed, err := os.ReadFile(filepath.Join(data, "audit", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	body, sigs, _ := strings.Cut(string(signed), "\n\n")
	body += "\n"
	var line string
	for _, l := range strings.Split(sigs, "\n") {
		if strings.HasPrefix(l, "— w.example/w1 ") {
			line = strings.TrimPrefix(l, "— w.example/w1 ")
		}
	}
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("cosignature line %q: %d bytes, %v", line, len(raw), err)
	}
	vkey := w.VerifierKey()
	parts := strings.SplitN(vkey, "+", 3)
	key, _ := base64.StdEncoding.DecodeString(parts[2])
	if len(key) != 33 || key[0] != 0x04 {
		t.Fatalf("verifier key %q is not of type 0x04", vkey)
	}
	if got := fmt.Sprintf("%08x", binary.BigEndian.Uint32(raw)); got != parts[1] {
		t.Fatalf("key ID %s, want %s", got, parts[1])
	}
	ts := binary.BigEndian.Uint64(raw[4:])
	if ts != uint64(at.Unix()) {
		t.Fatalf("timestamp %d, want %d", ts, at.Unix())
	}
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)
	if !ed25519.Verify(ed25519.PublicKey(key[1:]), []byte(msg), raw[12:]) {
		t.Fatal("the signature does not cover cosignature/v1, the time and the checkpoint body")
	}
	v, err := audit.LoadVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyDir(context.Background(), data, nil, v)
	if err != nil || len(rep.Cosignatures) != 1 || !rep.Cosignatures[0].Time.Equal(at) {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// A signature over another time does not verify.
	binary.BigEndian.PutUint64(raw[4:], ts+1)
	forged := strings.Replace(string(signed), line, base64.StdEncoding.EncodeToString(raw), 1)
	os.WriteFile(filepath.Join(data, "audit", "checkpoint"), []byte(forged), 0o644)
	if _, err := audit.VerifyDir(context.Background(), data, nil, v); err == nil {
		t.Fatal("a cosignature with an altered timestamp verified")
	}
}

// Witnesses that sign plain Ed25519 notes (the older form) still count.
func TestPlainWitnessStillRead(t *testing.T) {
	w := audittest.NewPlainWitness("plain.example")
	data := witnessedDir(t, w)
	v, err := audit.LoadVerifier(w.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyDir(context.Background(), data, nil, v)
	if err != nil || rep.Cosigned != 1 || !rep.Cosignatures[0].Time.IsZero() {
		t.Fatalf("plain witness: %+v, %v", rep, err)
	}
}

func TestCosignatureVerifierKeyMalformed(t *testing.T) {
	w := audittest.NewWitness("w.example")
	good := w.VerifierKey()
	for _, k := range []string{"", "w.example", good + "x", strings.Replace(good, "w.example+", "x.example+", 1),
		strings.Replace(good, "+", "+0", 1)} {
		if _, err := audit.NewCosignatureVerifier(k); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) accepted", k)
		}
	}
}
