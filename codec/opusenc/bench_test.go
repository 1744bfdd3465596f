package opusenc

import (
	"fmt"
	"testing"
)

// BenchmarkEncode encodes one 20 ms frame of the voice-like signal. The
// real-time factor of one core is 20 ms divided by ns/op.
func BenchmarkEncode(b *testing.B) {
	for _, rate := range []int{8000, 16000} {
		for _, cx := range []int{5, 9} {
			b.Run(fmt.Sprintf("rate=%d/complexity=%d", rate, cx), func(b *testing.B) {
				e, _ := New(Config{SampleRate: rate, Complexity: cx})
				src := voice(rate, rate)
				fs := e.FrameSize()
				dst := make([]byte, MaxPacketSize)
				for i := range 100 {
					e.Encode(dst, src[i%50*fs:][:fs])
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					e.Encode(dst, src[i*fs:][:fs])
					i = (i + 1) % 50
				}
				b.ReportMetric(float64(20e6)/float64(b.Elapsed().Nanoseconds()/int64(b.N)), "xRT")
			})
		}
	}
}
