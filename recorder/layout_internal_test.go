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

// Every packet reads a session's next, settled and active: they lie in
// its first line, which Leg.Prefetch loads.
func TestSessionHotLine(t *testing.T) {
	var s session
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("laid out for 64-bit platforms")
	}
	for name, end := range map[string]uintptr{
		"next":    unsafe.Offsetof(s.next) + unsafe.Sizeof(s.next),
		"settled": unsafe.Offsetof(s.settled) + unsafe.Sizeof(s.settled),
		"active":  unsafe.Offsetof(s.active) + unsafe.Sizeof(s.active),
	} {
		if end > 64 {
			t.Errorf("session.%s ends at byte %d, past the first line", name, end)
		}
	}
}
