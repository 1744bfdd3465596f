package opusprompt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/codec/opusenc"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/notice/opusprompt"
	"github.com/pion/opus"
)

func TestConformance(t *testing.T) {
	for _, cfg := range []opusenc.Config{opusprompt.DefaultConfig, {SampleRate: 48000}, {}} {
		t.Run(strconv.Itoa(cfg.SampleRate), func(t *testing.T) {
			noticetest.TestFrameEncoder(t, func(t *testing.T) notice.FrameEncoder {
				e, err := opusprompt.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				return e
			})
		})
	}
	if _, err := opusprompt.New(opusenc.Config{SampleRate: 44100}); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("44.1 kHz: %v", err)
	}
}

// An MP3 prompt prepared for Opus decodes back to the same speech.
func TestMP3ToOpusDecodes(t *testing.T) {
	p, err := notice.LoadFile("../testdata/notice-fr.mp3")
	if err != nil {
		t.Fatal(err)
	}
	c := notice.Cache{Encoders: opusprompt.Encoders}
	prep, err := c.Get(p, notice.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoderWithOutput(16000, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int16
	buf := make([]int16, 960)
	for i := range prep.Len() {
		f, n := prep.Frame(i)
		if n != 960 {
			t.Fatalf("frame %d: %d ticks, want 960", i, n)
		}
		k, err := dec.DecodeToInt16(f, buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got = append(got, buf[:k]...)
	}
	// Compare energy envelopes (20 ms) of the source at 16 kHz and the decode.
	src := p.PCM()
	env := func(x []int16, rate int) []float64 {
		n := rate / 50
		var e []float64
		for i := 0; i+n <= len(x); i += n {
			var s float64
			for _, v := range x[i : i+n] {
				s += float64(v) * float64(v)
			}
			e = append(e, math.Sqrt(s/float64(n)))
		}
		return e
	}
	a, b := env(src, p.SampleRate()), env(got, 16000)
	n := min(len(a), len(b))
	var sab, saa, sbb float64
	for i := range n {
		sab += a[i] * b[i]
		saa += a[i] * a[i]
		sbb += b[i] * b[i]
	}
	if r := sab / math.Sqrt(saa*sbb); r < 0.95 {
		t.Fatalf("envelope correlation %.3f between the MP3 and its Opus preparation", r)
	}
}

// opusdec (libopus) accepts the prepared packets, written as an Ogg file.
func TestOpusdecInterop(t *testing.T) {
	opusdec, err := exec.LookPath("opusdec")
	if err != nil {
		t.Skip("opusdec not installed (Debian opus-tools); CI has it")
	}
	p, err := notice.LoadFile("../testdata/notice-10s.mp3")
	if err != nil {
		t.Fatal(err)
	}
	prep, err := (&notice.Cache{Encoders: opusprompt.Encoders}).Get(p, notice.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.opus")
	if err := os.WriteFile(path, oggOpus(prep), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(opusdec, "--force-wav", "--quiet", path, filepath.Join(t.TempDir(), "p.wav")).CombinedOutput()
	if err != nil || strings.Contains(strings.ToLower(string(out)), "error") {
		t.Fatalf("opusdec: %v\n%s", err, out)
	}
}

// oggOpus writes a minimal mono Ogg Opus file, one packet per page.
func oggOpus(p *notice.Prepared) []byte {
	var out bytes.Buffer
	seq := uint32(0)
	page := func(flags byte, granule uint64, pkt []byte) {
		var h bytes.Buffer
		h.WriteString("OggS")
		h.WriteByte(0)
		h.WriteByte(flags)
		_ = binary.Write(&h, binary.LittleEndian, granule)
		_ = binary.Write(&h, binary.LittleEndian, uint32(1))
		_ = binary.Write(&h, binary.LittleEndian, seq)
		_ = binary.Write(&h, binary.LittleEndian, uint32(0))
		var lace []byte
		n := len(pkt)
		for n >= 255 {
			lace = append(lace, 255)
			n -= 255
		}
		lace = append(lace, byte(n))
		h.WriteByte(byte(len(lace)))
		h.Write(lace)
		h.Write(pkt)
		b := h.Bytes()
		binary.LittleEndian.PutUint32(b[22:], oggCRC(b))
		out.Write(b)
		seq++
	}
	head := []byte("OpusHead\x01\x01")
	head = binary.LittleEndian.AppendUint16(head, 312)
	head = binary.LittleEndian.AppendUint32(head, 16000)
	head = append(head, 0, 0, 0)
	page(0x02, 0, head)
	page(0, 0, append([]byte("OpusTags"), 4, 0, 0, 0, 't', 'e', 's', 't', 0, 0, 0, 0))
	var g uint64
	for i := range p.Len() {
		f, n := p.Frame(i)
		g += uint64(n)
		flags := byte(0)
		if i == p.Len()-1 {
			flags = 0x04
		}
		page(flags, g, f)
	}
	return out.Bytes()
}

func oggCRC(b []byte) uint32 {
	var c uint32
	for _, v := range b {
		c ^= uint32(v) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
	}
	return c
}
