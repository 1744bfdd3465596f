// Package atomicfile creates small files that must appear whole or not at
// all and survive a crash: keys and secrets.
package atomicfile

import (
	"os"
	"path/filepath"
)

// CreateNew writes data to path, which must not exist, with mode 0600 (the
// folder is made 0700 if missing). The data goes to a synced temporary file
// in the same folder, which is then linked into place, so a concurrent
// reader never sees it half-written, a crash never leaves it empty, and an
// existing file is never replaced: if path appeared meanwhile, CreateNew
// returns an error wrapping fs.ErrExist and the caller reads that one. The
// folder and its parent are synced so that the file survives a power cut.
func CreateNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	if err == nil { // the folder itself may be new
		err = SyncDir(filepath.Dir(dir))
	}
	return err
}

// SyncDir syncs a folder, so that the names created or renamed in it
// survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
