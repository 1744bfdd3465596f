package audittest

import (
	"context"
	"errors"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestWitness is the conformance suite of audit.Witness. newWitness
// returns a fresh witness that trusts the log key given, and the verifier
// of its own cosignatures. It checks tlog-witness semantics: the first
// checkpoint is accepted from size 0, a wrong old size is a
// *audit.WitnessConflictError carrying the size held, a checkpoint that is
// not proven to extend the one held is refused, an unknown log key is
// refused, and returned signatures verify with the witness's key.
func TestWitness(t *testing.T, newWitness func(t *testing.T, logKey note.Verifier) (audit.Witness, note.Verifier)) {
	ctx := context.Background()
	setup := func(t *testing.T) (*MemLog, audit.Witness, note.Verifier) {
		l := NewLog("witnessed.example/log", nil)
		w, wv := newWitness(t, l.VerifierKey())
		return l, w, wv
	}
	cosign := func(t *testing.T, w audit.Witness, wv note.Verifier, old uint64, proof tlog.TreeProof, cp []byte) error {
		t.Helper()
		sigs, err := w.AddCheckpoint(ctx, old, proof, cp)
		if err != nil {
			return err
		}
		signed, err := audit.Cosign(cp, sigs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(signed, note.VerifierList(wv)); err != nil {
			t.Fatalf("the witness's signature does not verify with its key: %v", err)
		}
		return nil
	}

	t.Run("ExtendsWithProofs", func(t *testing.T) {
		l, w, wv := setup(t)
		var old uint64
		for round := range 4 {
			for i := range round + 2 {
				l.Append(ctx, Sample(i))
			}
			cp, _ := l.Checkpoint(ctx)
			var proof tlog.TreeProof
			if old > 0 {
				proof, _ = l.ProveConsistency(ctx, old, l.Size())
			}
			if err := cosign(t, w, wv, old, proof, cp); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			old = l.Size()
		}
		// The same checkpoint again is accepted (idempotent).
		cp, _ := l.Checkpoint(ctx)
		if err := cosign(t, w, wv, old, nil, cp); err != nil {
			t.Fatalf("same checkpoint again: %v", err)
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		l, w, wv := setup(t)
		appendN(t, l, 0, 5)
		cp5, _ := l.Checkpoint(ctx)
		if err := cosign(t, w, wv, 0, nil, cp5); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 5, 9)
		cp9, _ := l.Checkpoint(ctx)
		var conflict *audit.WitnessConflictError
		if err := cosign(t, w, wv, 0, nil, cp9); !errors.As(err, &conflict) || conflict.Size != 5 {
			t.Fatalf("wrong old size: %v, want a conflict at 5", err)
		}
		proof, _ := l.ProveConsistency(ctx, 5, 9)
		if err := cosign(t, w, wv, 5, proof, cp9); err != nil {
			t.Fatalf("retry from the size held: %v", err)
		}
		if err := cosign(t, w, wv, 9, nil, cp5); err == nil {
			t.Fatal("the witness went back to an older checkpoint")
		}
	})

	t.Run("BadProofOrFork", func(t *testing.T) {
		l, w, wv := setup(t)
		appendN(t, l, 0, 6)
		cp6, _ := l.Checkpoint(ctx)
		if err := cosign(t, w, wv, 0, nil, cp6); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 6, 10)
		cp10, _ := l.Checkpoint(ctx)
		proof, _ := l.ProveConsistency(ctx, 6, 10)
		bad := append(tlog.TreeProof(nil), proof...)
		bad[0][0] ^= 1
		if err := cosign(t, w, wv, 6, bad, cp10); !errors.Is(err, audit.ErrBadProof) {
			t.Fatalf("corrupted proof: %v, want ErrBadProof", err)
		}
		if err := cosign(t, w, wv, 6, nil, cp10); !errors.Is(err, audit.ErrBadProof) {
			t.Fatalf("missing proof: %v, want ErrBadProof", err)
		}
	})

	t.Run("UnknownLog", func(t *testing.T) {
		_, w, wv := setup(t)
		other := NewLog("witnessed.example/log", nil)
		appendN(t, other, 0, 3)
		cp, _ := other.Checkpoint(ctx)
		if err := cosign(t, w, wv, 0, nil, cp); !errors.Is(err, audit.ErrSignature) {
			t.Fatalf("checkpoint of an unknown key: %v, want ErrSignature", err)
		}
	})
}
