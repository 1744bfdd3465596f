package notice

import (
	"fmt"
	"sync"
	"time"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/pion/opus"
)

// Codec is an RTP audio codec a prompt can be prepared for.
type Codec string

// Codecs.
const (
	CodecOpus Codec = "opus" // 48 kHz clock, WebRTC
	CodecPCMU Codec = "PCMU" // G.711 μ-law, 8 kHz, RTP payload type 0
	CodecPCMA Codec = "PCMA" // G.711 A-law, 8 kHz, RTP payload type 8
)

// ClockRate is the codec's RTP clock rate, 0 for an unknown codec.
func (c Codec) ClockRate() int {
	switch c {
	case CodecOpus:
		return 48000
	case CodecPCMU, CodecPCMA:
		return 8000
	}
	return 0
}

// FrameDuration is the length of every prepared frame.
const FrameDuration = 20 * time.Millisecond

// FrameEncoder encodes 20 ms frames of mono PCM for one codec.
//
// Encode is called with exactly SampleRate()/50 samples and appends the
// encoded frame to dst. An encoder may keep state between frames (Opus
// does): it is used by one goroutine at a time, for one prompt at a time,
// and Reset is called before each prompt.
type FrameEncoder interface {
	Codec() Codec
	SampleRate() int
	Encode(dst []byte, pcm []int16) ([]byte, error)
	Reset() error
}

// EncoderFactory returns a fresh encoder for a codec, or an error wrapping
// ErrCodec when it does not support it.
type EncoderFactory func(Codec) (FrameEncoder, error)

// G711Encoders is the built-in EncoderFactory: PCMU and PCMA, pure Go. For
// Opus, use opusprompt.Encoders.
func G711Encoders(c Codec) (FrameEncoder, error) {
	switch c {
	case CodecPCMU:
		return g711Encoder{g711.ULaw, c}, nil
	case CodecPCMA:
		return g711Encoder{g711.ALaw, c}, nil
	}
	return nil, fmt.Errorf("notice: no encoder for %q (import notice/opusprompt for Opus): %w", c, ErrCodec)
}

type g711Encoder struct {
	law   g711.Law
	codec Codec
}

var _ FrameEncoder = g711Encoder{}

func (e g711Encoder) Codec() Codec    { return e.codec }
func (e g711Encoder) SampleRate() int { return 8000 }
func (e g711Encoder) Reset() error    { return nil }
func (e g711Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, len(pcm))...)
	if _, err := e.law.Encode(dst[n:], pcm); err != nil {
		return dst[:n], fmt.Errorf("notice: %s encode: %w", e.codec, err)
	}
	return dst, nil
}

// Prepared is a prompt encoded for one codec: 20 ms frames ready to send,
// immutable and shared by every call that plays it.
type Prepared struct {
	prompt  *Prompt
	codec   Codec
	frames  [][]byte
	samples []uint32 // RTP timestamp increment of each frame
	dur     time.Duration
}

// Prompt is the prompt this was prepared from.
func (p *Prepared) Prompt() *Prompt { return p.prompt }

// Codec is the codec of the frames.
func (p *Prepared) Codec() Codec { return p.codec }

// Len is the number of frames.
func (p *Prepared) Len() int { return len(p.frames) }

// Frame returns frame i and its duration in RTP clock units. The slice is
// shared: do not modify it.
func (p *Prepared) Frame(i int) ([]byte, uint32) { return p.frames[i], p.samples[i] }

// Duration is the playing time of all frames.
func (p *Prepared) Duration() time.Duration { return p.dur }

