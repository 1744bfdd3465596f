package prefetch

import (
	"testing"
	"unsafe"
)

// Prefetching never faults, whatever the address (unmapped, nil, kernel
// space), and never writes: the memory prefetched is unchanged.
func TestPrefetchNeverFaults(t *testing.T) {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i)
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	Line(p)
	Lines(p, len(b)/64)
	Lines(p, 0)
	Lines(p, -1)
	for _, a := range []uintptr{0, 1, 0xdead0000, ^uintptr(0) &^ 63} {
		Line(a)
		Lines(a, 4)
	}
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
}

func BenchmarkLines(b *testing.B) {
	buf := make([]byte, 1<<20)
	p := uintptr(unsafe.Pointer(&buf[0]))
	for i := 0; b.Loop(); i++ {
		Lines(p+uintptr(i*512%len(buf)), 8)
	}
}
