package rtpudp

import "unsafe"

// ssrcTable maps SSRCs to streams: open addressing with linear probing in
// one array, so that the reader can start loading the entry of every
// datagram of a batch before it looks any up (each lookup in a Go map
// missed the cache one datagram after the other: 3 % of the CPU at 10,000
// streams). It is at most three quarters full; deletion shifts the
// entries after the removed one back (no tombstones). Not safe for
// concurrent use: Server.mu guards it.
type ssrcTable struct {
	e     []ssrcEntry // a power of two long
	n     int
	shift uint8 // 64 - log2(len(e))
}

type ssrcEntry struct {
	st   *stream // nil: empty
	ssrc uint32
}

const minTable = 16

// home returns the index where ssrc's probe starts (Fibonacci hashing:
// SSRCs are random, but a host's test or a sender may pick sequential ones).
func (t *ssrcTable) home(ssrc uint32) int {
	return int((uint64(ssrc) * 0x9e3779b97f4a7c15) >> t.shift)
}

// get returns ssrc's stream, or nil.
func (t *ssrcTable) get(ssrc uint32) *stream {
	if t.n == 0 {
		return nil
	}
	mask := len(t.e) - 1
	for i := t.home(ssrc); ; i = (i + 1) & mask {
		e := &t.e[i]
		if e.st == nil || e.ssrc == ssrc {
			return e.st
		}
	}
}

// addr returns the address of the entry where ssrc's probe starts, to
// prefetch (nil while the table is empty).
func (t *ssrcTable) addr(ssrc uint32) uintptr {
	if t.n == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&t.e[t.home(ssrc)]))
}

// put sets ssrc's stream (st not nil), replacing any.
func (t *ssrcTable) put(ssrc uint32, st *stream) {
	if (t.n+1)*4 > len(t.e)*3 {
		t.resize(max(2*len(t.e), minTable))
	}
	mask := len(t.e) - 1
	for i := t.home(ssrc); ; i = (i + 1) & mask {
		e := &t.e[i]
		if e.st == nil {
			*e = ssrcEntry{st: st, ssrc: ssrc}
			t.n++
			return
		}
		if e.ssrc == ssrc {
			e.st = st
			return
		}
	}
}

// del removes ssrc, if present.
func (t *ssrcTable) del(ssrc uint32) {
	if t.n == 0 {
		return
	}
	mask := len(t.e) - 1
	i := t.home(ssrc)
	for ; t.e[i].ssrc != ssrc || t.e[i].st == nil; i = (i + 1) & mask {
		if t.e[i].st == nil {
			return
		}
	}
	// Shift back the entries whose probe passed through i.
	for j := (i + 1) & mask; t.e[j].st != nil; j = (j + 1) & mask {
		if h := t.home(t.e[j].ssrc); (j-h)&mask >= (j-i)&mask {
			t.e[i] = t.e[j]
			i = j
		}
	}
	t.e[i] = ssrcEntry{}
	t.n--
	if t.n == 0 {
		*t = ssrcTable{}
	}
}

func (t *ssrcTable) resize(size int) {
	old := t.e
	t.e, t.n = make([]ssrcEntry, size), 0
	t.shift = uint8(64 - bitsLen(size-1))
	for _, e := range old {
		if e.st != nil {
			t.put(e.ssrc, e.st)
		}
	}
}

func bitsLen(x int) int {
	n := 0
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}
