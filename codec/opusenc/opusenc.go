// Package opusenc encodes mono 16-bit PCM into Opus packets of 20 ms, in
// pure Go. It is the only package of consentrec that imports the encoder
// (github.com/thesyncim/gopus), so programs that only record Opus legs never
// link or download it.
//
// The zero [Config] is the telephony default: 8 kHz input (narrowband, the
// whole band of a G.711 leg), VoIP application, 16 kbit/s VBR, complexity
// 5, no DTX, no FEC. An [Encoder] turns exactly one 20 ms frame into one
// packet per call and does not allocate.
//
// Opus packets are timed at 48 kHz whatever the input rate: one packet
// always advances an RTP or Ogg timeline by [Samples48k] (960) ticks.
package opusenc

import (
	"errors"
	"fmt"
	"time"

	"github.com/thesyncim/gopus"
)

// Framing constants.
const (
	FrameDuration = 20 * time.Millisecond
	Samples48k    = 960  // 48 kHz ticks per packet (RTP and Ogg granule clock)
	MaxPacketSize = 1275 // the largest single-frame Opus packet (RFC 6716 §3.2.1)
)

// Errors.
var (
	// ErrConfig: an unsupported rate, bitrate or complexity.
	ErrConfig = errors.New("opusenc: invalid configuration")
	// ErrFrameSize: the PCM given to Encode is not exactly one 20 ms frame.
	ErrFrameSize = errors.New("opusenc: pcm is not one 20 ms frame")
	// ErrShortBuffer: the destination is smaller than MaxPacketSize.
	ErrShortBuffer = errors.New("opusenc: destination shorter than MaxPacketSize")
)

// Config configures an Encoder. The zero value is the telephony default.
type Config struct {
	// SampleRate of the input: 8000, 12000, 16000, 24000 or 48000 Hz.
	// Zero means 8000: G.711 carries nothing above 4 kHz, and 8 kHz is the
	// fastest mode of the encoder. Use 16000 for wideband sources and 48000
	// for music-on-hold or prompts recorded at full band.
	SampleRate int
	// Bitrate in bit/s (6000..510000). Zero means 16000 at 8 kHz, 24000 at
	// 12 and 16 kHz and 32000 above.
	Bitrate int
	// Complexity 1..10 trades CPU for quality; zero means 5, which keeps a
	// core above 100 real-time legs (see the package benchmarks).
	Complexity int
	// DTX lets the encoder send 1-byte packets during silence. Off by
	// default: a recording's timeline is easier to audit without it.
	DTX bool
	// FEC adds in-band forward error correction (useful on the wire, not in
	// a file). Off by default.
	FEC bool
	// Music tunes the encoder for music (prompts with music) instead of
	// speech.
	Music bool
}

// Encoder encodes 20 ms frames. It is not safe for concurrent use; use one
// per stream. Its memory footprint is about 400 KiB.
type Encoder struct {
	enc       *gopus.Encoder
	cfg       Config
	frameSize int
}

func (c Config) withDefaults() Config {
	if c.SampleRate == 0 {
		c.SampleRate = 8000
	}
	if c.Bitrate == 0 {
		switch {
		case c.SampleRate <= 8000:
			c.Bitrate = 16000
		case c.SampleRate <= 16000:
			c.Bitrate = 24000
		default:
			c.Bitrate = 32000
		}
	}
	if c.Complexity == 0 {
		c.Complexity = 5
	}
	return c
}

