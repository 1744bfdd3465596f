package g711_test

import (
	"fmt"

	"github.com/consentrec/consentrec/codec/g711"
)

func Example() {
	// One 20 ms RTP payload is 160 code words at 8 kHz.
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 100)
	}
	payload := make([]byte, 160)
	law, _ := g711.LawForPayloadType(0) // PCMU
	law.Encode(payload, pcm)

	back := make([]int16, 160)
	n, _ := law.Decode(back, payload)
	fmt.Println(law, n, pcm[100], back[100])
	// Output: PCMU 160 10000 9852
}
