package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/consentrec/consentrec/internal/atomicfile"
)

// Layout of a data directory (mirrors consentrec.DataDir, which this
// package must not import: the root package may wire audit in).
const (
	auditSubdir = "audit"
	keysSubdir  = "keys"
	// SigningKeyFile is the log's Ed25519 private key (PKCS #8 PEM, mode
	// 0600) in the data directory's keys subdirectory.
	SigningKeyFile = "audit-signing.key"
)

// OpenDir opens the audit log of a consentrec data directory (its "audit"
// subdirectory), creating the log and its Ed25519 signing key on first
// use: the private key under keys/audit-signing.key, the public verifier
// key beside the log (audit/checkpoint.pub) so that `consentrec audit
// verify --data DIR` needs no flag. opts.Signer, if set, is used instead of
// the key file; opts.Origin defaults to a fresh "consentrec.local/audit/<random>";
// opts.Anchor defaults to DirAnchor(dataDir), the file keys/audit-anchor:
// the latest checkpoint's size and root kept outside the audit folder, so
// that an older copy of the audit folder restored over the current one is
// refused (ErrRollback) rather than signed over.
func OpenDir(ctx context.Context, dataDir string, opts Options) (*FileLog, error) {
	auditDir := filepath.Join(dataDir, auditSubdir)
	// An empty log file is one whose creator died before writing its
	// header: Open writes it, as for a new log, under the name of the
	// verifier key kept beside it if there is one.
	st, statErr := os.Stat(filepath.Join(auditDir, logFile))
	exists := statErr == nil && st.Size() > 0
	if _, err := os.Stat(filepath.Join(auditDir, pubKeyFile)); statErr == nil && err == nil {
		exists = true
	}
	if opts.Signer == nil {
		key, err := loadOrCreateKey(filepath.Join(dataDir, keysSubdir, SigningKeyFile), !exists)
		if err != nil {
			return nil, fmt.Errorf("audit: open %s: %w", dataDir, err)
		}
		opts.Signer = key
	}
	if opts.Anchor == nil {
		opts.Anchor = DirAnchor(dataDir)
	}
	if !exists && opts.Origin == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		opts.Origin = "consentrec.local/audit/" + hex.EncodeToString(b[:])
	}
	if err := os.MkdirAll(auditDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", dataDir, err)
	}
	if !exists {
		// Open syncs the audit folder once the log is in it; the folder's
		// own entry, possibly new, must be durable too.
		if err := syncDirPath(dataDir); err != nil {
			return nil, fmt.Errorf("audit: open %s: %w", dataDir, err)
		}
	}
	return Open(ctx, DirFS(auditDir), opts)
}

// LoadSigningKey reads the Ed25519 signing key (PKCS #8 PEM) at path, as
// OpenDir keeps it (keys/SigningKeyFile). With create, a missing key is
// created, whole or not at all, never over one created meanwhile (which
// is then read); without, a missing key is an error wrapping
// fs.ErrNotExist. Other backends signing the same log (audit/tesseralog
// nodes) read and create their key with it.
func LoadSigningKey(path string, create bool) (ed25519.PrivateKey, error) {
	return loadOrCreateKey(path, create)
}

// loadOrCreateKey reads an Ed25519 PKCS #8 PEM key, creating it if allowed.
func loadOrCreateKey(path string, create bool) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		// The key appears whole or not at all, never over another, and
		// survives a crash: a log signed by a lost key could never be
		// appended to again.
		err = atomicfile.CreateNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if errors.Is(err, fs.ErrExist) { // created concurrently, whole
			return loadOrCreateKey(path, false)
		}
		if err != nil {
			return nil, err
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return ParseSigningKey(b)
}

// syncDirPath makes the creations and renames in dir durable.
func syncDirPath(dir string) error { return dirFS(dir).SyncDir() }

// ParseSigningKey parses an Ed25519 private key in PKCS #8 PEM.
func ParseSigningKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("signing key: not a PEM PRIVATE KEY")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("signing key: not Ed25519")
	}
	return priv, nil
}

// LoadVerifier returns the verifier of a key given either as a signed-note
// verifier key ("name+hash+base64") or as the path of a file holding one.
//
// Both Ed25519 signed-note keys (type 0x01: the log's key, and witnesses
// that sign plain notes) and C2SP cosignature/v1 keys (type 0x04) are
// accepted.
func LoadVerifier(keyOrPath string) (note.Verifier, error) {
	if v, err := parseVerifier(strings.TrimSpace(keyOrPath)); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(keyOrPath)
	if err != nil {
		return nil, fmt.Errorf("audit: key %q: neither a verifier key nor a readable file: %w", keyOrPath, err)
	}
	v, err := parseVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("audit: key file %s: %w", keyOrPath, err)
	}
	return v, nil
}

func parseVerifier(s string) (note.Verifier, error) {
	v, err := note.NewVerifier(s)
	if err == nil {
		return v, nil
	}
	if cv, cerr := NewCosignatureVerifier(s); cerr == nil {
		return cv, nil
	}
	return nil, err
}

// VerifyDir verifies the audit log of a data directory (see VerifyFS); key
// nil uses the verifier key kept beside the log. It also checks the log
// against the data directory's anchor (DirAnchor), when there is one.
func VerifyDir(ctx context.Context, dataDir string, key note.Verifier, witnesses ...note.Verifier) (*Report, error) {
	auditDir := filepath.Join(dataDir, auditSubdir)
	if _, err := os.Stat(filepath.Join(auditDir, logFile)); err != nil {
		return nil, fmt.Errorf("audit: verify: no audit log in %s: %w", dataDir, err)
	}
	return Verify(ctx, DirFS(auditDir), VerifyOptions{Key: key, Witnesses: witnesses, Anchor: DirAnchor(dataDir)})
}
