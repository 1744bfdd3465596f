package audit

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash of its first Size entries.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
}

// String returns the checkpoint body: "origin\nsize\nbase64(root)\n".
func (c Checkpoint) String() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" +
		base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"
}

// ParseCheckpoint parses a checkpoint body. Extension lines are refused.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w: want 3 lines", ErrMalformed)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sz := strings.TrimSuffix(lines[1], "\n")
	root := strings.TrimSuffix(lines[2], "\n")
	n, err := strconv.ParseUint(sz, 10, 63)
	if err != nil || !validOrigin(origin) || strconv.FormatUint(n, 10) != sz {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", ErrMalformed)
	}
	h, err := decodeBase64(root)
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: root: %w", ErrMalformed)
	}
	c := Checkpoint{Origin: origin, Size: n}
	copy(c.Root[:], h)
	return c, nil
}

// decodeBase64 decodes standard, padded base64 in its one canonical form.
// The decoders skip '\r' and '\n' anywhere, and Strict only refuses
// non-zero padding bits: a value that does not re-encode to itself is
// refused, so that a checkpoint or receipt has one byte form.
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err == nil && base64.StdEncoding.EncodeToString(b) != s {
		err = errors.New("base64: not in canonical form")
	}
	return b, err
}

// ErrSignature: a signed checkpoint, receipt or note whose signature does
// not verify with the expected key, or that has none.
var ErrSignature = errors.New("audit: bad or missing signature")

// OpenCheckpoint verifies a signed checkpoint note with the log's key and
// returns its body and the parsed note (whose Sigs and UnverifiedSigs list
// witness cosignatures). The note must carry a valid signature by logKey
// under the name of the checkpoint's origin.
func OpenCheckpoint(signed []byte, logKey note.Verifier, others ...note.Verifier) (Checkpoint, *note.Note, error) {
	if logKey == nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: no log key: %w", ErrSignature)
	}
	n, err := note.Open(signed, note.VerifierList(append([]note.Verifier{logKey}, others...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w: %v", ErrSignature, err)
	}
	// note accepts base64 with non-zero padding bits: refuse such
	// malleable encodings, so that a checkpoint has one byte form.
	for _, s := range append(append([]note.Signature(nil), n.Sigs...), n.UnverifiedSigs...) {
		if _, err := decodeBase64(s.Base64); err != nil {
			return Checkpoint{}, nil, fmt.Errorf("checkpoint: non-canonical signature encoding: %w", ErrSignature)
		}
	}
	signedByLog := false
	for _, s := range n.Sigs {
		if s.Name == logKey.Name() && s.Hash == logKey.KeyHash() {
			signedByLog = true
		}
	}
	if !signedByLog {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: not signed by %s: %w", logKey.Name(), ErrSignature)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != logKey.Name() {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: origin %q is not the key's name %q: %w", c.Origin, logKey.Name(), ErrSignature)
	}
	return c, n, nil
}

// NoteSigner adapts a crypto.Signer holding an Ed25519 key (in memory, a
// KMS or an HSM) to a note.Signer named name. Sign calls s.Sign with
// crypto.Hash(0), as Ed25519 requires; it may be called concurrently if s
// may.
func NoteSigner(name string, s crypto.Signer) (note.Signer, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("audit: signer: not an Ed25519 key")
	}
	if !validOrigin(name) {
		return nil, fmt.Errorf("audit: signer: invalid name %q", name)
	}
	return &edSigner{name: name, hash: keyHash(name, pub), s: s}, nil
}

type edSigner struct {
	name string
	hash uint32
	s    crypto.Signer
}

func (e *edSigner) Name() string    { return e.name }
func (e *edSigner) KeyHash() uint32 { return e.hash }
func (e *edSigner) Sign(msg []byte) ([]byte, error) {
	return e.s.Sign(nil, msg, crypto.Hash(0))
}

// keyHash is the signed-note key id: SHA-256(name || "\n" || 0x01 || pub)[:4].
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// VerifierKey returns the signed-note verifier key string of an Ed25519
// public key ("name+hash+base64"), the form kept beside the log and given
// to `consentrec audit verify --key` and `audit check --key`.
func VerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	return note.NewEd25519VerifierKey(name, pub)
}

// SignCheckpoint signs c with s (the log's signer, see NoteSigner).
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.String()}, s)
}
