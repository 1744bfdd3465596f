//go:build !amd64

package prefetch

// Line does nothing on this architecture.
func Line(addr uintptr) {}

// Lines does nothing on this architecture.
func Lines(addr uintptr, n int) {}
