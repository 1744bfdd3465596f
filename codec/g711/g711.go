package g711

import (
	"errors"
	"fmt"
	"math/bits"
)

// Law is a G.711 companding law.
type Law uint8

// The two laws. The zero Law is invalid, so a forgotten field is an error,
// not silently μ-law.
const (
	ULaw Law = 1 // μ-law, North America and Japan, RTP PCMU
	ALaw Law = 2 // A-law, Europe and the rest of the world, RTP PCMA
)

// RTP static payload types (RFC 3551) and clock rate.
const (
	PayloadTypePCMU = 0    // μ-law
	PayloadTypePCMA = 8    // A-law
	ClockRate       = 8000 // samples per second, also the RTP clock
)

// Errors.
var (
	// ErrShortBuffer: the destination cannot hold the result.
	ErrShortBuffer = errors.New("g711: destination too short")
	// ErrUnknownLaw: a Law other than ULaw or ALaw, or a payload type other
	// than 0 and 8.
	ErrUnknownLaw = errors.New("g711: unknown law")
)

// LawForPayloadType returns the law of an RTP static payload type: 0 is
// μ-law, 8 is A-law; any other value returns an error wrapping ErrUnknownLaw.
func LawForPayloadType(pt uint8) (Law, error) {
	switch pt {
	case PayloadTypePCMU:
		return ULaw, nil
	case PayloadTypePCMA:
		return ALaw, nil
	}
	return 0, fmt.Errorf("payload type %d: %w", pt, ErrUnknownLaw)
}

// PayloadType returns the RTP static payload type of l (0 or 8), or 255 for
// an invalid law.
func (l Law) PayloadType() uint8 {
	switch l {
	case ULaw:
		return PayloadTypePCMU
	case ALaw:
		return PayloadTypePCMA
	}
	return 255
}

// Valid reports whether l is ULaw or ALaw.
func (l Law) Valid() bool { return l == ULaw || l == ALaw }

// String returns "PCMU", "PCMA" or "Law(n)".
func (l Law) String() string {
	switch l {
	case ULaw:
		return "PCMU"
	case ALaw:
		return "PCMA"
	}
	return fmt.Sprintf("Law(%d)", uint8(l))
}

// Silence returns the code word of linear 0 in l: 0xFF for μ-law, 0xD5 for
// A-law (0 for an invalid law).
func (l Law) Silence() byte {
	switch l {
	case ULaw:
		return 0xFF
	case ALaw:
		return 0xD5
	}
	return 0
}

// Decode decodes len(src) code words into dst[:len(src)] and returns the
// number of samples written. It returns ErrShortBuffer (writing nothing) if
// len(dst) < len(src), and ErrUnknownLaw for an invalid law. It never
// allocates.
func (l Law) Decode(dst []int16, src []byte) (int, error) {
	var tab *[256]int16
	switch l {
	case ULaw:
		tab = &ulawTable
	case ALaw:
		tab = &alawTable
	default:
		return 0, ErrUnknownLaw
	}
	if len(dst) < len(src) {
		return 0, ErrShortBuffer
	}
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = tab[b]
	}
	return len(src), nil
}

// Encode encodes len(src) linear samples into dst[:len(src)] and returns the
// number of bytes written. It returns ErrShortBuffer (writing nothing) if
// len(dst) < len(src), and ErrUnknownLaw for an invalid law. It never
// allocates.
func (l Law) Encode(dst []byte, src []int16) (int, error) {
	if len(dst) < len(src) {
		return 0, ErrShortBuffer
	}
	dst = dst[:len(src)]
	switch l {
	case ULaw:
		for i, s := range src {
			dst[i] = EncodeULaw(s)
		}
	case ALaw:
		for i, s := range src {
			dst[i] = EncodeALaw(s)
		}
	default:
		return 0, ErrUnknownLaw
	}
	return len(src), nil
}

// DecodeULaw returns the linear value of a μ-law code word.
func DecodeULaw(b byte) int16 { return ulawTable[b] }

// DecodeALaw returns the linear value of an A-law code word.
func DecodeALaw(b byte) int16 { return alawTable[b] }

const (
	ulawBias = 0x84  // 132: 33 in the 14-bit domain, shifted
	ulawClip = 32635 // 32767 - ulawBias
)

// EncodeULaw returns the μ-law code word of a 16-bit linear sample.
func EncodeULaw(s int16) byte {
	x := int32(s)
	var mask byte = 0xFF
	if x < 0 {
		// The reference works on 14 bits: an arithmetic shift, then negation.
		x = -(x >> 2) << 2
		mask = 0x7F
	}
	x = min(x, ulawClip) + ulawBias
	exp := bits.Len32(uint32(x)>>7) - 1 // 0..7
	mant := (x >> (exp + 3)) & 0x0F
	return (byte(exp<<4) | byte(mant)) ^ mask
}

// EncodeALaw returns the A-law code word of a 16-bit linear sample.
func EncodeALaw(s int16) byte {
	x := int32(s)
	var mask byte = 0xD5
	if x < 0 {
		x = ^x // -x-1, as the reference does on 13 bits
		mask = 0x55
	}
	v := x >> 3 // 13-bit magnitude, 0..4095
	seg := bits.Len32(uint32(v) >> 5)
	var code int32
	if seg < 2 {
		code = int32(seg)<<4 | (v>>1)&0x0F
	} else {
		code = int32(seg)<<4 | (v>>seg)&0x0F
	}
	return byte(code) ^ mask
}

var ulawTable, alawTable [256]int16

func init() {
	for i := range 256 {
		u := ^byte(i)
		t := (int32(u&0x0F)<<3 + ulawBias) << ((u & 0x70) >> 4)
		if u&0x80 != 0 {
			ulawTable[i] = int16(ulawBias - t)
		} else {
			ulawTable[i] = int16(t - ulawBias)
		}

		a := byte(i) ^ 0x55
		v := int32(a&0x0F) << 4
		switch seg := (a & 0x70) >> 4; seg {
		case 0:
			v += 8
		case 1:
			v += 0x108
		default:
			v = (v + 0x108) << (seg - 1)
		}
		if a&0x80 != 0 {
			alawTable[i] = int16(v)
		} else {
			alawTable[i] = int16(-v)
		}
	}
}
