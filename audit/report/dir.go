package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/retention"
)

// auditSubdir is where a data directory keeps its audit log (mirrors
// consentrec.AuditSubdir, which this package must not import).
const auditSubdir = "audit"

// DirSource is the Source of a consentrec data directory: its audit log,
// verified on disk with the key kept beside it (audit.Verify) and then read
// without being opened for writing (audit.ReadFS), so that a report can be
// made while the service runs; and cat, the directory's catalog opened by
// the caller (nil: none). A log holding entries but no signed checkpoint
// does not verify: its truncation could not be ruled out.
func DirSource(dataDir string, cat retention.Catalog) Source {
	dir := filepath.Join(dataDir, auditSubdir)
	fsys := audit.DirFS(dir)
	return Source{
		Catalog: cat,
		Verify: func(ctx context.Context) (*audit.Report, error) {
			if _, err := os.Stat(filepath.Join(dir, "log")); err != nil {
				return nil, fmt.Errorf("no audit log in %s: %w", dataDir, err)
			}
			rep, err := audit.Verify(ctx, fsys, audit.VerifyOptions{})
			if err == nil && rep.Checkpoint.Size == 0 && rep.Entries > 0 {
				err = fmt.Errorf("%d entries but no signed checkpoint: truncation cannot be ruled out", rep.Entries)
			}
			return rep, err
		},
		Entries: func(ctx context.Context, fn func(audit.Entry) error) error {
			return audit.ReadFS(ctx, fsys, 0, fn)
		},
	}
}

// SaveHTML writes the HTML report to a new file at path, mode 0600 (the
// report names calls and people). It never replaces an existing file: a
// report is evidence, and so may be whatever is there; it returns an error
// wrapping fs.ErrExist instead. A failed write removes the partial file.
func (r *Report) SaveHTML(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("report: save html: %w", err)
	}
	err = r.WriteHTML(f)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("report: save html: %w", err), os.Remove(path))
	}
	return nil
}
