package recorder

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// CRCBytewise is the reference Ogg CRC (RFC 3533): polynomial 0x04C11DB7,
// MSB first, init 0, no final xor, one bit at a time, so that it shares
// nothing with oggChecksum's tables. Exported for the external tests
// (extract_test.go) that re-checksum pages they alter.
func CRCBytewise(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestOggChecksumReference(t *testing.T) {
	// The catalogue's check value of CRC-32/MPEG-2 without init and xorout
	// (CRC-32/OGG) holds for the reference itself.
	if got := CRCBytewise(0, []byte("123456789")); got != 0x89a1897f {
		t.Fatalf("reference check value %08x, want 89a1897f", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70_000+64)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 27 + 255, 65_307, 70_000}
	for range 300 {
		lengths = append(lengths, rng.IntN(70_001))
	}
	for _, n := range lengths {
		off := rng.IntN(64) // unaligned starts
		p := buf[off : off+n]
		want := CRCBytewise(0, p)
		if got := oggChecksum(0, p); got != want {
			t.Fatalf("%d bytes at offset %d: %08x, want %08x", n, off, got, want)
		}
		// Chained over a split, as a caller summing a page in parts would.
		k := 0
		if n > 0 {
			k = rng.IntN(n + 1)
		}
		if got := oggChecksum(oggChecksum(0, p[:k]), p[k:]); got != want {
			t.Fatalf("%d bytes at offset %d split at %d: %08x, want %08x", n, off, k, got, want)
		}
	}
}

func FuzzOggChecksum(f *testing.F) {
	f.Add([]byte("123456789"), uint32(0), uint16(4))
	f.Add(make([]byte, 300), uint32(0xffffffff), uint16(17))
	f.Add([]byte("OggS\x00\x02"), uint32(0x04c11db7), uint16(0))
	f.Fuzz(func(t *testing.T, p []byte, crc uint32, split uint16) {
		want := CRCBytewise(crc, p)
		if got := oggChecksum(crc, p); got != want {
			t.Fatalf("crc %08x of % x: %08x, want %08x", crc, p, got, want)
		}
		k := int(split) % (len(p) + 1)
		if got := oggChecksum(oggChecksum(crc, p[:k]), p[k:]); got != want {
			t.Fatalf("crc %08x of % x split at %d: %08x, want %08x", crc, p, k, got, want)
		}
	})
}

// BenchmarkOggChecksum measures the page CRC on a short page, a
// dual-channel page of a second of speech and the largest page.
func BenchmarkOggChecksum(b *testing.B) {
	for _, n := range []int{282, 6144, 65_307} {
		p := make([]byte, n+1)
		for i := range p {
			p[i] = byte(i * 7)
		}
		p = p[1:] // an unaligned start
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			var c uint32
			for b.Loop() {
				c = oggChecksum(c, p)
			}
			sink = c
		})
	}
}

var sink uint32
