package notice_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/consentrec/consentrec/notice"
)

func seedFile(f *testing.F, path string, max int) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:min(len(b), max)])
}

func FuzzLoadWAV(f *testing.F) {
	f.Add(wav(1, 8000, 16, []int16{1, 2, 3}))
	f.Add(wav(2, 48000, 16, []int16{1, 2, 3, 4}))
	seedFile(f, "testdata/dtmf-9.wav", 1000)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := notice.LoadWAV("f", bytes.NewReader(b))
		if err == nil && (len(p.PCM()) == 0 || p.Version() == "") {
			t.Fatalf("accepted a prompt with no audio")
		}
	})
}

func FuzzLoadOggOpus(f *testing.F) {
	seedFile(f, "testdata/notice-en.opus", 1<<20)
	f.Add(shortOgg(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := notice.LoadOggOpus("f", bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(p.OpusPackets()) == 0 {
			t.Fatalf("accepted a prompt with no packets")
		}
		// Packets accepted by the parser must be playable to G.711 legs
		// without a panic (errors are fine). Decoding is slow under
		// coverage instrumentation: only short inputs go that far.
		if len(p.OpusPackets()) <= 8 {
			_, _ = notice.Prepare(p, notice.CodecPCMU, mustG711(t))
		}
	})
}

func FuzzLoadMP3(f *testing.F) {
	seedFile(f, "testdata/notice-fr.mp3", 4000)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := notice.LoadMP3("f", bytes.NewReader(b))
		if err == nil && len(p.PCM()) == 0 {
			t.Fatalf("accepted a prompt with no audio")
		}
	})
}

func FuzzParseTelephoneEvent(f *testing.F) {
	f.Add([]byte{9, 0x8A, 0x03, 0x20})
	f.Add([]byte{1, 0x80, 0, 160, 11, 0x0A, 0, 160})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := notice.ParseTelephoneEvent(b)
		if err != nil {
			return
		}
		if got := ev.AppendTo(nil); !bytes.Equal(got, b[len(b)-4:]) && b[len(b)-3]&0x40 == 0 {
			t.Fatalf("round trip %x -> %+v -> %x", b, ev, got)
		}
	})
}

func FuzzToneDetector(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, r uint8) {
		rates := []int{8000, 16000, 44100, 48000}
		d, err := notice.NewToneDetector(rates[int(r)%len(rates)])
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, len(b)/2)
		for i := range pcm {
			pcm[i] = int16(b[2*i]) | int16(b[2*i+1])<<8
		}
		for _, k := range d.Feed(nil, pcm) {
			if !k.Valid() {
				t.Fatalf("invalid key %q", k)
			}
		}
	})
}

// shortOgg returns the fixture cut after its first audio pages, with the
// end-of-stream flag set on the last one kept (and its checksum redone).
func shortOgg(f *testing.F) []byte {
	b, err := os.ReadFile("testdata/notice-en.opus")
	if err != nil {
		f.Fatal(err)
	}
	off, last := 0, 0
	for page := 0; page < 5 && off+27 <= len(b); page++ {
		n := int(b[off+26])
		size := 0
		for _, l := range b[off+27 : off+27+n] {
			size += int(l)
		}
		last, off = off, off+27+n+size
	}
	out := bytes.Clone(b[:off])
	out[last+5] |= 0x04
	out[last+22], out[last+23], out[last+24], out[last+25] = 0, 0, 0, 0
	var c uint32
	for _, v := range out[last:] {
		c ^= uint32(v) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
	}
	out[last+22], out[last+23], out[last+24], out[last+25] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	if _, err := notice.LoadOggOpus("short", bytes.NewReader(out)); err != nil {
		f.Fatalf("short seed: %v", err)
	}
	return out
}
