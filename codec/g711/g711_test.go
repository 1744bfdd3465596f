package g711

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestDecodeKnownValues(t *testing.T) {
	cases := []struct {
		law  Law
		b    byte
		want int16
	}{
		// μ-law: bit 7 set is positive; 0xFF and 0x7F are the two zeros.
		{ULaw, 0xFF, 0}, {ULaw, 0x7F, 0}, {ULaw, 0x80, 32124}, {ULaw, 0x00, -32124},
		{ULaw, 0xFE, 8}, {ULaw, 0x7E, -8}, {ULaw, 0xEF, 132}, {ULaw, 0xDF, 396},
		// A-law: code words are XORed with 0x55; no zero, ±8 is the smallest.
		{ALaw, 0xD5, 8}, {ALaw, 0x55, -8}, {ALaw, 0xAA, 32256}, {ALaw, 0x2A, -32256},
		{ALaw, 0xC5, 264}, {ALaw, 0xF5, 528},
	}
	for _, c := range cases {
		if got := decode1(c.law, c.b); got != c.want {
			t.Errorf("%v decode %#02x = %d, want %d", c.law, c.b, got, c.want)
		}
	}
}

func decode1(l Law, b byte) int16 {
	var out [1]int16
	if _, err := l.Decode(out[:], []byte{b}); err != nil {
		panic(err)
	}
	return out[0]
}

// TestRoundTrip: every code word survives decode then encode (apart from
// μ-law's negative zero 0x7F, which encodes back as 0xFF).
func TestRoundTrip(t *testing.T) {
	for _, l := range []Law{ULaw, ALaw} {
		for i := range 256 {
			b := byte(i)
			v := decode1(l, b)
			var out [1]byte
			l.Encode(out[:], []int16{v})
			want := b
			if l == ULaw && b == 0x7F {
				want = 0xFF
			}
			if out[0] != want {
				t.Errorf("%v: %#02x -> %d -> %#02x", l, b, v, out[0])
			}
		}
	}
}

// TestMonotonicAndBounded: encoding is monotonic in the input and the
// decoded value is within half a quantisation step of the input.
func TestMonotonicAndBounded(t *testing.T) {
	for _, l := range []Law{ULaw, ALaw} {
		prev := int16(math.MinInt16)
		for x := math.MinInt16; x <= math.MaxInt16; x++ {
			var out [1]byte
			l.Encode(out[:], []int16{int16(x)})
			y := decode1(l, out[0])
			if y < prev {
				t.Fatalf("%v: not monotonic at %d: %d < %d", l, x, y, prev)
			}
			prev = y
			// Steps are at most 1024 (μ-law) / 1024 (A-law) wide at full scale,
			// and 2x the reference's 1/32 relative error elsewhere.
			err := math.Abs(float64(y) - float64(x))
			if limit := max(16, math.Abs(float64(x))/16); err > limit && math.Abs(float64(x)) < 32000 {
				t.Fatalf("%v: %d decodes to %d (error %.0f > %.0f)", l, x, y, err, limit)
			}
		}
	}
}

