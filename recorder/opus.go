package recorder

import (
	"errors"
	"fmt"
)

// ErrBadPacket: an Opus packet that breaks RFC 6716 section 3.4. Such a
// packet is never written (it could make the whole Ogg packet undecodable).
var ErrBadPacket = errors.New("malformed opus packet")

const (
	maxFrameBytes = 1275
	maxFrames     = 48
)

// frameSamples48 returns the duration of one frame of TOC config c in 48 kHz
// samples (RFC 6716 table 2).
func frameSamples48(toc byte) int {
	c := toc >> 3
	switch {
	case c < 12: // SILK: 10, 20, 40, 60 ms
		return [4]int{480, 960, 1920, 2880}[c&3]
	case c < 16: // Hybrid: 10, 20 ms
		return [2]int{480, 960}[c&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		return [4]int{120, 240, 480, 960}[c&3]
	}
}

// opusPacket is a parsed Opus packet: frame i is p[off[i]:off[i]+size[i]],
// the frame data starts at hdr (every byte before is TOC, count, padding and
// VBR lengths).
type opusPacket struct {
	toc    byte
	n      int
	hdr    int // offset of the first frame's data
	end    int // bytes consumed (including padding)
	off    [maxFrames]int32
	size   [maxFrames]int32
	sdSize int // self-delimited: the length field's value; also the size of the last frame
	sdLen  int // self-delimited: bytes of the length field
}

// samples returns the duration of the packet in 48 kHz samples.
func (o *opusPacket) samples() int { return o.n * frameSamples48(o.toc) }

// readLen decodes an RFC 6716 section 3.2.1 frame length.
func readLen(p []byte) (n, used int, err error) {
	if len(p) < 1 {
		return 0, 0, ErrBadPacket
	}
	if p[0] < 252 {
		return int(p[0]), 1, nil
	}
	if len(p) < 2 {
		return 0, 0, ErrBadPacket
	}
	return int(p[1])*4 + int(p[0]), 2, nil
}

// appendLen encodes an RFC 6716 frame length.
func appendLen(dst []byte, n int) []byte {
	if n < 252 {
		return append(dst, byte(n))
	}
	return append(dst, byte(252+n&3), byte((n-252-n&3)>>2))
}

// parseOpus parses p. With sd, p starts with a self-delimited packet
// (RFC 6716 appendix B) and o.end tells where it ends; otherwise p is one
// whole packet.
func parseOpus(p []byte, sd bool, o *opusPacket) error {
	if len(p) < 1 {
		return fmt.Errorf("parse: empty packet: %w", ErrBadPacket)
	}
	o.toc = p[0]
	if !sd && p[0]&3 == 0 { // the common case: one frame
		if len(p)-1 > maxFrameBytes {
			return fmt.Errorf("parse: frame size %d: %w", len(p)-1, ErrBadPacket)
		}
		o.n, o.hdr, o.end, o.off[0], o.size[0] = 1, 1, len(p), 1, int32(len(p)-1)
		return nil
	}
	i := 1
	code := p[0] & 3
	var pad int
	lens := [maxFrames]int{}
	switch code {
	case 0:
		o.n = 1
	case 1:
		o.n = 2
	case 2:
		o.n = 2
		l, u, err := readLen(p[i:])
		if err != nil {
			return fmt.Errorf("parse: code 2 length: %w", err)
		}
		i += u
		lens[0] = l
	case 3:
		if len(p) < 2 {
			return fmt.Errorf("parse: code 3 without count: %w", ErrBadPacket)
		}
		cnt := p[1]
		i = 2
		o.n = int(cnt & 0x3f)
		if o.n == 0 || o.n*frameSamples48(o.toc) > 5760 {
			return fmt.Errorf("parse: code 3 count %d: %w", o.n, ErrBadPacket)
		}
		if cnt&0x40 != 0 {
			for {
				if i >= len(p) {
					return fmt.Errorf("parse: padding length: %w", ErrBadPacket)
				}
				b := p[i]
				i++
				if b == 255 {
					pad += 254
					continue
				}
				pad += int(b)
				break
			}
		}
		if cnt&0x80 != 0 {
			for k := 0; k < o.n-1; k++ {
				l, u, err := readLen(p[i:])
				if err != nil {
					return fmt.Errorf("parse: code 3 length: %w", err)
				}
				i += u
				lens[k] = l
			}
		}
	}
	// The self-delimiting length, or the remaining bytes.
	var last int
	if sd {
		l, u, err := readLen(p[i:])
		if err != nil {
			return fmt.Errorf("parse: self-delimiting length: %w", err)
		}
		o.sdSize, o.sdLen = l, u
		i += u
		last = l
	}
	o.hdr = i
	rest := len(p) - i
	switch {
	case code == 0:
		if !sd {
			last = rest
		}
		lens[0] = last
	case code == 1:
		if sd {
			lens[0], lens[1] = last, last
		} else {
			if rest%2 != 0 {
				return fmt.Errorf("parse: code 1 odd length: %w", ErrBadPacket)
			}
			lens[0], lens[1] = rest/2, rest/2
		}
	case code == 2:
		if sd {
			lens[1] = last
		} else {
			lens[1] = rest - lens[0]
		}
	case p[1]&0x80 != 0: // code 3 VBR
		if sd {
			lens[o.n-1] = last
		} else {
			sum := 0
			for k := 0; k < o.n-1; k++ {
				sum += lens[k]
			}
			lens[o.n-1] = rest - pad - sum
		}
	default: // code 3 CBR
		if sd {
			for k := 0; k < o.n; k++ {
				lens[k] = last
			}
		} else {
			if rest-pad < 0 || (rest-pad)%o.n != 0 {
				return fmt.Errorf("parse: code 3 CBR size: %w", ErrBadPacket)
			}
			for k := 0; k < o.n; k++ {
				lens[k] = (rest - pad) / o.n
			}
		}
	}
	off := i
	for k := 0; k < o.n; k++ {
		if lens[k] < 0 || lens[k] > maxFrameBytes {
			return fmt.Errorf("parse: frame %d size %d: %w", k, lens[k], ErrBadPacket)
		}
		o.off[k], o.size[k] = int32(off), int32(lens[k])
		off += lens[k]
	}
	off += pad
	if off > len(p) || (!sd && off != len(p)) {
		return fmt.Errorf("parse: sizes exceed the packet: %w", ErrBadPacket)
	}
	o.end = off
	return nil
}

// appendSelfDelimited appends the self-delimited form of the packet parsed
// in o (from p) to dst: one length field inserted before the frame data.
func appendSelfDelimited(dst, p []byte, o *opusPacket) []byte {
	dst = append(dst, p[:o.hdr]...)
	dst = appendLen(dst, int(o.size[o.n-1]))
	return append(dst, p[o.hdr:]...)
}

// undelimit appends the undelimited form of a self-delimited packet parsed
// in o from p (the inverse of appendSelfDelimited).
func undelimit(dst, p []byte, o *opusPacket) []byte {
	dst = append(dst, p[:o.hdr-o.sdLen]...)
	return append(dst, p[o.hdr:o.end]...)
}

// Filler packets (dualchannel.md): TOC-only packets make libopus-based
// decoders conceal (PLC); the CELT silence frame decodes to digital silence.
var (
	silence20 = []byte{0xF8, 0xFF, 0xFE} // CELT FB 20 ms, silence
)

// appendLossFiller appends a 20 ms packet without data built on the leg's
// last TOC (so decoders conceal with the right mode), self-delimited if sd.
func appendLossFiller(dst []byte, lastTOC byte, sd bool) []byte {
	switch frameSamples48(lastTOC) {
	case 960:
		dst = append(dst, lastTOC&^3)
	case 480:
		dst = append(dst, lastTOC&^3|1)
	default:
		dst = append(dst, 0xF8)
	}
	if sd {
		dst = append(dst, 0)
	}
	return dst
}
