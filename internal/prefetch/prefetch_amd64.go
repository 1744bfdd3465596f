package prefetch

// Line starts loading the cache line of addr into every cache level. An
// address that is not mapped is ignored (no fault).
//
//go:noescape
func Line(addr uintptr)

// Lines starts loading n consecutive cache lines from the one of addr.
//
//go:noescape
func Lines(addr uintptr, n int)