// Prepare encodes p for the encoder's codec. An Ogg Opus prompt is used as
// it is for Opus (no encoding, enc may be nil), and decoded for other
// codecs. PCM prompts are resampled to the encoder's rate, cut in 20 ms
// frames (the last one padded with silence) and encoded.
func Prepare(p *Prompt, c Codec, enc FrameEncoder) (*Prepared, error) {
	if c.ClockRate() == 0 {
		return nil, fmt.Errorf("notice: prepare %s: codec %q: %w", p.name, c, ErrCodec)
	}
	if p.format == FormatOggOpus && c == CodecOpus {
		out := &Prepared{prompt: p, codec: c, frames: p.opus, samples: make([]uint32, len(p.opus))}
		for i, d := range p.opusDur {
			out.samples[i] = uint32(d)
			out.dur += time.Duration(d) * time.Second / 48000
		}
		return out, nil
	}
	if enc == nil || enc.Codec() != c {
		return nil, fmt.Errorf("notice: prepare %s for %s: no encoder for it: %w", p.name, c, ErrCodec)
	}
	rate := enc.SampleRate()
	if rate < 8000 || rate > 48000 {
		return nil, fmt.Errorf("notice: prepare %s: encoder rate %d: %w", p.name, rate, ErrCodec)
	}
	var pcm []int16
	if p.format == FormatOggOpus {
		var err error
		if pcm, err = decodeOpus(p, rate); err != nil {
			return nil, fmt.Errorf("notice: prepare %s for %s: %w", p.name, c, err)
		}
	} else {
		var err error
		if pcm, err = toRate(p.pcm, p.rate, rate); err != nil {
			return nil, fmt.Errorf("notice: prepare %s for %s: %w", p.name, c, err)
		}
	}
	if err := enc.Reset(); err != nil {
		return nil, fmt.Errorf("notice: prepare %s for %s: %w", p.name, c, err)
	}
	fs := rate / 50
	n := (len(pcm) + fs - 1) / fs
	out := &Prepared{prompt: p, codec: c, frames: make([][]byte, 0, n), samples: make([]uint32, n)}
	step := uint32(c.ClockRate() / 50)
	frame := make([]int16, fs)
	var arena []byte
	for i := range n {
		clear(frame)
		copy(frame, pcm[i*fs:])
		start := len(arena)
		var err error
		arena, err = enc.Encode(arena, frame)
		if err != nil {
			return nil, fmt.Errorf("notice: prepare %s for %s: frame %d: %w", p.name, c, i, err)
		}
		// Frames index into the arena once it stops growing; remember offsets.
		out.frames = append(out.frames, arena[start:len(arena):len(arena)])
		out.samples[i] = step
	}
	// The arena may have moved while growing: re-slice the frames from its
	// final backing array.
	off := 0
	for i, f := range out.frames {
		out.frames[i] = arena[off : off+len(f) : off+len(f)]
		off += len(f)
	}
	out.dur = time.Duration(n) * FrameDuration
	return out, nil
}

// decodeOpus decodes an Ogg Opus prompt to mono PCM at rate, dropping the
// pre-skip.
func decodeOpus(p *Prompt, rate int) ([]int16, error) {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return nil, fmt.Errorf("decode opus to %d Hz: %w", rate, ErrCodec)
	}
	dec, err := opus.NewDecoderWithOutput(rate, 1)
	if err != nil {
		return nil, fmt.Errorf("decode opus: %w", err)
	}
	out := make([]int16, 0, int(p.dur/time.Millisecond)*rate/1000+rate/10)
	buf := make([]int16, 5760)
	for i, pkt := range p.opus {
		n, err := dec.DecodeToInt16(pkt, buf)
		if err != nil {
			return nil, fmt.Errorf("decode opus packet %d: %w", i, err)
		}
		out = append(out, buf[:n]...)
	}
	skip := p.preSkip * rate / 48000
	if skip >= len(out) {
		return nil, fmt.Errorf("decode opus: %w", formatErr("ogg", -1, "pre-skip longer than the audio"))
	}
	return out[skip:], nil
}

// Cache prepares each prompt once per codec and shares the result between
// calls. Its zero value uses G711Encoders; set Encoders (for example to
// opusprompt.Encoders) to add Opus. It is safe for concurrent use: callers
// asking for a prompt being prepared wait for that one preparation.
type Cache struct {
	Encoders EncoderFactory

	mu sync.Mutex
	m  map[cacheKey]*cacheEntry
}

type cacheKey struct {
	version string
	codec   Codec
}

type cacheEntry struct {
	done chan struct{}
	p    *Prepared
	err  error
}

// Get returns p prepared for codec c, preparing it on first use. A failed
// preparation is not cached: the next Get tries again.
func (c *Cache) Get(p *Prompt, codec Codec) (*Prepared, error) {
	k := cacheKey{p.version, codec}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey]*cacheEntry)
	}
	if e, ok := c.m[k]; ok {
		c.mu.Unlock()
		<-e.done
		if e.err != nil {
			return nil, e.err
		}
		return e.p, nil
	}
	e := &cacheEntry{done: make(chan struct{})}
	c.m[k] = e
	c.mu.Unlock()

	e.p, e.err = c.prepare(p, codec)
	if e.err != nil {
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
	close(e.done)
	return e.p, e.err
}

func (c *Cache) prepare(p *Prompt, codec Codec) (*Prepared, error) {
	if p.format == FormatOggOpus && codec == CodecOpus {
		return Prepare(p, codec, nil)
	}
	f := c.Encoders
	if f == nil {
		f = G711Encoders
	}
	enc, err := f(codec)
	if err != nil {
		return nil, err
	}
	return Prepare(p, codec, enc)
}

// Len is the number of prepared prompts held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
