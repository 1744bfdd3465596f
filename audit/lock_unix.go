//go:build unix

package audit

import "syscall"

// Lock takes an exclusive advisory lock (flock) on the file, released when
// it is closed, so that two processes never append to one log.
func (f osFile) Lock() error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
