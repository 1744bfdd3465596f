package notice_test

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
)

func mustG711(t testing.TB) notice.FrameEncoder {
	e, err := notice.G711Encoders(notice.CodecPCMU)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestG711EncodersConformance(t *testing.T) {
	for _, c := range []notice.Codec{notice.CodecPCMU, notice.CodecPCMA} {
		t.Run(string(c), func(t *testing.T) {
			noticetest.TestFrameEncoder(t, func(t *testing.T) notice.FrameEncoder {
				e, err := notice.G711Encoders(c)
				if err != nil {
					t.Fatal(err)
				}
				return e
			})
		})
	}
	if _, err := notice.G711Encoders(notice.CodecOpus); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("G711Encoders(opus) err = %v, want ErrCodec", err)
	}
}

// decodeG711 decodes prepared frames back to linear PCM.
func decodeG711(t *testing.T, p *notice.Prepared, law g711.Law) []int16 {
	t.Helper()
	var out []int16
	for i := range p.Len() {
		f, n := p.Frame(i)
		if len(f) != 160 || n != 160 {
			t.Fatalf("frame %d: %d bytes, %d units; want 160", i, len(f), n)
		}
		pcm := make([]int16, len(f))
		if _, err := law.Decode(pcm, f); err != nil {
			t.Fatal(err)
		}
		out = append(out, pcm...)
	}
	return out
}

// toneLevel returns the amplitude of freq in pcm (single-bin DFT).
func toneLevel(pcm []int16, rate int, freq float64) float64 {
	var re, im float64
	for i, s := range pcm {
		a := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += float64(s) * math.Cos(a)
		im += float64(s) * math.Sin(a)
	}
	return 2 * math.Hypot(re, im) / float64(len(pcm))
}

func TestPrepareG711FromEveryFormat(t *testing.T) {
	for _, tc := range []struct {
		file string
		law  g711.Law
		c    notice.Codec
	}{
		{"notice-en.wav", g711.ULaw, notice.CodecPCMU},
		{"notice-fr.mp3", g711.ALaw, notice.CodecPCMA},  // 44.1 kHz: resampled
		{"notice-en.opus", g711.ULaw, notice.CodecPCMU}, // decoded
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := notice.LoadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			enc, _ := notice.G711Encoders(tc.c)
			prep, err := notice.Prepare(p, tc.c, enc)
			if err != nil {
				t.Fatal(err)
			}
			want := (p.Duration() + notice.FrameDuration - 1) / notice.FrameDuration
			if d := prep.Len() - int(want); d < -1 || d > 1 {
				t.Errorf("%d frames for %v, want %d", prep.Len(), p.Duration(), want)
			}
			pcm := decodeG711(t, prep, tc.law)
			var e float64
			for _, s := range pcm {
				e += float64(s) * float64(s)
			}
			if rms := math.Sqrt(e / float64(len(pcm))); rms < 500 {
				t.Errorf("rms %.0f: no speech came through", rms)
			}
		})
	}
}

func TestPrepareResamplesInTune(t *testing.T) {
	// A 1 kHz tone at 44.1 kHz must stay a 1 kHz tone at 8 kHz, at the same level.
	const rate = 44100
	pcm := make([]int16, rate)
	for i := range pcm {
		pcm[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/rate))
	}
	p, _ := notice.NewPCMPrompt("tone", pcm, rate)
	prep, err := notice.Prepare(p, notice.CodecPCMU, mustG711(t))
	if err != nil {
		t.Fatal(err)
	}
	if prep.Len() != 50 || prep.Duration() != time.Second {
		t.Fatalf("%d frames, %v", prep.Len(), prep.Duration())
	}
	out := decodeG711(t, prep, g711.ULaw)[800:7200] // away from the edges
	if l := toneLevel(out, 8000, 1000); l < 9000 || l > 11000 {
		t.Errorf("1 kHz level %.0f after resampling, want about 10000", l)
	}
	if l := toneLevel(out, 8000, 1100); l > 300 {
		t.Errorf("1.1 kHz level %.0f: the tone moved", l)
	}
}

func TestPrepareOpusPassThrough(t *testing.T) {
	p, err := notice.LoadFile("testdata/notice-en.opus")
	if err != nil {
		t.Fatal(err)
	}
	prep, err := notice.Prepare(p, notice.CodecOpus, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prep.Len() != len(p.OpusPackets()) {
		t.Fatalf("%d frames, want the %d packets", prep.Len(), len(p.OpusPackets()))
	}
	for i := range prep.Len() {
		f, n := prep.Frame(i)
		if &f[0] != &p.OpusPackets()[i][0] || n != 960 {
			t.Fatalf("frame %d is not packet %d as is (or not 20 ms: %d)", i, i, n)
		}
	}
	// A PCM prompt cannot become Opus without an Opus encoder.
	w, _ := notice.LoadFile("testdata/notice-en.wav")
	if _, err := notice.Prepare(w, notice.CodecOpus, nil); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("err = %v, want ErrCodec", err)
	}
	var c notice.Cache
	if _, err := c.Get(w, notice.CodecOpus); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("zero Cache, opus: err = %v, want ErrCodec", err)
	}
	if _, err := notice.Prepare(w, "G729", mustG711(t)); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("unknown codec err = %v", err)
	}
}

// countingEncoder counts the frames it encodes.
type countingEncoder struct {
	notice.FrameEncoder
	n *atomic.Int64
}

func (c countingEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	c.n.Add(1)
	return c.FrameEncoder.Encode(dst, pcm)
}

func TestCachePreparesOnce(t *testing.T) {
	var frames, builds atomic.Int64
	c := notice.Cache{Encoders: func(codec notice.Codec) (notice.FrameEncoder, error) {
		builds.Add(1)
		e, err := notice.G711Encoders(codec)
		return countingEncoder{e, &frames}, err
	}}
	p, err := notice.LoadFile("testdata/notice-en.wav")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	res := make([]*notice.Prepared, 16)
	for i := range res {
		wg.Go(func() {
			var err error
			if res[i], err = c.Get(p, notice.CodecPCMU); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range res {
		if r != res[0] {
			t.Fatal("calls got different preparations")
		}
	}
	if builds.Load() != 1 || frames.Load() != int64(res[0].Len()) {
		t.Fatalf("%d encoders built, %d frames encoded; want 1 and %d", builds.Load(), frames.Load(), res[0].Len())
	}
	if _, err := c.Get(p, notice.CodecPCMA); err != nil || c.Len() != 2 || builds.Load() != 2 {
		t.Fatalf("PCMA: %v, %d cached, %d built", err, c.Len(), builds.Load())
	}
	// A failed preparation is not cached.
	bad := notice.Cache{Encoders: func(notice.Codec) (notice.FrameEncoder, error) { return nil, notice.ErrCodec }}
	if _, err := bad.Get(p, notice.CodecPCMU); !errors.Is(err, notice.ErrCodec) || bad.Len() != 0 {
		t.Fatalf("failed get: %v, %d cached", err, bad.Len())
	}
}
