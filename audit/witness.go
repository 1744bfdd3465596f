package audit

import (
	"context"
	"errors"
	"fmt"

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
