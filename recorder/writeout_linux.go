package recorder

import (
	"os"

	"golang.org/x/sys/unix"
)

const writeBehindSupported = true

// writeBehind starts the write-out of n bytes of f from off without
// waiting for it (sync_file_range SYNC_FILE_RANGE_WRITE). A closed f is
// left alone: the call holds the descriptor against Close.
func writeBehind(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
