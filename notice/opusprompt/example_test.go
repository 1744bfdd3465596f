package opusprompt_test

import (
	"fmt"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
)

// Prepare an MP3 notice once for every Opus (WebRTC) call.
func Example() {
	p, err := notice.LoadFile("../testdata/notice-fr.mp3")
	if err != nil {
		panic(err)
	}
	cache := notice.Cache{Encoders: opusprompt.Encoders}
	prep, err := cache.Get(p, notice.CodecOpus) // encoded here, once
	if err != nil {
		panic(err)
	}
	again, _ := cache.Get(p, notice.CodecOpus) // every later call: from the cache
	_, ticks := prep.Frame(0)
	fmt.Println(prep.Codec(), prep.Len() > 150, ticks, again == prep)
	// Output: opus true 960 true
}