// New returns an Encoder for cfg. Invalid values return an error wrapping
// ErrConfig.
func New(cfg Config) (*Encoder, error) {
	c := cfg.withDefaults()
	switch c.SampleRate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return nil, fmt.Errorf("opusenc: sample rate %d Hz: %w", c.SampleRate, ErrConfig)
	}
	if c.Bitrate < 6000 || c.Bitrate > 510000 {
		return nil, fmt.Errorf("opusenc: bitrate %d bit/s: %w", c.Bitrate, ErrConfig)
	}
	if c.Complexity < 1 || c.Complexity > 10 {
		return nil, fmt.Errorf("opusenc: complexity %d: %w", c.Complexity, ErrConfig)
	}
	app := gopus.ApplicationVoIP
	if c.Music {
		app = gopus.ApplicationAudio
	}
	enc, err := gopus.NewEncoder(gopus.EncoderConfig{SampleRate: c.SampleRate, Channels: 1, Application: app})
	if err != nil {
		return nil, fmt.Errorf("opusenc: %w: %w", ErrConfig, err)
	}
	if err := enc.SetBitrate(c.Bitrate); err != nil {
		return nil, fmt.Errorf("opusenc: bitrate: %w: %w", ErrConfig, err)
	}
	if err := enc.SetComplexity(c.Complexity); err != nil {
		return nil, fmt.Errorf("opusenc: complexity: %w: %w", ErrConfig, err)
	}
	enc.SetDTX(c.DTX)
	enc.SetFEC(c.FEC)
	signal := gopus.SignalVoice
	if c.Music {
		signal = gopus.SignalMusic
	}
	if err := enc.SetSignal(signal); err != nil {
		return nil, fmt.Errorf("opusenc: signal: %w: %w", ErrConfig, err)
	}
	return &Encoder{enc: enc, cfg: c, frameSize: c.SampleRate / 50}, nil
}

// Config returns the configuration in use, defaults filled in.
func (e *Encoder) Config() Config { return e.cfg }

// FrameSize returns the number of input samples of one 20 ms frame
// (160 at 8 kHz, 320 at 16 kHz, 960 at 48 kHz).
func (e *Encoder) FrameSize() int { return e.frameSize }

// PreSkip returns the encoder's delay in 48 kHz samples: the number of
// decoded samples to discard at the start of a stream (the Ogg Opus
// pre-skip of a file whose first packet came from this encoder).
func (e *Encoder) PreSkip() int { return e.enc.Lookahead() * 48000 / e.cfg.SampleRate }

// Encode encodes exactly FrameSize samples into dst and returns the packet
// length (always at least 1: every call yields one 20 ms packet). dst must
// hold MaxPacketSize bytes. It returns ErrFrameSize or ErrShortBuffer on bad
// arguments, and does not allocate.
func (e *Encoder) Encode(dst []byte, pcm []int16) (int, error) {
	if len(pcm) != e.frameSize {
		return 0, fmt.Errorf("opusenc: %d samples, want %d: %w", len(pcm), e.frameSize, ErrFrameSize)
	}
	if len(dst) < MaxPacketSize {
		return 0, ErrShortBuffer
	}
	n, err := e.enc.EncodeInt16(pcm, dst[:MaxPacketSize])
	if err != nil {
		return 0, fmt.Errorf("opusenc: encode: %w", err)
	}
	if n == 0 {
		// The encoder is still filling its lookahead: emit a valid silent
		// frame so that the packet count stays one per 20 ms.
		return copy(dst, silence[:]), nil
	}
	return n, nil
}

// Reset returns the encoder to its initial state (a new stream): after a
// Reset, the same input gives the same packets as from a new Encoder.
// gopus's own Reset keeps some adaptive state (its output differs from a
// fresh encoder's), so Reset builds a fresh one with the same configuration.
func (e *Encoder) Reset() {
	if fresh, err := New(e.cfg); err == nil {
		*e = *fresh
		return
	}
	e.enc.Reset() // unreachable: e.cfg was valid when e was made
}

// silence is a 20 ms CELT frame that decodes to digital silence
// (TOC 0xF8: CELT fullband 20 ms, mono, one frame; 0xFF 0xFE: silence flag).
var silence = [3]byte{0xF8, 0xFF, 0xFE}

// Silence returns a 20 ms Opus packet that decodes to digital silence, for
// filling gaps without an encoder. The caller may keep the slice.
func Silence() []byte { return append([]byte(nil), silence[:]...) }

// EncodeAll encodes a whole PCM buffer (for example a prompt) into 20 ms
// packets, padding the last frame with silence. It allocates the packets.
func (e *Encoder) EncodeAll(pcm []int16) ([][]byte, error) {
	var out [][]byte
	frame := make([]int16, e.frameSize)
	buf := make([]byte, MaxPacketSize)
	for len(pcm) > 0 {
		n := copy(frame, pcm)
		clear(frame[n:])
		pcm = pcm[n:]
		m, err := e.Encode(buf, frame)
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), buf[:m]...))
	}
	return out, nil
}
