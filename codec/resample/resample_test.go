package resample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var rates = []int{8000, 16000, 44100, 48000}

func tone(rate, n int, freq, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)+0.1)))
	}
	return s
}

// toneSNR fits the expected tone (with the filter delay) to out, skipping
// the start-up transient and the end, and returns signal/error in dB.
func toneSNR(out []int16, rate int, freq, amp, delay float64) float64 {
	var sig, noise float64
	skip := rate / 100
	for i := skip; i < len(out)-skip; i++ {
		t := float64(i)/float64(rate) - delay
		want := amp * math.Sin(2*math.Pi*freq*t+0.1)
		sig += want * want
		d := float64(out[i]) - want
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

func TestToneQuality(t *testing.T) {
	for _, from := range rates {
		for _, to := range rates {
			r, err := New(from, to)
			if err != nil {
				t.Fatal(err)
			}
			const freq, amp = 1000.0, 16000.0
			in := tone(from, from/2, freq, amp)
			var out []int16
			for c := range slices.Chunk(in, from/50) { // 20 ms frames
				out = r.Process(out, c)
			}
			want := len(in) * to / from
			if d := len(out) - want; d < -1 || d > 1 {
				t.Errorf("%d->%d: %d samples out, want %d±1", from, to, len(out), want)
			}
			snr := toneSNR(out, to, freq, amp, r.Delay())
			t.Logf("%5d -> %5d Hz: 1 kHz tone SNR %.1f dB, delay %.3f ms", from, to, snr, r.Delay()*1000)
			if snr < 60 {
				t.Errorf("%d->%d: SNR %.1f dB < 60 dB", from, to, snr)
			}
		}
	}
}

// TestAliasRejection: a tone above the output's Nyquist frequency must
// vanish when downsampling, not fold back into the band.
func TestAliasRejection(t *testing.T) {
	for _, c := range []struct{ from, to int }{{48000, 8000}, {16000, 8000}, {44100, 16000}, {48000, 16000}} {
		r, _ := New(c.from, c.to)
		freq := 0.6 * float64(c.to) // between Nyquist and the input's band edge
		in := tone(c.from, c.from/2, freq, 16000)
		out := r.Process(nil, in)
		var rms float64
		for _, v := range out[len(out)/4:] {
			rms += float64(v) * float64(v)
		}
		rms = math.Sqrt(rms / float64(len(out)-len(out)/4))
		att := 20 * math.Log10(rms/(16000/math.Sqrt2))
		t.Logf("%d -> %d Hz: %.0f Hz tone attenuated to %.1f dB", c.from, c.to, freq, att)
		if att > -70 {
			t.Errorf("%d->%d: alias at %.1f dB > -70 dB", c.from, c.to, att)
		}
	}
}

// TestChunkingInvariance: the output does not depend on how the input is cut.
func TestChunkingInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]int16, 20000)
	for i := range in {
		in[i] = int16(rng.IntN(20000) - 10000)
	}
	for _, from := range rates {
		for _, to := range rates {
			a, _ := New(from, to)
			b, _ := New(from, to)
			whole := a.Process(nil, in)
			var parts []int16
			for rest := in; len(rest) > 0; {
				n := min(len(rest), rng.IntN(500))
				parts = b.Process(parts, rest[:n])
				rest = rest[n:]
			}
			if !slices.Equal(whole, parts) {
				t.Errorf("%d->%d: chunked output differs (%d vs %d samples)", from, to, len(whole), len(parts))
			}
			b.Reset()
			again := b.Process(nil, in)
			if !slices.Equal(whole, again) {
				t.Errorf("%d->%d: output after Reset differs", from, to)
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	for _, c := range []struct{ from, to int }{{8000, 48000}, {48000, 8000}, {44100, 48000}} {
		r, _ := New(c.from, c.to)
		in := tone(c.from, c.from/50, 440, 8000)
		dst := make([]int16, 0, r.MaxOut(len(in)))
		r.Process(dst, in) // first call sizes the history buffer
		allocs := testing.AllocsPerRun(100, func() {
			out := r.Process(dst[:0], in)
			if len(out) > r.MaxOut(len(in)) {
				t.Fatalf("%d samples > MaxOut %d", len(out), r.MaxOut(len(in)))
			}
		})
		if allocs != 0 {
			t.Errorf("%d->%d: %v allocs per frame", c.from, c.to, allocs)
		}
	}
}

func TestClipping(t *testing.T) {
	r, _ := New(8000, 48000)
	in := make([]int16, 800)
	for i := range in { // a full-scale square wave overshoots (Gibbs)
		in[i] = math.MaxInt16
		if i/20%2 == 1 {
			in[i] = math.MinInt16
		}
	}
	out := r.Process(nil, in)
	if len(out) == 0 || slices.Max(out) != math.MaxInt16 || slices.Min(out) != math.MinInt16 {
		t.Errorf("square wave not clipped to full scale: [%d, %d]", slices.Min(out), slices.Max(out))
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ from, to int }{{0, 8000}, {8000, -1}, {8000, 44101}} {
		if _, err := New(c.from, c.to); !errors.Is(err, ErrRate) {
			t.Errorf("New(%d, %d): %v, want ErrRate", c.from, c.to, err)
		}
	}
	r, err := New(16000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if out := r.Process(nil, []int16{1, 2, 3}); !slices.Equal(out, []int16{1, 2, 3}) || r.Delay() != 0 {
		t.Errorf("pass-through: %v, delay %v", out, r.Delay())
	}
}
