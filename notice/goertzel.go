package notice

import (
	"fmt"
	"math"

	"github.com/consentrec/consentrec/codec/g711"
)

var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]Key{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// ToneDetector finds in-band DTMF in decoded audio (for legs that do not
// send RFC 4733 telephone-events), with the Goertzel algorithm.
//
// It analyses windows of 25.6 ms (205 samples at 8 kHz) every 12.8 ms and
// accepts a key when two consecutive windows agree: one strongest row and
// one strongest column tone, together carrying most of the window's energy,
// within 8 dB of each other (twist), each 8 dB above the other tones of its
// group, above -35 dBFS. Tones of 40 ms or more are detected (ITU-T Q.24);
// a key is reported once until 25 ms without it (or another key) follows.
// It is not safe for concurrent use.
type ToneDetector struct {
	rate  int
	n     int        // window length
	hop   int        // samples between analyses
	coef  [8]float64 // Goertzel coefficients, rows then columns
	buf   []float64  // ring of the last n samples
	win   []float64  // the window, in order, for analyse
	pos   int        // next write index in buf
	fill  int        // samples in buf (up to n)
	since int        // samples since the last analysis

	pcm []int16 // FeedG711's decode buffer

	cand    Key // key seen in the last window (0: none)
	current Key // key being held (reported), 0 when released
	quiet   int // consecutive windows without the current key
}

// NewToneDetector returns a detector for mono audio at rate Hz (8000 to
// 48000).
func NewToneDetector(rate int) (*ToneDetector, error) {
	if rate < 8000 || rate > 48000 {
		return nil, fmt.Errorf("notice: tone detector: sample rate %d: %w", rate, ErrFormat)
	}
	n := rate * 205 / 8000
	d := &ToneDetector{rate: rate, n: n, hop: n / 2, buf: make([]float64, n), win: make([]float64, n)}
	for i, f := range append(dtmfRows[:], dtmfCols[:]...) {
		d.coef[i] = 2 * math.Cos(2*math.Pi*f/float64(rate))
	}
	return d, nil
}

// Feed analyses pcm, which continues the audio of earlier calls, and
// appends to dst the keys whose press begins in it.
func (d *ToneDetector) Feed(dst []Key, pcm []int16) []Key {
	for _, s := range pcm {
		d.buf[d.pos] = float64(s) / 32768
		d.pos++
		if d.pos == d.n {
			d.pos = 0
		}
		if d.fill < d.n {
			d.fill++
		}
		d.since++
		if d.fill == d.n && d.since >= d.hop {
			d.since = 0
			if k, ok := d.step(d.analyse()); ok {
				dst = append(dst, k)
			}
		}
	}
	return dst
}

// step applies the debouncing state machine to one window's verdict.
func (d *ToneDetector) step(k Key) (Key, bool) {
	prev := d.cand
	d.cand = k
	if k != 0 && k == prev && k != d.current {
		d.current, d.quiet = k, 0
		return k, true
	}
	if d.current != 0 && k != d.current {
		d.quiet++
		if d.quiet >= 2 {
			d.current = 0
		}
	} else {
		d.quiet = 0
	}
	return 0, false
}

// analyse runs Goertzel over the window and returns its key, or 0.
func (d *ToneDetector) analyse() Key {
	var pw [8]float64
	var energy float64
	win := d.win[:copy(d.win, d.buf[d.pos:])]
	win = append(win, d.buf[:d.pos]...)
	for i := range 8 {
		var s1, s2 float64
		c := d.coef[i]
		for _, x := range win {
			s1, s2 = x+c*s1-s2, s1
		}
		pw[i] = s1*s1 + s2*s2 - c*s1*s2
	}
	for _, x := range win {
		energy += x * x
	}
	// -35 dBFS RMS for the window (a full-scale sine is -3 dBFS).
	if energy/float64(d.n) < math.Pow(10, -35.0/10)/2 {
		return 0
	}
	r, rp, r2 := best(pw[:4])
	c, cp, c2 := best(pw[4:])
	const db8 = 6.31 // 8 dB as a power ratio
	switch {
	case rp < db8*r2 || cp < db8*c2: // another tone of the group too strong
		return 0
	case rp > db8*cp || cp > db8*rp: // twist
		return 0
	}
	// Normalised so that a pure sine of the bin's frequency gives 1.
	norm := energy * float64(d.n) / 2
	if (rp+cp)/norm < 0.7 {
		return 0 // the tones carry too little of the energy: speech or noise
	}
	return dtmfKeys[r][c]
}

// best returns the index and power of the strongest entry, and the power of
// the second strongest.
func best(p []float64) (int, float64, float64) {
	bi, b, second := 0, p[0], 0.0
	for i := 1; i < len(p); i++ {
		switch {
		case p[i] > b:
			bi, b, second = i, p[i], b
		case p[i] > second:
			second = p[i]
		}
	}
	return bi, b, second
}

// FeedG711 decodes one G.711 RTP payload (codec CodecPCMU or CodecPCMA) and
// feeds it: in-band DTMF of a SIP leg that sends no telephone-events. The
// detector must run at 8000 Hz. It does not allocate once warmed up.
func (d *ToneDetector) FeedG711(dst []Key, c Codec, payload []byte) ([]Key, error) {
	var law g711.Law
	switch c {
	case CodecPCMU:
		law = g711.ULaw
	case CodecPCMA:
		law = g711.ALaw
	default:
		return dst, fmt.Errorf("notice: tone detector: %q is not G.711: %w", c, ErrCodec)
	}
	if d.rate != 8000 {
		return dst, fmt.Errorf("notice: tone detector at %d Hz fed G.711 (8000 Hz): %w", d.rate, ErrCodec)
	}
	if cap(d.pcm) < len(payload) {
		d.pcm = make([]int16, len(payload))
	}
	pcm := d.pcm[:len(payload)]
	if _, err := law.Decode(pcm, payload); err != nil {
		return dst, fmt.Errorf("notice: tone detector: %w", err)
	}
	return d.Feed(dst, pcm), nil
}
