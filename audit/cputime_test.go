package audit_test

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time: on this shared
// machine, benchmarks report work per CPU-second beside wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