func TestSineSNR(t *testing.T) {
	const n = 8000
	src := make([]int16, n)
	for i := range src {
		src[i] = int16(16000 * math.Sin(2*math.Pi*1000*float64(i)/8000+0.3))
	}
	for _, l := range []Law{ULaw, ALaw} {
		enc := make([]byte, n)
		dec := make([]int16, n)
		l.Encode(enc, src)
		l.Decode(dec, enc)
		var sig, noise float64
		for i := range src {
			sig += float64(src[i]) * float64(src[i])
			d := float64(src[i]) - float64(dec[i])
			noise += d * d
		}
		snr := 10 * math.Log10(sig/noise)
		t.Logf("%v: SNR of a -6 dBFS 1 kHz sine: %.1f dB", l, snr)
		if snr < 35 { // G.711 gives about 38 dB at this level
			t.Errorf("%v: SNR %.1f dB < 35 dB", l, snr)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := ULaw.Decode(make([]int16, 1), make([]byte, 2)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short decode: %v", err)
	}
	if _, err := ALaw.Encode(make([]byte, 1), make([]int16, 2)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short encode: %v", err)
	}
	var zero Law
	if _, err := zero.Decode(make([]int16, 1), make([]byte, 1)); !errors.Is(err, ErrUnknownLaw) {
		t.Errorf("zero law decode: %v", err)
	}
	if _, err := zero.Encode(make([]byte, 1), make([]int16, 1)); !errors.Is(err, ErrUnknownLaw) {
		t.Errorf("zero law encode: %v", err)
	}
	if _, err := LawForPayloadType(9); !errors.Is(err, ErrUnknownLaw) {
		t.Errorf("PT 9: %v", err)
	}
	for _, l := range []Law{ULaw, ALaw} {
		got, err := LawForPayloadType(l.PayloadType())
		if err != nil || got != l {
			t.Errorf("LawForPayloadType(%d) = %v, %v", l.PayloadType(), got, err)
		}
		if decode1(l, l.Silence()) > 8 || decode1(l, l.Silence()) < -8 {
			t.Errorf("%v silence decodes to %d", l, decode1(l, l.Silence()))
		}
	}
	if zero.Valid() || zero.PayloadType() != 255 || zero.String() != "Law(0)" {
		t.Errorf("zero law: %v %d %q", zero.Valid(), zero.PayloadType(), zero.String())
	}
}

// TestMatchesFFmpeg encodes every 16-bit value with ffmpeg's pcm_mulaw and
// pcm_alaw encoders and checks that this package produces the same bytes,
// then decodes every code word with ffmpeg and compares the samples.
func TestMatchesFFmpeg(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (Debian package ffmpeg); skipping the cross-check")
	}
	dir := t.TempDir()
	all := make([]int16, 65536)
	for i := range all {
		all[i] = int16(i - 32768)
	}
	raw := new(bytes.Buffer)
	binary.Write(raw, binary.LittleEndian, all)
	in := filepath.Join(dir, "all.s16")
	if err := os.WriteFile(in, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	for _, c := range []struct {
		law   Law
		fmt   string
		codec string
	}{{ULaw, "mulaw", "pcm_mulaw"}, {ALaw, "alaw", "pcm_alaw"}} {
		out := filepath.Join(dir, c.fmt)
		cmd := exec.Command(ffmpeg, "-v", "error", "-y", "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", in,
			"-c:a", c.codec, "-f", c.fmt, out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg encode: %v\n%s", err, b)
		}
		want, _ := os.ReadFile(out)
		got := make([]byte, len(all))
		c.law.Encode(got, all)
		// ffmpeg's encoder picks the nearest reconstruction level; G.711 (and
		// this package) put the decision levels of a segment's first step
		// where the standard's tables put them, so the two differ, by exactly
		// one step, on a few values just below each segment boundary.
		diffs := 0
		for i := range got {
			if got[i] == want[i] {
				continue
			}
			diffs++
			g, w := int(decode1(c.law, got[i])), int(decode1(c.law, want[i]))
			x := int(all[i])
			if abs(g-x) > 2*abs(w-x)+16 || codeDistance(c.law, got[i], want[i]) != 1 {
				t.Fatalf("%v: sample %d encodes to %#02x (%d), ffmpeg %#02x (%d)", c.law, x, got[i], g, want[i], w)
			}
		}
		t.Logf("%v: %d of 65536 values differ from ffmpeg by one step (segment boundaries)", c.law, diffs)
		if diffs > 65536/50 {
			t.Errorf("%v: %d values differ from ffmpeg", c.law, diffs)
		}
		cin := filepath.Join(dir, c.fmt+".codes")
		os.WriteFile(cin, codes, 0o600)
		dout := filepath.Join(dir, c.fmt+".dec")
		cmd = exec.Command(ffmpeg, "-v", "error", "-y", "-f", c.fmt, "-ar", "8000", "-ac", "1", "-i", cin, "-f", "s16le", dout)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg decode: %v\n%s", err, b)
		}
		dec, _ := os.ReadFile(dout)
		for i := range 256 {
			w := int16(binary.LittleEndian.Uint16(dec[2*i:]))
			if g := decode1(c.law, byte(i)); g != w {
				t.Errorf("%v: %#02x decodes to %d, ffmpeg %d", c.law, i, g, w)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// codeDistance is the number of quantisation steps between two code words.
func codeDistance(l Law, a, b byte) int {
	rank := func(c byte) int { // position in the sorted list of levels
		v := decode1(l, c)
		n := 0
		for i := range 256 {
			if w := decode1(l, byte(i)); w < v && !(l == ULaw && byte(i) == 0x7F) {
				n++
			}
		}
		return n
	}
	return abs(rank(a) - rank(b))
}
