package audittest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Witness is an in-memory audit.Witness following tlog-witness: it keeps,
// per log origin, the latest checkpoint it cosigned, refuses an old size
// it does not hold (*audit.WitnessConflictError), refuses a checkpoint not
// proven consistent with it (audit.ErrBadProof), and cosigns with its own
// Ed25519 key: C2SP cosignature/v1 signatures, timestamped by Now (see
// NewWitness), or plain note signatures (NewPlainWitness, the older form).
// Its state lives in memory only: a real witness persists it before
// answering.
type Witness struct {
	mu       sync.Mutex
	logs     note.Verifiers
	known    []note.Verifier
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	state    map[string]audit.Checkpoint
	// Calls counts AddCheckpoint calls.
	Calls int
	// Now is the witness's clock for cosignature timestamps (time.Now
	// when nil). Set it before the first AddCheckpoint.
	Now func() time.Time
}

var _ audit.Witness = (*Witness)(nil)

// NewWitness returns a witness named name that accepts checkpoints of the
// logs whose verifier keys are given, and cosigns them with timestamped
// cosignature/v1 signatures.
func NewWitness(name string, logs ...note.Verifier) *Witness {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	w := &Witness{logs: note.VerifierList(logs...), known: logs, state: map[string]audit.Checkpoint{}}
	s, err := audit.NewCosigner(name, priv, func() time.Time {
		if w.Now != nil {
			return w.Now()
		}
		return time.Now()
	})
	if err != nil {
		panic(err)
	}
	vkey, err := audit.CosignatureVerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err)
	}
	v, err := audit.NewCosignatureVerifier(vkey)
	if err != nil {
		panic(err)
	}
	w.signer, w.verifier, w.vkey = s, v, vkey
	return w
}

// NewPlainWitness is NewWitness with plain Ed25519 note signatures (no
// timestamp), the form witnesses used before cosignature/v1.
func NewPlainWitness(name string, logs ...note.Verifier) *Witness {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s, err := audit.NoteSigner(name, priv)
	if err != nil {
		panic(err)
	}
	vkey, _ := audit.VerifierKey(name, priv.Public().(ed25519.PublicKey))
	v, _ := note.NewVerifier(vkey)
	return &Witness{logs: note.VerifierList(logs...), known: logs, signer: s, verifier: v, vkey: vkey, state: map[string]audit.Checkpoint{}}
}

// AddLog makes the witness accept checkpoints of one more log.
func (w *Witness) AddLog(logKey note.Verifier) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.known = append(w.known, logKey)
	w.logs = note.VerifierList(w.known...)
}

// VerifierKey returns the witness's verifier key string, as given to
// `consentrec audit verify --witness`.
func (w *Witness) VerifierKey() string { return w.vkey }

// Verifier returns the verifier of the witness's cosignatures.
func (w *Witness) Verifier() note.Verifier { return w.verifier }

// Latest returns the checkpoint the witness holds for origin.
func (w *Witness) Latest(origin string) (audit.Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.state[origin]
	return c, ok
}

// AddCheckpoint implements audit.Witness.
func (w *Witness) AddCheckpoint(ctx context.Context, oldSize uint64, proof tlog.TreeProof, signed []byte) ([]note.Signature, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	logs := w.logs
	w.mu.Unlock()
	n, err := note.Open(signed, logs)
	if err != nil {
		return nil, fmt.Errorf("audittest: witness: %w: %v", audit.ErrSignature, err)
	}
	c, err := audit.ParseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.Calls++
	have := w.state[c.Origin]
	if oldSize != have.Size {
		return nil, &audit.WitnessConflictError{Size: have.Size}
	}
	switch {
	case c.Size < have.Size:
		return nil, &audit.WitnessConflictError{Size: have.Size}
	case have.Size > 0 && c.Size == have.Size:
		if c.Root != have.Root {
			return nil, fmt.Errorf("audittest: witness: same size, other root: %w", audit.ErrBadProof)
		}
	case have.Size > 0:
		if err := tlog.CheckTree(proof, int64(c.Size), c.Root, int64(have.Size), have.Root); err != nil {
			return nil, fmt.Errorf("audittest: witness: %w: %v", audit.ErrBadProof, err)
		}
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, err
	}
	mine, err := note.Open(cosigned, note.VerifierList(w.verifier))
	if err != nil {
		return nil, err
	}
	w.state[c.Origin] = c
	return mine.Sigs, nil
}
