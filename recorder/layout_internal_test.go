package recorder

import (
	"testing"
	"unsafe"
)

// The per-packet fields of a Recorder fit in one cache line, and its size
// is a multiple of 64 bytes (a size class whose objects the allocator
// places on line boundaries): the reader prefetches one line of it per
// packet (Leg.Prefetch).
func TestRecorderHotLine(t *testing.T) {
	var r Recorder
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("laid out for 64-bit platforms")
	}
	if end := unsafe.Offsetof(r.sess) + unsafe.Sizeof(r.sess); end > 64 {
		t.Errorf("hot fields end at byte %d, past the first line", end)
	}
	if n := unsafe.Sizeof(r); n%64 != 0 {
		t.Errorf("Recorder is %d bytes: set recorderPad to %d", n, recorderPad+(64-n%64)%64)
	}
}
