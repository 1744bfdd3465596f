package audit

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Witness cosignatures follow C2SP tlog-cosignature, cosignature/v1
// (Ed25519): a note signature line by the witness whose signature is a
// timestamped_signature, u64 big-endian POSIX time || Ed25519 signature,
// over
//
//	cosignature/v1
//	time <timestamp>
//	<the checkpoint body>
//
// Its key ID is SHA-256(name || "\n" || 0x04 || public key)[:4], and its
// verifier key is "name+keyID+base64(0x04 || public key)". Plain Ed25519
// note signatures by a witness (type 0x01, the form used before) are still
// read: give their verifier key instead.
const (
	cosigAlg    = 0x04
	cosigHeader = "cosignature/v1\ntime "
	cosigSize   = 8 + ed25519.SignatureSize
)

// ErrQuorum: fewer of the listed witnesses cosigned a checkpoint than the
// quorum requires.
var ErrQuorum = errors.New("audit: witness quorum not met")

// Cosignature is a witness cosignature found valid on a checkpoint.
type Cosignature struct {
	Name    string
	KeyHash uint32
	// Time is when the witness cosigned (cosignature/v1); zero for a
	// plain note signature, which carries none.
	Time time.Time
}

func cosigKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{cosigAlg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// CosignatureVerifierKey returns the cosignature/v1 verifier key of a
// witness's Ed25519 public key: "name+keyID+base64(0x04 || key)".
func CosignatureVerifierKey(name string, pub ed25519.PublicKey) (string, error) {
	if !validOrigin(name) || len(pub) != ed25519.PublicKeySize {
		return "", errors.New("audit: cosignature key: invalid name or key")
	}
	return fmt.Sprintf("%s+%08x+%s", name, cosigKeyHash(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{cosigAlg}, pub...))), nil
}

// NewCosignatureVerifier parses a cosignature/v1 verifier key (type
// 0x04). Its Verify checks a timestamped_signature over a checkpoint body.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validOrigin(name) || len(hash) != 8 {
		return nil, fmt.Errorf("audit: cosignature key: %w", ErrMalformed)
	}
	h, err1 := strconv.ParseUint(hash, 16, 32)
	key, err2 := decodeBase64(b64)
	if err1 != nil || err2 != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != cosigAlg {
		return nil, fmt.Errorf("audit: cosignature key: %w", ErrMalformed)
	}
	pub := ed25519.PublicKey(key[1:])
	if uint32(h) != cosigKeyHash(name, pub) {
		return nil, fmt.Errorf("audit: cosignature key: key ID does not match: %w", ErrMalformed)
	}
	return &cosigVerifier{name: name, hash: uint32(h), pub: pub}, nil
}

type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosigSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > math.MaxInt64 {
		return false
	}
	m := make([]byte, 0, len(cosigHeader)+24+len(msg))
	m = append(m, cosigHeader...)
	m = strconv.AppendUint(m, ts, 10)
	m = append(m, '\n')
	m = append(m, msg...)
	return ed25519.Verify(v.pub, m, sig[8:])
}

// NewCosigner returns a note.Signer that makes cosignature/v1 signatures
// with s (an Ed25519 key: in memory, a KMS, an HSM), timestamped by now
// (time.Now if nil). A witness signs checkpoint notes with it.
func NewCosigner(name string, s crypto.Signer, now func() time.Time) (note.Signer, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("audit: cosigner: not an Ed25519 key")
	}
	if !validOrigin(name) {
		return nil, fmt.Errorf("audit: cosigner: invalid name %q", name)
	}
	if now == nil {
		now = time.Now
	}
	return &cosigner{name: name, hash: cosigKeyHash(name, pub), s: s, now: now}, nil
}

type cosigner struct {
	name string
	hash uint32
	s    crypto.Signer
	now  func() time.Time
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	ts := c.now().Unix()
	if ts < 0 {
		return nil, errors.New("audit: cosigner: time before 1970")
	}
	m := append(strconv.AppendInt([]byte(cosigHeader), ts, 10), '\n')
	m = append(m, msg...)
	sig, err := c.s.Sign(nil, m, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, cosigSize), uint64(ts)), sig...), nil
}

// cosignatures lists the distinct witnesses among ws whose signatures on
// n verified (n opened with them), with their times.
func cosignatures(n *note.Note, ws []note.Verifier) []Cosignature {
	var out []Cosignature
	seen := map[string]bool{}
	for _, s := range n.Sigs {
		for _, w := range ws {
			if s.Name != w.Name() || s.Hash != w.KeyHash() {
				continue
			}
			id := s.Name + "+" + strconv.FormatUint(uint64(s.Hash), 16)
			if seen[id] {
				continue
			}
			seen[id] = true
			c := Cosignature{Name: s.Name, KeyHash: s.Hash}
			if _, ok := w.(*cosigVerifier); ok {
				if b, err := base64.StdEncoding.DecodeString(s.Base64); err == nil && len(b) == 4+cosigSize {
					c.Time = time.Unix(int64(binary.BigEndian.Uint64(b[4:])), 0).UTC()
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// checkQuorum returns an error wrapping ErrQuorum unless at least quorum
// of the witnesses ws (all of them when quorum <= 0) cosigned; a quorum
// larger than the list is an error too.
func checkQuorum(got []Cosignature, ws []note.Verifier, quorum int) error {
	if len(ws) == 0 {
		return nil
	}
	if quorum > len(ws) {
		return fmt.Errorf("a quorum of %d among %d witnesses can never be met: %w", quorum, len(ws), ErrQuorum)
	}
	if quorum <= 0 {
		quorum = len(ws)
	}
	if len(got) >= quorum {
		return nil
	}
	var missing []string
	for _, w := range ws {
		found := false
		for _, c := range got {
			found = found || (c.Name == w.Name() && c.KeyHash == w.KeyHash())
		}
		if !found {
			missing = append(missing, w.Name())
		}
	}
	return fmt.Errorf("checkpoint cosigned by %d of the %d witnesses listed, quorum %d (missing: %s): %w",
		len(got), len(ws), quorum, strings.Join(missing, ", "), ErrQuorum)
}
