// Package resample converts mono 16-bit PCM between sample rates with a
// polyphase windowed-sinc filter (Kaiser window, about 80 dB stopband
// attenuation, passband flat to 90% of the lower Nyquist frequency).
//
// It is meant for telephony and prompt preparation: 8000, 16000, 44100 and
// 48000 Hz in any direction (any pair of rates whose reduced ratio has
// both terms at most 1000 works). A [Resampler] is streaming: feed it
// chunks of any size and it keeps the filter history between calls, so
// frames can be converted one by one without clicks at the joins. After
// construction it never allocates as long as the caller's destination has
// room for [Resampler.MaxOut] samples.
package resample

import (
	"errors"
	"fmt"
	"math"
)

// ErrRate: a sample rate that is not positive, or a ratio too complex for
// a polyphase table of reasonable size.
var ErrRate = errors.New("resample: unsupported sample rate")

// Resampler converts a stream of mono int16 samples from one rate to
// another. It is not safe for concurrent use; use one per stream.
type Resampler struct {
	from, to int
	l, m     int         // upsampling and downsampling factors (to/from = l/m)
	k        int         // taps per phase
	phases   [][]float32 // l phases of k taps, phases[p][j] multiplies x[i-k+1+j]
	buf      []float32   // k-1 samples of history, then the current input
	i        int         // index in buf of the input sample of the next output
	p        int         // phase of the next output (0..l-1)
	delay    float64
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// New returns a Resampler from rate from to rate to (Hz). Equal rates give
// a pass-through copy. It returns an error wrapping ErrRate for a rate that
// is not positive or a ratio whose reduced terms exceed 1000.
func New(from, to int) (*Resampler, error) {
	if from <= 0 || to <= 0 {
		return nil, fmt.Errorf("resample %d -> %d Hz: %w", from, to, ErrRate)
	}
	g := gcd(from, to)
	l, m := to/g, from/g
	if l > 1000 || m > 1000 {
		return nil, fmt.Errorf("resample %d -> %d Hz: ratio %d/%d: %w", from, to, l, m, ErrRate)
	}
	r := &Resampler{from: from, to: to, l: l, m: m}
	if l == 1 && m == 1 {
		return r, nil
	}
	// The prototype filter runs at from*l Hz. Its cutoff is at 0.45 of the
	// lower of the two rates (90% of the lower Nyquist frequency), and its
	// length grows with the decimation factor so the transition band keeps
	// the same width in Hz.
	const tapsPerZero = 16 // half-width in zero crossings of the lower rate
	ratio := max(1, float64(m)/float64(l))
	r.k = 2 * int(math.Ceil(tapsPerZero*ratio))
	n := r.k * l
	fc := 0.45 * float64(min(from, to)) / float64(from*l) // cycles per high-rate sample
	const beta = 8.0                                      // Kaiser: about 80 dB
	center := float64(n-1) / 2
	h := make([]float64, n)
	for t := range h {
		x := float64(t) - center
		s := 2 * fc
		if x != 0 {
			s = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		w := bessel0(beta*math.Sqrt(1-math.Pow(2*x/float64(n-1), 2))) / bessel0(beta)
		h[t] = s * w * float64(l) // gain l restores the level lost by zero-stuffing
	}
	r.phases = make([][]float32, l)
	for p := range l {
		r.phases[p] = make([]float32, r.k)
		for j := range r.k {
			r.phases[p][r.k-1-j] = float32(h[p+j*l]) // reversed: a forward dot product
		}
	}
	r.delay = center / float64(l) // in input samples
	r.Reset()
	return r, nil
}

// bessel0 is the modified Bessel function of the first kind, order 0.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < sum*1e-17 {
			break
		}
	}
	return sum
}

// Reset clears the history, as if the Resampler were new.
func (r *Resampler) Reset() {
	if r.k == 0 {
		return
	}
	if cap(r.buf) < r.k-1 {
		r.buf = make([]float32, r.k-1, 2*r.k+1024)
	}
	r.buf = r.buf[:r.k-1]
	clear(r.buf)
	r.i, r.p = r.k-1, 0
}

// Rates returns the input and output rates.
func (r *Resampler) Rates() (from, to int) { return r.from, r.to }

// Delay returns the filter's group delay in seconds: an event at input time
// t comes out at output time t+Delay. It is at most about 2 ms for the
// telephony rates (2 ms from or to 8 kHz, 1 ms from or to 16 kHz).
func (r *Resampler) Delay() float64 { return r.delay / float64(r.from) }

// MaxOut returns the largest number of samples Process can produce for n
// input samples.
func (r *Resampler) MaxOut(n int) int {
	if r.k == 0 {
		return n
	}
	return (n*r.l+r.m-1)/r.m + 1
}

// Process appends to dst the output for src and returns the extended
// slice. Output samples that need input not yet given are produced by a
// later call. It allocates only if dst lacks room for MaxOut(len(src))
// samples, or the first time src is longer than any earlier chunk.
func (r *Resampler) Process(dst []int16, src []int16) []int16 {
	if r.k == 0 {
		return append(dst, src...)
	}
	for _, s := range src {
		r.buf = append(r.buf, float32(s))
	}
	buf := r.buf
	for r.i < len(buf) {
		c := r.phases[r.p]
		x := buf[r.i+1-r.k : r.i+1]
		var acc float32
		x = x[:len(c)]
		for j, hj := range c {
			acc += hj * x[j]
		}
		dst = append(dst, clamp(acc))
		r.p += r.m
		r.i += r.p / r.l
		r.p %= r.l
	}
	// Keep the last k-1 samples as history.
	keep := r.k - 1
	drop := len(buf) - keep
	copy(buf, buf[drop:])
	r.buf = buf[:keep]
	r.i -= drop
	return dst
}

func clamp(v float32) int16 {
	v = float32(math.Round(float64(v)))
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}
