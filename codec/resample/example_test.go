package resample_test

import (
	"fmt"

	"github.com/consentrec/consentrec/codec/resample"
)

func Example() {
	// Upsample 20 ms frames of 8 kHz telephone audio to 48 kHz.
	r, err := resample.New(8000, 48000)
	if err != nil {
		panic(err)
	}
	frame := make([]int16, 160)
	out := make([]int16, 0, r.MaxOut(len(frame)))
	total := 0
	for range 50 { // one second
		out = r.Process(out[:0], frame)
		total += len(out)
	}
	fmt.Printf("%d samples out, delay %.2f ms\n", total, r.Delay()*1000)
	// Output: 48000 samples out, delay 1.99 ms
}
