package opusenc

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pion/opus"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// voice returns n samples at rate of a voice-like signal: a gliding
// 120-200 Hz fundamental with harmonics up to 3.4 kHz and a 4 Hz envelope.
func voice(rate, n int) []int16 {
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / float64(rate)
		f0 := 160 + 40*math.Sin(2*math.Pi*0.5*t)
		phase += 2 * math.Pi * f0 / float64(rate)
		var v float64
		for k := 1; float64(k)*f0 < 3400; k++ {
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		env := 0.55 + 0.45*math.Sin(2*math.Pi*4*t)
		out[i] = int16(6000 * env * v)
	}
	return out
}

// bestCorrelation returns the highest normalised correlation of a and b
// over lags 0..maxLag (b delayed against a), and that lag.
func bestCorrelation(a, b []int16, maxLag int) (float64, int) {
	best, bestLag := -1.0, 0
	for lag := 0; lag <= maxLag; lag++ {
		var ab, aa, bb float64
		for i := 0; i+lag < len(b) && i < len(a); i++ {
			x, y := float64(a[i]), float64(b[i+lag])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		if c := ab / math.Sqrt(aa*bb); c > best {
			best, bestLag = c, lag
		}
	}
	return best, bestLag
}

func TestEncodeDecodes(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		e, err := New(Config{SampleRate: rate})
		if err != nil {
			t.Fatal(err)
		}
		src := voice(rate, rate*2)
		pkts, err := e.EncodeAll(src)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkts) != 100 {
			t.Fatalf("%d Hz: %d packets for 2 s, want 100", rate, len(pkts))
		}
		dec, err := opus.NewDecoderWithOutput(rate, 1)
		if err != nil {
			t.Fatal(err)
		}
		var out []int16
		frame := make([]int16, rate/50)
		bytes := 0
		for _, p := range pkts {
			bytes += len(p)
			n, err := dec.DecodeToInt16(p, frame)
			if err != nil {
				t.Fatalf("%d Hz: pion/opus decode: %v", rate, err)
			}
			out = append(out, frame[:n]...)
		}
		c, lag := bestCorrelation(src[rate/10:], out[rate/10:], rate/100)
		t.Logf("%5d Hz: %d B/packet (%.1f kbit/s), correlation %.3f at lag %d samples, pre-skip %d",
			rate, bytes/len(pkts), float64(bytes*8)/2000, c, lag, e.PreSkip())
		// Opus/SILK is a perceptual codec: it keeps the spectral envelope
		// and pitch, not the exact waveform of the upper harmonics. This
		// signal measures 0.81-0.83 at every bitrate from 12 to 32 kbit/s
		// (and 0.999 for a pure tone); a broken encoder gives under 0.3.
		if want, tol := e.PreSkip()*rate/48000, max(3, rate/4000); c < 0.75 || lag < want-tol || lag > want+tol {
			t.Errorf("%d Hz: decoded signal correlates %.3f with the source at lag %d, want >= 0.75 near the pre-skip", rate, c, lag)
		}
	}
}

func TestOpusdecInterop(t *testing.T) {
	opusinfo, err1 := exec.LookPath("opusinfo")
	opusdec, err2 := exec.LookPath("opusdec")
	if err1 != nil || err2 != nil {
		t.Skip("opus-tools not installed (Debian package opus-tools)")
	}
	e, _ := New(Config{})
	pkts, err := e.EncodeAll(voice(8000, 8000))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.opus")
	w, err := oggwriter.New(path, 48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		if err := w.WriteRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * Samples48k)}, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(opusinfo, path).CombinedOutput(); err != nil {
		t.Fatalf("opusinfo: %v\n%s", err, out)
	}
	wav := filepath.Join(t.TempDir(), "a.wav")
	if out, err := exec.Command(opusdec, "--quiet", path, wav).CombinedOutput(); err != nil {
		t.Fatalf("opusdec: %v\n%s", err, out)
	}
	if st, err := os.Stat(wav); err != nil || st.Size() < 48000 {
		t.Fatalf("opusdec output: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []Config{{SampleRate: 44100}, {Bitrate: 1000}, {Complexity: 11}, {Complexity: -1}} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", c, err)
		}
	}
	e, _ := New(Config{})
	if _, err := e.Encode(make([]byte, MaxPacketSize), make([]int16, 159)); !errors.Is(err, ErrFrameSize) {
		t.Errorf("short frame: %v", err)
	}
	if _, err := e.Encode(make([]byte, 10), make([]int16, 160)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short dst: %v", err)
	}
	if got := e.Config(); got.SampleRate != 8000 || got.Bitrate != 16000 || got.Complexity != 5 || e.FrameSize() != 160 {
		t.Errorf("defaults: %+v frame %d", got, e.FrameSize())
	}
}

func TestNoAllocs(t *testing.T) {
	e, _ := New(Config{})
	src := voice(8000, 8000)
	dst := make([]byte, MaxPacketSize)
	i := 0
	for range 60 { // warm up the lazy buffers
		e.Encode(dst, src[i*160:(i+1)*160])
		i = (i + 1) % 50
	}
	allocs := testing.AllocsPerRun(40, func() {
		if _, err := e.Encode(dst, src[i*160:(i+1)*160]); err != nil {
			t.Fatal(err)
		}
		i = (i + 1) % 50
	})
	if allocs != 0 {
		t.Errorf("%v allocs per frame", allocs)
	}
}

func TestSilenceDecodesToZero(t *testing.T) {
	dec, _ := opus.NewDecoderWithOutput(48000, 1)
	out := make([]int16, 960)
	n, err := dec.DecodeToInt16(Silence(), out)
	if err != nil || n != 960 {
		t.Fatalf("decode silence: %d, %v", n, err)
	}
	for _, v := range out {
		if v != 0 {
			t.Fatalf("silence frame decodes to %d", v)
		}
	}
}

func TestResetIsAFreshStream(t *testing.T) {
	enc, err := New(Config{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, enc.FrameSize())
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/16000))
	}
	encodeN := func() [][]byte {
		var out [][]byte
		buf := make([]byte, MaxPacketSize)
		for range 10 {
			n, err := enc.Encode(buf, pcm)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]byte(nil), buf[:n]...))
		}
		return out
	}
	first := encodeN()
	enc.Reset()
	second := encodeN()
	for i := range first {
		if !bytes.Equal(first[i], second[i]) {
			t.Fatalf("packet %d differs after Reset", i)
		}
	}
}
