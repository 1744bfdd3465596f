package audit

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time (see the external
// test package's twin).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
