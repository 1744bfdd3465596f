package resample

import (
	"fmt"
	"testing"
)

// BenchmarkProcess converts one 20 ms frame.
func BenchmarkProcess(b *testing.B) {
	for _, c := range []struct{ from, to int }{{8000, 16000}, {8000, 48000}, {16000, 48000}, {48000, 8000}, {44100, 48000}, {44100, 8000}} {
		b.Run(fmt.Sprintf("%d-%d", c.from, c.to), func(b *testing.B) {
			r, _ := New(c.from, c.to)
			in := tone(c.from, c.from/50, 440, 8000)
			dst := make([]int16, 0, r.MaxOut(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				dst = r.Process(dst[:0], in)
			}
		})
	}
}
