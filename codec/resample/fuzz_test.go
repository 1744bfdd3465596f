package resample

import (
	"encoding/binary"
	"slices"
	"testing"
)

// FuzzProcess: arbitrary samples, cut at an arbitrary point, give the same
// output as one call, of the expected length, without panics.
func FuzzProcess(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0x7f, 0, 0x80}, uint8(1), uint8(0), uint8(3))
	f.Add(make([]byte, 400), uint8(3), uint8(2), uint8(100))
	f.Fuzz(func(t *testing.T, data []byte, fi, ti, cut uint8) {
		from, to := rates[int(fi)%len(rates)], rates[int(ti)%len(rates)]
		in := make([]int16, len(data)/2)
		for i := range in {
			in[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		a, err := New(from, to)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(from, to)
		whole := a.Process(nil, in)
		c := min(int(cut), len(in))
		parts := b.Process(b.Process(nil, in[:c]), in[c:])
		if !slices.Equal(whole, parts) {
			t.Fatalf("split at %d changes the output", c)
		}
		if len(whole) > a.MaxOut(len(in)) {
			t.Fatalf("%d out > MaxOut %d", len(whole), a.MaxOut(len(in)))
		}
	})
}
