package notice

import (
	"math"
	"slices"
	"testing"

	"github.com/consentrec/consentrec/codec/resample"
)

// toRate cuts its input in chunks; the output is the same as one Process
// call over the whole prompt, for lengths around the chunk size.
func TestToRateChunksMatchWhole(t *testing.T) {
	for _, rates := range [][2]int{{48000, 16000}, {44100, 16000}, {8000, 48000}, {24000, 8000}} {
		for _, n := range []int{1, resampleChunk - 1, resampleChunk, resampleChunk + 1, 3*resampleChunk + 17} {
			src := make([]int16, n)
			for i := range src {
				src[i] = int16(8000 * math.Sin(float64(i)*0.013) * math.Cos(float64(i)*0.0007))
			}
			got, err := toRate(src, rates[0], rates[1])
			if err != nil {
				t.Fatal(err)
			}
			r, _ := resample.New(rates[0], rates[1])
			tail := int(math.Ceil(r.Delay()*float64(rates[0]))) + 2
			want := r.Process(r.Process(nil, src), make([]int16, tail))
			want = want[min(int(math.Round(r.Delay()*float64(rates[1]))), len(want)):]
			want = want[:min(len(want), n*rates[1]/rates[0])]
			if !slices.Equal(got, want) {
				t.Errorf("%d -> %d Hz, %d samples: chunked output differs from one pass", rates[0], rates[1], n)
			}
		}
	}
}
