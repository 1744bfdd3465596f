// Package atomicfile creates and replaces small files that must appear
// whole or not at all and survive a crash: keys, secrets, checkpoints.
package atomicfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
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
	tmp, err := writeTemp(path, data)
	defer os.Remove(tmp)
	if err == nil {
		err = os.Link(tmp, path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	if err == nil { // the folder itself may be new
		err = SyncDir(filepath.Dir(dir))
	}
	return err
}

// Replace writes data to path, replacing the file there if any, with mode
// 0600: a synced temporary file in the same folder is renamed over it and
// the folder synced, so a reader sees the old file or the new one, whole,
// and the new one survives a crash once Replace returns.
func Replace(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	defer os.Remove(tmp) // after a failure; renamed away otherwise
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = SyncDir(filepath.Dir(path))
	}
	return err
}

// writeTemp writes data to a new temporary file (mode 0600) beside path
// and syncs it. It returns the file's name ("" if none was made), which
// the caller removes or moves into place.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
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

// Secret returns the secret kept at path (at least 16 bytes), creating a
// random 32-byte one with CreateNew when there is none and create is true.
// A secret created concurrently by another caller is read back, so every
// caller gets the same bytes. Without create, a missing file is an error
// wrapping fs.ErrNotExist; a shorter file is an error.
func Secret(path string, create bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) >= 16:
		return b, nil
	case err == nil:
		return nil, fmt.Errorf("%s: shorter than 16 bytes", path)
	case !errors.Is(err, fs.ErrNotExist) || !create:
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := CreateNew(path, b); errors.Is(err, fs.ErrExist) {
		return Secret(path, false) // created concurrently, whole
	} else if err != nil {
		return nil, err
	}
	return b, nil
}
