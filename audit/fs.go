package audit

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the file layer the file log writes through: a flat directory. The
// real one is [DirFS]; tests inject faults through their own (see
// audittest.FaultFS). Names are plain file names, never paths.
//
// Implementations must be safe for concurrent use by one log: the log
// serialises writes itself, but reads (Entry, proofs) run concurrently.
type FS interface {
	// OpenFile opens name with os.OpenFile semantics (flag, perm).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename atomically replaces newname by oldname.
	Rename(oldname, newname string) error
	// Remove removes name; a missing name is not an error.
	Remove(name string) error
	// SyncDir makes renames and creations in the directory durable.
	SyncDir() error
}

// File is an open file of an FS.
type File interface {
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync commits the file's content to stable storage.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Seek sets the offset of the next Write (io.SeekStart, io.SeekEnd).
	Seek(offset int64, whence int) (int64, error)
}

// Locker is an optional interface of File: Lock takes an exclusive lock
// held until Close, failing at once if another process holds it. Open
// locks the log file when its File implements it (DirFS does on Unix).
type Locker interface {
	Lock() error
}

// DirFS returns the FS of the operating system directory dir, creating it
// (and its parents, mode 0700) on first use.
func DirFS(dir string) FS { return dirFS(dir) }

type dirFS string

var _ FS = dirFS("")

func (d dirFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		if err := os.MkdirAll(string(d), 0o700); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(filepath.Join(string(d), name), flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (d dirFS) Rename(oldname, newname string) error {
	return os.Rename(filepath.Join(string(d), oldname), filepath.Join(string(d), newname))
}

func (d dirFS) Remove(name string) error {
	err := os.Remove(filepath.Join(string(d), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (d dirFS) SyncDir() error {
	f, err := os.Open(string(d))
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// readFile reads a whole file of fsys; a missing file returns fs.ErrNotExist.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	if n > 16<<20 {
		return nil, errors.New("file too large")
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// writeFileAtomic replaces name with data: temp file, sync, rename,
// directory sync. A crash leaves either the old or the new content.
func writeFileAtomic(fsys FS, name string, data []byte, perm fs.FileMode) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	return fsys.SyncDir()
}
