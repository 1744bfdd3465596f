package opusenc_test

import (
	"fmt"

	"github.com/consentrec/consentrec/codec/opusenc"
)

func Example() {
	enc, err := opusenc.New(opusenc.Config{}) // 8 kHz, 16 kbit/s, complexity 5
	if err != nil {
		panic(err)
	}
	pcm := make([]int16, enc.FrameSize()) // one 20 ms frame of silence
	pkt := make([]byte, opusenc.MaxPacketSize)
	n, err := enc.Encode(pkt, pcm)
	fmt.Println(enc.FrameSize(), n > 0, err, enc.PreSkip())
	// Output: 160 true <nil> 312
}
