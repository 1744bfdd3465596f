package recorder

import (
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzParseSR: any bytes give a sender report, none, or an error wrapping
// ErrBadPacket; never a panic. A report found is the bytes of the last
// sender report packet.
func FuzzParseSR(f *testing.F) {
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0xE8, 0x78, 0x9C, 0x80, 0x80, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 1, 0, 0, 0, 9}
	f.Add(sr)
	f.Add(append(append([]byte{}, sr...), 0x81, 202, 0, 2, 0, 0, 0, 1, 1, 1, 'a', 0))
	f.Add([]byte{0x80, 201, 0, 1, 0, 0, 0, 9})
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{0x80, 200, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok, err := parseSR(b)
		if err != nil {
			if !errors.Is(err, ErrBadPacket) || ok {
				t.Fatalf("parseSR: %v (ok %v)", err, ok)
			}
			return
		}
		// Find the last sender report by walking the packets again.
		var want senderReport
		found := false
		for p := b; len(p) > 0; {
			n := (int(binary.BigEndian.Uint16(p[2:4])) + 1) * 4
			if p[1] == rtcpSR {
				want = senderReport{binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint64(p[8:]), binary.BigEndian.Uint32(p[16:])}
				found = true
			}
			p = p[n:]
		}
		if ok != found || got != want {
			t.Fatalf("parseSR(% x) = %+v %v, want %+v %v", b, got, ok, want, found)
		}
	})
}
