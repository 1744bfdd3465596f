package recorder

import (
	"bytes"
	"errors"
	"testing"
)

// Packets of every framing code (RFC 6716 section 3.2) and their
// self-delimited forms (appendix B), as verified against real decoders in
// the dual-channel study.
func TestSelfDelimited(t *testing.T) {
	big := bytes.Repeat([]byte{0xAA}, 300)
	cases := []struct {
		name string
		p    []byte
		sd   []byte
		n    int
	}{
		{"code0", []byte{0x78, 1, 2, 3}, []byte{0x78, 3, 1, 2, 3}, 1},
		{"code0-empty", []byte{0x78}, []byte{0x78, 0}, 1},
		{"code0-300", append([]byte{0x78}, big...), append([]byte{0x78, 0xfc, 0x0c}, big...), 1},
		{"code1", []byte{0x79, 1, 2, 3, 4}, []byte{0x79, 2, 1, 2, 3, 4}, 2},
		{"code2", []byte{0x7a, 1, 9, 7, 7}, []byte{0x7a, 1, 2, 9, 7, 7}, 2},
		{"code3-cbr", []byte{0xfb, 0x02, 1, 2, 3, 4}, []byte{0xfb, 0x02, 2, 1, 2, 3, 4}, 2},
		{"code3-vbr", []byte{0xfb, 0x83, 1, 2, 9, 8, 8, 7}, []byte{0xfb, 0x83, 1, 2, 1, 9, 8, 8, 7}, 3},
		{"code3-cbr-pad", []byte{0xfb, 0x42, 2, 1, 2, 0, 0}, []byte{0xfb, 0x42, 2, 1, 1, 2, 0, 0}, 2},
	}
	for _, c := range cases {
		var o opusPacket
		if err := parseOpus(c.p, false, &o); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.n != c.n {
			t.Errorf("%s: %d frames, want %d", c.name, o.n, c.n)
		}
		sd := appendSelfDelimited(nil, c.p, &o)
		if !bytes.Equal(sd, c.sd) {
			t.Errorf("%s: self-delimited % x, want % x", c.name, sd, c.sd)
		}
		// And back, with a second stream after it.
		var o2 opusPacket
		tail := append(bytes.Clone(sd), 0xF8, 0xFF, 0xFE)
		if err := parseOpus(tail, true, &o2); err != nil {
			t.Fatalf("%s: parse self-delimited: %v", c.name, err)
		}
		if o2.end != len(sd) || !bytes.Equal(undelimit(nil, tail, &o2), c.p) {
			t.Errorf("%s: undelimit gives % x (end %d)", c.name, undelimit(nil, tail, &o2), o2.end)
		}
	}
}

func TestLengthRoundTrip(t *testing.T) {
	for n := 0; n <= maxFrameBytes; n++ {
		b := appendLen(nil, n)
		got, used, err := readLen(b)
		if err != nil || got != n || used != len(b) || used != lenSize(n) {
			t.Fatalf("length %d: % x -> %d, %d, %v", n, b, got, used, err)
		}
	}
}

func TestBadPackets(t *testing.T) {
	for _, p := range [][]byte{
		{},
		{0x79, 1, 2, 3},         // code 1, odd
		{0x7a, 9, 1},            // code 2, first frame beyond the end
		{0xfb},                  // code 3 without count
		{0xfb, 0x00},            // code 3, zero frames
		{0xfb, 0x31},            // 49 frames
		{0xfb, 0x03, 1, 2},      // CBR size not divisible
		{0xfb, 0x40},            // padding length missing
		{0xfb, 0x82, 200, 1, 2}, // VBR length beyond the end
		append([]byte{0x78}, make([]byte, 1276)...), // frame too long
	} {
		var o opusPacket
		if err := parseOpus(p, false, &o); !errors.Is(err, ErrBadPacket) {
			t.Errorf("parse % x: %v, want ErrBadPacket", p, err)
		}
	}
}

func TestOggCRC(t *testing.T) {
	// Slicing-by-8 against the byte-at-a-time definition.
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	for n := range len(data) {
		want := uint32(0)
		for _, b := range data[:n] {
			want = want<<8 ^ oggCRC[0][byte(want>>24)^b]
		}
		if got := oggChecksum(0, data[:n]); got != want {
			t.Fatalf("crc of %d bytes: %08x, want %08x", n, got, want)
		}
	}
	// "OggS" page known value: the CRC of a zero-filled 27-byte header is
	// not zero and is stable.
	if oggChecksum(0, []byte("123456789")) != 0x89a1897f {
		t.Errorf("check value %08x, want 89a1897f (CRC-32/MPEG-2 without init/xorout)", oggChecksum(0, []byte("123456789")))
	}
}

func FuzzParseOpus(f *testing.F) {
	f.Add([]byte{0x78, 1, 2, 3}, false)
	f.Add([]byte{0xfb, 0x83, 1, 2, 9, 8, 8, 7}, false)
	f.Add([]byte{0xfb, 0x42, 2, 1, 1, 2, 0, 0}, true)
	f.Fuzz(func(t *testing.T, p []byte, sd bool) {
		var o opusPacket
		if err := parseOpus(p, sd, &o); err != nil {
			return
		}
		if o.end > len(p) || o.n < 1 || o.n > maxFrames {
			t.Fatalf("parse % x: end %d, n %d", p, o.end, o.n)
		}
		if !sd {
			// Self-delimit and back gives the packet.
			d := appendSelfDelimited(nil, p, &o)
			var o2 opusPacket
			if err := parseOpus(d, true, &o2); err != nil {
				t.Fatalf("self-delimited % x of % x: %v", d, p, err)
			}
			if !bytes.Equal(undelimit(nil, d, &o2), p) || o2.end != len(d) || o2.n != o.n {
				t.Fatalf("round trip of % x", p)
			}
		}
	})
}
