package notice

import (
	"fmt"
	"math"

	"github.com/consentrec/consentrec/codec/resample"
)

// resampleChunk is how many input samples toRate hands the resampler at a
// time (100 ms at 48 kHz).
const resampleChunk = 4800

// toRate converts a whole prompt between rates with package codec/resample,
// compensating the filter's delay so the output is aligned with the input
// and as long as it (to the sample). It returns src itself for equal rates.
func toRate(src []int16, from, to int) ([]int16, error) {
	if from == to {
		return src, nil
	}
	r, err := resample.New(from, to)
	if err != nil {
		return nil, fmt.Errorf("resample prompt: %w", err)
	}
	want := int(int64(len(src)) * int64(to) / int64(from))
	skip := int(math.Round(r.Delay() * float64(to)))
	tail := int(math.Ceil(r.Delay()*float64(from))) + 2
	out := make([]int16, 0, r.MaxOut(len(src)+tail))
	// In chunks: the resampler copies its input into a float buffer, which
	// stays one chunk long instead of growing to the whole prompt (the
	// output is the same whatever the cut).
	for len(src) > 0 {
		n := min(len(src), resampleChunk)
		out = r.Process(out, src[:n])
		src = src[n:]
	}
	out = r.Process(out, make([]int16, tail))
	out = out[min(skip, len(out)):]
	if len(out) > want {
		out = out[:want]
	}
	return out, nil
}
