package audittest

import (
	"errors"
	"io/fs"
	"sync"

	"github.com/consentrec/consentrec/audit"
)

// ErrInjected is the error FaultFS returns for an injected fault.
var ErrInjected = errors.New("audittest: injected fault")

// FaultFS wraps an audit.FS and injects faults, to test crash safety:
// after FailAfterBytes bytes were written through it, the write that
// crosses the limit writes only the bytes up to it (a torn write) and
// fails, as do all later writes and syncs, as if the machine stopped.
// FailSync makes every Sync fail (the data may or may not have reached
// the disk: here it did). The zero limits inject nothing.
type FaultFS struct {
	audit.FS
	mu             sync.Mutex
	FailAfterBytes int64 // 0: never
	FailSync       bool
	written        int64
	dead           bool
}

// FailAfter arms the fault n bytes after what was written so far; safe
// to call concurrently.
func (f *FaultFS) FailAfter(n int64) {
	f.mu.Lock()
	f.FailAfterBytes = f.written + n
	f.mu.Unlock()
}

// FailSyncNow makes every later Sync fail; safe to call concurrently.
func (f *FaultFS) FailSyncNow() {
	f.mu.Lock()
	f.FailSync = true
	f.mu.Unlock()
}

// Dead reports whether a fault was injected.
func (f *FaultFS) Dead() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead
}

// OpenFile implements audit.FS.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (audit.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// Rename implements audit.FS.
func (f *FaultFS) Rename(oldname, newname string) error {
	if f.Dead() {
		return ErrInjected
	}
	return f.FS.Rename(oldname, newname)
}

// SyncDir implements audit.FS.
func (f *FaultFS) SyncDir() error {
	if f.Dead() {
		return ErrInjected
	}
	return f.FS.SyncDir()
}

type faultFile struct {
	audit.File
	fs *FaultFS
}

func (w *faultFile) Write(p []byte) (int, error) {
	f := w.fs
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return 0, ErrInjected
	}
	n := len(p)
	if f.FailAfterBytes > 0 && f.written+int64(n) > f.FailAfterBytes {
		n = int(f.FailAfterBytes - f.written)
		f.dead = true
	}
	f.written += int64(n)
	dead := f.dead
	f.mu.Unlock()
	m, err := w.File.Write(p[:n])
	if err == nil && dead {
		err = ErrInjected
	}
	return m, err
}

func (w *faultFile) Sync() error {
	f := w.fs
	f.mu.Lock()
	fail := f.dead || f.FailSync
	if f.FailSync {
		f.dead = true
	}
	f.mu.Unlock()
	if fail {
		return ErrInjected
	}
	return w.File.Sync()
}
