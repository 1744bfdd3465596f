package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness is a second party that countersigns the log's checkpoints
// (tlog-witness semantics): it keeps the latest checkpoint it cosigned for
// the log, and cosigns a new one only if a consistency proof shows that the
// new one extends it. A witness held by someone other than the log's
// operator is what makes rollback and forks detectable.
//
// AddCheckpoint may be called concurrently for different logs. oldSize is
// the size of the checkpoint the caller believes the witness holds (0 for
// none), proof proves signed extends it. The witness verifies the log's
// signature and the proof, persists the new checkpoint before returning,
// and returns its signature(s) over the checkpoint text, to be added to
// the note: C2SP cosignature/v1 signatures (sign with NewCosigner), or
// plain Ed25519 note signatures. It returns a *WitnessConflictError when it holds another size
// (retry from that size), ErrBadProof for a proof that does not verify,
// ErrSignature for a checkpoint not signed by the log it knows.
//
// What a log without a witness cannot prove: whoever holds the log's
// directory and signing key can truncate the log, rewrite any entry and
// re-sign a fresh, self-consistent history; whoever holds only the
// directory can restore an older log with its older checkpoint. Both stay
// undetected unless someone else kept a later checkpoint (a witness, an
// auditor's saved receipt, a copy sent off-site): consistency proofs
// against that checkpoint then expose the rewrite.
type Witness interface {
	AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]note.Signature, error)
}

// WitnessFunc adapts a function to a Witness.
type WitnessFunc func(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]note.Signature, error)

// AddCheckpoint calls f.
func (f WitnessFunc) AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]note.Signature, error) {
	return f(ctx, oldSize, proof, signed)
}

// ErrBadProof: a consistency or inclusion proof that does not verify.
var ErrBadProof = errors.New("audit: bad proof")

// WitnessConflictError: the witness holds a checkpoint of another size.
type WitnessConflictError struct{ Size uint64 }

func (e *WitnessConflictError) Error() string {
	return fmt.Sprintf("audit: witness holds a checkpoint of size %d", e.Size)
}

// Cosign adds a witness's signatures to a signed checkpoint note.
func Cosign(signed []byte, sigs []note.Signature) ([]byte, error) {
	n, err := parseUnverified(signed)
	if err != nil {
		return nil, err
	}
	n.Sigs = append(n.Sigs, sigs...)
	return note.Sign(n)
}

// parseUnverified splits a signed note into text and signatures without
// checking them.
func parseUnverified(signed []byte) (*note.Note, error) {
	_, err := note.Open(signed, note.VerifierList())
	var une *note.UnverifiedNoteError
	if !errors.As(err, &une) {
		return nil, fmt.Errorf("audit: note: %w", ErrMalformed)
	}
	n := une.Note
	n.Sigs, n.UnverifiedSigs = n.UnverifiedSigs, nil
	return n, nil
}

// WitnessSet asks a list of witnesses to cosign the successive checkpoints
// of one log: the file log's Options.Witnesses, and any other backend's
// (audit/tesseralog). It remembers the size of the checkpoint each witness
// last cosigned, proves the new checkpoint consistent with it, and retries
// once from the size a witness says it holds (*WitnessConflictError). Not
// safe for concurrent use: one goroutine signs a log's checkpoints.
type WitnessSet struct {
	witnesses []Witness
	timeout   time.Duration
	old       []uint64
}

// NewWitnessSet returns a set of the witnesses ws, each call bounded by
// timeout (5 s when zero or negative).
func NewWitnessSet(ws []Witness, timeout time.Duration) *WitnessSet {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &WitnessSet{witnesses: ws, timeout: timeout, old: make([]uint64, len(ws))}
}

// Len returns the number of witnesses.
func (s *WitnessSet) Len() int { return len(s.witnesses) }

// Cosign asks every witness to cosign signed, the log's signed checkpoint
// of size n; prove(ctx, oldSize) returns the proof that the tree of size
// n extends the tree of oldSize (0 < oldSize < n). It returns the
// checkpoint with every cosignature obtained, and the failures of the
// other witnesses joined ("audit: witness <i>: ..."), or nil: the
// checkpoint is returned even then, signed by the log.
func (s *WitnessSet) Cosign(ctx context.Context, signed []byte, n uint64, prove func(ctx context.Context, oldSize uint64) (tlog.TreeProof, error)) ([]byte, error) {
	var errs error
	for i, w := range s.witnesses {
		sigs, err := s.witness(ctx, i, w, signed, n, prove)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("audit: witness %d: %w", i, err))
			continue
		}
		if withSigs, err := Cosign(signed, sigs); err == nil {
			signed = withSigs
		}
	}
	return signed, errs
}

func (s *WitnessSet) witness(ctx context.Context, i int, w Witness, signed []byte, n uint64, prove func(context.Context, uint64) (tlog.TreeProof, error)) ([]note.Signature, error) {
	for attempt := 0; ; attempt++ {
		old := s.old[i]
		var proof tlog.TreeProof
		if old > 0 && old < n {
			var err error
			if proof, err = prove(ctx, old); err != nil {
				return nil, err
			}
		}
		wctx, cancel := context.WithTimeout(ctx, s.timeout)
		sigs, err := w.AddCheckpoint(wctx, old, proof, signed)
		cancel()
		var conflict *WitnessConflictError
		if errors.As(err, &conflict) && attempt == 0 && conflict.Size <= n {
			s.old[i] = conflict.Size
			continue
		}
		if err == nil {
			s.old[i] = n
		}
		return sigs, err
	}
}

// CheckWitnesses opens a signed checkpoint with the log's key and returns
// it with the cosignatures of the witnesses listed that verify on it.
// Unless quorum of them (all when quorum is 0) cosigned, the error wraps
// ErrQuorum and names the missing witnesses; a checkpoint the log did not
// sign is ErrSignature. With no witnesses listed, only the log's
// signature is checked.
func CheckWitnesses(signed []byte, logKey note.Verifier, witnesses []note.Verifier, quorum int) (Checkpoint, []Cosignature, error) {
	cp, n, err := OpenCheckpoint(signed, logKey, witnesses...)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	got := cosignatures(n, witnesses)
	if err := checkQuorum(got, witnesses, quorum); err != nil {
		return cp, got, fmt.Errorf("checkpoint of size %d: %w", cp.Size, err)
	}
	return cp, got, nil
}
