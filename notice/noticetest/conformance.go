package noticetest

import (
	"bytes"
	"math"
	"testing"

	"github.com/consentrec/consentrec/notice"
)

// TestFrameEncoder checks that an implementation of notice.FrameEncoder
// meets its contract: a consistent codec and rate; Encode appends a
// non-empty frame after dst's contents, leaves them intact and does not
// keep pcm; Reset makes the encoder deterministic (the same input after
// Reset gives the same frames); and notice.Prepare and notice.Cache accept
// it. newEnc returns a fresh encoder for each sub-test.
func TestFrameEncoder(t *testing.T, newEnc func(t *testing.T) notice.FrameEncoder) {
	t.Helper()
	sine := func(rate, frames int) []int16 {
		pcm := make([]int16, rate/50*frames)
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		}
		return pcm
	}
	t.Run("CodecAndRate", func(t *testing.T) {
		e := newEnc(t)
		c := e.Codec()
		if c.ClockRate() == 0 {
			t.Fatalf("Codec() = %q: not a known codec", c)
		}
		if r := e.SampleRate(); r < 8000 || r > 48000 || r%50 != 0 {
			t.Fatalf("SampleRate() = %d: want 8000..48000 and a multiple of 50", r)
		}
	})
	t.Run("AppendsAfterDst", func(t *testing.T) {
		e := newEnc(t)
		fs := e.SampleRate() / 50
		pcm := sine(e.SampleRate(), 1)
		orig := append([]int16(nil), pcm...)
		prefix := []byte("prefix")
		out, err := e.Encode(append([]byte(nil), prefix...), pcm[:fs])
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("Encode changed dst's contents: %q", out[:min(len(out), len(prefix))])
		}
		if len(out) == len(prefix) {
			t.Fatalf("Encode appended nothing")
		}
		for i := range pcm {
			if pcm[i] != orig[i] {
				t.Fatalf("Encode modified its input at %d", i)
			}
		}
	})
	t.Run("ResetIsDeterministic", func(t *testing.T) {
		e := newEnc(t)
		fs := e.SampleRate() / 50
		pcm := sine(e.SampleRate(), 10)
		run := func() [][]byte {
			if err := e.Reset(); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			var frames [][]byte
			for i := 0; i < len(pcm); i += fs {
				f, err := e.Encode(nil, pcm[i:i+fs])
				if err != nil {
					t.Fatalf("Encode frame %d: %v", i/fs, err)
				}
				frames = append(frames, f)
			}
			return frames
		}
		a, b := run(), run()
		for i := range a {
			if !bytes.Equal(a[i], b[i]) {
				t.Fatalf("frame %d differs after Reset: %x vs %x", i, a[i], b[i])
			}
		}
	})
	t.Run("Prepare", func(t *testing.T) {
		e := newEnc(t)
		p, err := notice.NewPCMPrompt("sine", sine(16000, 25), 16000) // 0.5 s at another rate
		if err != nil {
			t.Fatal(err)
		}
		prep, err := notice.Prepare(p, e.Codec(), e)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if prep.Len() != 25 || prep.Duration() != 25*notice.FrameDuration {
			t.Fatalf("Prepare: %d frames, %v; want 25 frames, 500ms", prep.Len(), prep.Duration())
		}
		for i := range prep.Len() {
			f, n := prep.Frame(i)
			if len(f) == 0 || int(n) != e.Codec().ClockRate()/50 {
				t.Fatalf("frame %d: %d bytes, %d clock units", i, len(f), n)
			}
		}
		c := notice.Cache{Encoders: func(notice.Codec) (notice.FrameEncoder, error) { return newEnc(t), nil }}
		got, err := c.Get(p, e.Codec())
		if err != nil {
			t.Fatalf("Cache.Get: %v", err)
		}
		for i := range got.Len() {
			a, _ := got.Frame(i)
			b, _ := prep.Frame(i)
			if !bytes.Equal(a, b) {
				t.Fatalf("Cache.Get frame %d differs from Prepare's with a fresh encoder", i)
			}
		}
	})
}
