package opusenc

import (
	"encoding/binary"
	"testing"

	"github.com/pion/opus"
)

// FuzzEncode: any PCM (clipping, DC, noise, silence) encodes to one valid
// packet per frame that a decoder accepts, without panics.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80}, uint8(0))
	f.Add(make([]byte, 640), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		rate := []int{8000, 16000, 48000}[int(mode)%3]
		e, err := New(Config{SampleRate: rate, DTX: mode&4 != 0})
		if err != nil {
			t.Fatal(err)
		}
		dec, _ := opus.NewDecoderWithOutput(48000, 1)
		frame := make([]int16, e.FrameSize())
		pkt := make([]byte, MaxPacketSize)
		out := make([]int16, 5760)
		for k := range 3 {
			for i := range frame {
				if len(data) >= 2 {
					j := 2 * (k*len(frame) + i) % (len(data) &^ 1)
					frame[i] = int16(binary.LittleEndian.Uint16(data[j:]))
				}
			}
			n, err := e.Encode(pkt, frame)
			if err != nil || n < 1 || n > MaxPacketSize {
				t.Fatalf("encode: %d, %v", n, err)
			}
			if n > 1 { // a 1-byte DTX packet carries no frame for this decoder
				if _, err := dec.DecodeToInt16(pkt[:n], out); err != nil {
					t.Fatalf("decode %d-byte packet: %v", n, err)
				}
			}
		}
	})
}
