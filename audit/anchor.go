package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Anchor keeps the latest signed checkpoint's size and root somewhere the
// log's own directory does not control (another folder, the catalog
// database, a remote service). Whoever can rewrite the log's directory
// alone, deleting its last entries and restoring an older checkpoint
// beside them (a consistent rollback that the log's own files cannot
// expose), is caught: Open and Verify compare the log against the anchor
// and fail with ErrRollback when the log is behind it.
//
// Load returns the latest checkpoint stored, or an error wrapping
// ErrNotFound when none was. Store records c, which extends whatever was
// stored before, durably before returning. A log calls Store from one
// goroutine at a time, after each checkpoint it signs; Load may be called
// concurrently with it. ctx bounds the I/O.
type Anchor interface {
	Load(ctx context.Context) (Checkpoint, error)
	Store(ctx context.Context, c Checkpoint) error
}

// AnchorFile is the name of the default anchor of a data directory: in
// its keys folder, beside the signing key and outside the audit folder.
const AnchorFile = "audit-anchor"

// DirAnchor returns the default anchor of a consentrec data directory:
// the file keys/audit-anchor (see OpenDir).
func DirAnchor(dataDir string) *FileAnchor {
	return &FileAnchor{Path: filepath.Join(dataDir, keysSubdir, AnchorFile)}
}

// FileAnchor is an Anchor kept in one file, replaced atomically (temp
// file, sync, rename, folder sync). Put it where whoever administers the
// log's directory cannot write.
type FileAnchor struct {
	Path string
}

var _ Anchor = (*FileAnchor)(nil)

const anchorMagic = "consentrec audit anchor v1\n"

// Load implements Anchor. A file that does not parse is an error wrapping
// ErrMalformed (never taken for a missing anchor).
func (a *FileAnchor) Load(ctx context.Context) (Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, err
	}
	b, err := os.ReadFile(a.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("audit: anchor %s: %w", a.Path, ErrNotFound)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: anchor: %w", err)
	}
	body, ok := bytes.CutPrefix(b, []byte(anchorMagic))
	if !ok {
		return Checkpoint{}, fmt.Errorf("audit: anchor %s: %w", a.Path, ErrMalformed)
	}
	c, err := ParseCheckpoint(string(body))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: anchor %s: %w", a.Path, err)
	}
	return c, nil
}

// Store implements Anchor.
func (a *FileAnchor) Store(ctx context.Context, c Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, name := filepath.Split(a.Path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	if err := writeFileAtomic(dirFS(dir), name, []byte(anchorMagic+c.String()), 0o600); err != nil {
		return fmt.Errorf("audit: anchor: %w", err)
	}
	return nil
}

// loadAnchor loads the anchor's checkpoint for origin: zero Size if none.
func loadAnchor(ctx context.Context, a Anchor, origin string) (Checkpoint, error) {
	if a == nil {
		return Checkpoint{}, nil
	}
	c, err := a.Load(ctx)
	if errors.Is(err, ErrNotFound) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, fmt.Errorf("audit: the anchor holds a checkpoint of %q, not of this log (%q)", c.Origin, origin)
	}
	return c, nil
}

// checkAnchor compares a scanned log with the anchor's checkpoint.
func (st *scanState) checkAnchor(anc Checkpoint) error {
	if anc.Size == 0 {
		return nil
	}
	if st.n < anc.Size {
		return &VerifyError{Index: st.n, Offset: st.end, Problem: ProblemTruncated,
			Msg: fmt.Sprintf("log ends at %d entries; the anchor kept outside the log's directory records a signed checkpoint of %d (rolled back)", st.n, anc.Size)}
	}
	if st.rootAt[anc.Size] != anc.Root {
		return &VerifyError{Index: anc.Size - 1, Offset: st.lastOff[anc.Size], Problem: ProblemInconsistent,
			Msg: fmt.Sprintf("tree root of the first %d entries differs from the anchor's (history rewritten)", anc.Size)}
	}
	return nil
}
