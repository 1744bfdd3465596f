package recorder

import "testing"

// PageBufCaps returns the capacity of the page buffer of each file of the
// recording in progress (nil if none), for the external tests.
func (r *Recorder) PageBufCaps() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess == nil {
		return nil
	}
	caps := make([]int, len(r.sess.streams))
	for i, st := range r.sess.streams {
		caps[i] = cap(st.buf)
	}
	return caps
}

// TestQueueBuffersNeverGrow: the copy of a page of any size fits the
// queue buffer it is given (appending it never reallocates), the queue
// counts that buffer's capacity, and a buffer kept for reuse comes back
// for a page of its class with the same capacity.
func TestQueueBuffersNeverGrow(t *testing.T) {
	var p Writers
	page := make([]byte, pageReserve+maxSegments*255)
	for n := 1; n <= len(page); n += 97 {
		b := p.getBuf(n)
		c := cap(b)
		if c != qbufSize(n) || len(b) != 0 {
			t.Fatalf("page of %d bytes: buffer len %d cap %d, want cap %d", n, len(b), c, qbufSize(n))
		}
		b = append(b, page[:n]...)
		if cap(b) != c {
			t.Fatalf("page of %d bytes: the copy grew its buffer from %d to %d", n, c, cap(b))
		}
		p.putBuf(b)
		if b2 := p.getBuf(n); cap(b2) != c {
			t.Fatalf("page of %d bytes: reused buffer cap %d, want %d", n, cap(b2), c)
		}
	}
}

// OwnSlotBuffers returns how many entries of l's ring hold a buffer of
// their own (a packet larger than an arena region), for the external
// tests.
func (l *Leg) OwnSlotBuffers() int {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	n := 0
	for i := range l.tl.ring {
		if cap(l.tl.ring[i].data) > slotArena {
			n++
		}
	}
	return n
}
