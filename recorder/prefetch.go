package recorder

import (
	"unsafe"

	"github.com/consentrec/consentrec/internal/prefetch"
)

// Prefetch is for readers that hand batches of packets to thousands of
// legs (recorder/rtpudp): before writing a batch, such a reader calls it
// for the leg of every packet of the batch with stage 0, then with stage
// 1, and so on while it returns true. Each call starts loading into the
// processor's caches, without waiting for it, memory that writing the
// leg's next packet will touch, reading only what earlier stages loaded:
// the cache misses of the batch's legs then overlap instead of following
// one another (at 10,000 legs, each packet touches some twenty lines that
// no cache holds any more; BenchmarkDispatchRecorder10k in recorder/rtpudp:
// a third less CPU per packet).
//
// It changes nothing a recording holds and may be called at any time, from
// any goroutine; a leg that is not recording has nothing to prefetch.
func (l *Leg) Prefetch(stage int) bool {
	if l == nil {
		return false
	}
	switch stage {
	case 0:
		// The leg's own hot lines (its fields up to its timeline's base
		// ring) and its recorder's hot line (TestRecorderHotLine): addresses only, l
		// and l.r never change.
		p := uintptr(unsafe.Pointer(l))
		prefetch.Lines(p, int(uintptr(unsafe.Pointer(&l.tl.base))-p+63)/64)
		prefetch.Line(uintptr(unsafe.Pointer(l.r)))
		return true
	case 1:
		// Under the recorder's lock (its line and the leg's are cached by
		// now): the session, the other leg's lines that the write frontier
		// and the pairing read, and the buffer of the slot the packet most
		// likely goes to.
		r := l.r
		r.mu.Lock()
		s := r.sess
		var o *Leg
		if j := 1 - l.idx; j >= 0 && j < len(r.legs) {
			o = r.legs[j]
		}
		var data uintptr
		if t := &l.tl; s != nil && len(t.ring) > 0 {
			if b := &t.ring[(t.hiSlot+1)&t.mask]; cap(b.data) > 0 {
				data = uintptr(unsafe.Pointer(unsafe.SliceData(b.data)))
			}
		}
		r.mu.Unlock()
		if s == nil {
			return false
		}
		prefetch.Lines(uintptr(unsafe.Pointer(s)), 2)
		if data != 0 {
			prefetch.Lines(data, 2)
		}
		if o != nil {
			p := uintptr(unsafe.Pointer(o))
			prefetch.Line(p)       // closed, its counters
			prefetch.Line(p + 128) // its timeline's flags and hole
			prefetch.Line(p + 256) // hiEnd
			prefetch.Line(p + 384) // its ring
		}
	}
	return false
}
