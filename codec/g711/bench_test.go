package g711

import "testing"

// BenchmarkDecode and BenchmarkEncode measure one 20 ms frame (160 samples).
func BenchmarkDecode(b *testing.B) {
	for _, l := range []Law{ULaw, ALaw} {
		b.Run(l.String(), func(b *testing.B) {
			src := make([]byte, 160)
			for i := range src {
				src[i] = byte(i * 7)
			}
			dst := make([]int16, 160)
			b.ReportAllocs()
			for b.Loop() {
				l.Decode(dst, src)
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, l := range []Law{ULaw, ALaw} {
		b.Run(l.String(), func(b *testing.B) {
			src := make([]int16, 160)
			for i := range src {
				src[i] = int16(i*409 - 32000)
			}
			dst := make([]byte, 160)
			b.ReportAllocs()
			for b.Loop() {
				l.Encode(dst, src)
			}
		})
	}
}
