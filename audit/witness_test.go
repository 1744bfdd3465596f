package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func logVerifier(t *testing.T, origin string) note.Verifier {
	vkey, err := audit.VerifierKey(origin, testKey(t).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func copyDir(t *testing.T, from, to string) {
	os.MkdirAll(to, 0o700)
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(from, e.Name()))
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
	}
}

// TestWitnessDetectsRollback: a witness cosigns every checkpoint; after
// the log's directory is restored from an older copy (undetectable by the
// log alone: the old copy verifies), the witness refuses the next
// checkpoint, and a verifier requiring the witness's cosignature on a
// checkpoint as recent as the witness's sees the rollback.
func TestWitnessDetectsRollback(t *testing.T) {
	ctx := context.Background()
	const origin = "test.example/witnessed"
	w := audittest.NewWitness("witness.example", logVerifier(t, origin))
	dir := t.TempDir()
	open := func() *audit.FileLog {
		l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKey(t), Origin: origin, Witnesses: []audit.Witness{w}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	for i := range 5 {
		l.Append(ctx, audittest.Sample(i))
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)

	l = open()
	for i := 5; i < 12; i++ {
		l.Append(ctx, audittest.Sample(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil, w.Verifier())
	if err != nil || rep.Cosigned != 1 || rep.Checkpoint.Size != 12 {
		t.Fatalf("witnessed log: %+v, %v", rep, err)
	}
	if c, _ := w.Latest(origin); c.Size != 12 {
		t.Fatalf("witness holds size %d", c.Size)
	}
	cp12, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
	os.WriteFile(filepath.Join(backup, "..", "saved-checkpoint"), cp12, 0o644)

	// Roll the directory back to the 5-entry copy.
	os.RemoveAll(dir)
	copyDir(t, backup, dir)
	rep, err = audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.Entries != 5 {
		t.Fatalf("the old copy should verify on its own (this is what a witness is for): %+v %v", rep, err)
	}
	// An auditor who kept the 12-entry checkpoint sees the rollback too.
	saved, _ := os.ReadFile(filepath.Join(backup, "..", "saved-checkpoint"))
	_, err = audit.Verify(ctx, audit.DirFS(dir), audit.VerifyOptions{Known: [][]byte{saved}})
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || ve.Problem != audit.ProblemTruncated || !errors.Is(err, audit.ErrRollback) {
		t.Fatalf("verify against the auditor's checkpoint: %v", err)
	}
	// A rewritten history of the same length, signed with the same key.
	forged := t.TempDir()
	fl, err := audit.Open(ctx, audit.DirFS(forged), audit.Options{Signer: testKey(t), Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		fl.Append(ctx, audittest.Sample(i+1000))
	}
	fl.Close()
	if _, err := audit.VerifyFS(ctx, audit.DirFS(forged), nil); err != nil {
		t.Fatalf("the forged log verifies on its own: %v", err)
	}
	_, err = audit.Verify(ctx, audit.DirFS(forged), audit.VerifyOptions{Known: [][]byte{saved}})
	if !errors.As(err, &ve) || ve.Problem != audit.ProblemInconsistent || ve.Index != 11 {
		t.Fatalf("verify of a rewritten history against the auditor's checkpoint: %v", err)
	}

	l = open()
	l.Append(ctx, audittest.Sample(99))
	_, err = l.Checkpoint(ctx)
	var conflict *audit.WitnessConflictError
	if !errors.As(err, &conflict) || conflict.Size != 12 {
		t.Fatalf("witness after rollback: %v, want a conflict at size 12", err)
	}
	l.Close()
}

// TestCheckpointInterval: with fake time, an append is signed by a
// checkpoint one interval later, without Close or Checkpoint.
func TestCheckpointInterval(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKey(t), Origin: "test.example/interval",
			CheckpointInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		l.Append(ctx, audittest.Sample(1))
		l.Append(ctx, audittest.Sample(2))
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if _, n := l.LastCheckpoint(); n != 0 {
			t.Fatalf("signed %d entries before the interval", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, n := l.LastCheckpoint(); n != 2 {
			t.Fatalf("after the interval the checkpoint covers %d entries, want 2", n)
		}
	})
}

// TestWitnessSetAndCheckWitnesses: a WitnessSet cosigns successive
// checkpoints of a log (proving consistency from the size each witness
// holds); CheckWitnesses counts the listed witnesses and names the
// missing ones under ErrQuorum.
func TestWitnessSetAndCheckWitnesses(t *testing.T) {
	ctx := context.Background()
	l := audittest.NewLog("example.com/witnessset", nil)
	a := audittest.NewWitness("witness.example/a", l.VerifierKey())
	b := audittest.NewWitness("witness.example/b", l.VerifierKey())
	off := audittest.NewWitness("witness.example/offline", l.VerifierKey())
	down := audit.WitnessFunc(func(context.Context, uint64, tlog.TreeProof, []byte) ([]note.Signature, error) {
		return nil, errors.New("unreachable")
	})
	set := audit.NewWitnessSet([]audit.Witness{a, b, down}, 0)
	var signed []byte
	for round := range 3 {
		for i := range 4 {
			if _, err := l.Append(ctx, audittest.Sample(round*4+i)); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := l.Size()
		signed, err = set.Cosign(ctx, cp, n, func(ctx context.Context, old uint64) (tlog.TreeProof, error) {
			return l.ProveConsistency(ctx, old, n)
		})
		if err == nil || !strings.Contains(err.Error(), "witness 2: unreachable") {
			t.Fatalf("round %d: Cosign error %v, want witness 2's failure", round, err)
		}
		if got, ok := a.Latest("example.com/witnessset"); !ok || got.Size != n {
			t.Fatalf("round %d: witness a holds %d, want %d", round, got.Size, n)
		}
	}
	ws := []note.Verifier{a.Verifier(), b.Verifier(), off.Verifier()}
	cp, got, err := audit.CheckWitnesses(signed, l.VerifierKey(), ws, 2)
	if err != nil || len(got) != 2 || cp.Size != 12 || got[0].Time.IsZero() {
		t.Fatalf("quorum 2 of 3: %v, %d cosignatures, size %d", err, len(got), cp.Size)
	}
	_, _, err = audit.CheckWitnesses(signed, l.VerifierKey(), ws, 0)
	if !errors.Is(err, audit.ErrQuorum) || !strings.Contains(err.Error(), "missing: witness.example/offline") {
		t.Fatalf("all 3 required: %v, want ErrQuorum naming witness.example/offline", err)
	}
	if _, _, err := audit.CheckWitnesses(signed, off.Verifier(), nil, 0); !errors.Is(err, audit.ErrSignature) {
		t.Fatalf("under a witness's key as the log's: %v, want ErrSignature", err)
	}
}
