// Package opusprompt prepares MP3 and WAV prompts for Opus calls (WebRTC),
// with the pure-Go encoder of package codec/opusenc. It is apart from
// package notice so that programs which never play such prompts into Opus
// calls never import an Opus encoder.
//
// Use it by setting a notice.Cache's Encoders:
//
//	cache := notice.Cache{Encoders: opusprompt.Encoders}
//
// Ogg Opus prompts need none of this: notice sends their packets as they are.
package opusprompt

import (
	"fmt"
	"slices"

	"github.com/consentrec/consentrec/codec/opusenc"
	"github.com/consentrec/consentrec/notice"
)

// DefaultConfig is the encoding used by Encoders: wideband (16 kHz, speech
// up to 8 kHz, twice telephone bandwidth) at 24 kbit/s, complexity 5,
// which prepares a 10 s prompt in about a hundred milliseconds.
var DefaultConfig = opusenc.Config{SampleRate: 16000, Bitrate: 24000, Complexity: 5}

// Encoder is a notice.FrameEncoder for Opus.
type Encoder struct {
	enc *opusenc.Encoder
}

var _ notice.FrameEncoder = (*Encoder)(nil)

// New returns an Opus FrameEncoder for cfg (see opusenc.Config; its zero
// value is 8 kHz telephony: prefer DefaultConfig for prompts).
func New(cfg opusenc.Config) (*Encoder, error) {
	e, err := opusenc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("opusprompt: %w: %w", notice.ErrCodec, err)
	}
	return &Encoder{enc: e}, nil
}

// Codec returns notice.CodecOpus.
func (e *Encoder) Codec() notice.Codec { return notice.CodecOpus }

// SampleRate is the input rate: prompts are resampled to it.
func (e *Encoder) SampleRate() int { return e.enc.Config().SampleRate }

// Encode appends one Opus packet for a 20 ms frame to dst.
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, opusenc.MaxPacketSize)[:n+opusenc.MaxPacketSize]
	k, err := e.enc.Encode(dst[n:], pcm)
	if err != nil {
		return dst[:n], fmt.Errorf("opusprompt: %w", err)
	}
	return dst[:n+k], nil
}

// Reset starts a new stream with a new encoder. (opusenc.Encoder.Reset
// leaves some state behind: the same input after it does not give the same
// packets, and prompts must encode the same way every time.)
func (e *Encoder) Reset() error {
	enc, err := opusenc.New(e.enc.Config())
	if err != nil {
		return fmt.Errorf("opusprompt: reset: %w", err)
	}
	e.enc = enc
	return nil
}

// Encoders is a notice.EncoderFactory: Opus with DefaultConfig, and the
// built-in PCMU and PCMA.
func Encoders(c notice.Codec) (notice.FrameEncoder, error) {
	if c == notice.CodecOpus {
		return New(DefaultConfig)
	}
	return notice.G711Encoders(c)
}
