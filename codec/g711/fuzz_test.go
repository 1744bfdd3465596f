package g711

import (
	"testing"
)

// FuzzDecode: any byte string decodes, re-encodes to the same code words
// (μ-law's negative zero aside) and never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xFF, 0x7F, 0x00, 0x80})
	f.Add([]byte{0xD5, 0x55, 0x2A, 0xAA})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range []Law{ULaw, ALaw} {
			pcm := make([]int16, len(data))
			if n, err := l.Decode(pcm, data); err != nil || n != len(data) {
				t.Fatalf("decode: %d, %v", n, err)
			}
			back := make([]byte, len(data))
			if _, err := l.Encode(back, pcm); err != nil {
				t.Fatal(err)
			}
			for i := range data {
				if back[i] != data[i] && !(l == ULaw && data[i] == 0x7F && back[i] == 0xFF) {
					t.Fatalf("%v: %#02x -> %d -> %#02x", l, data[i], pcm[i], back[i])
				}
			}
		}
	})
}
