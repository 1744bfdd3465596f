package opusprompt_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
)

// BenchmarkPrepareMP3ForOpus measures what a call's first use of a 10 s MP3
// prompt costs: decode the MP3, resample, encode every 20 ms frame. Target:
// at least 50x real time.
func BenchmarkPrepareMP3ForOpus(b *testing.B) {
	raw, err := os.ReadFile("../testdata/notice-10s.mp3")
	if err != nil {
		b.Fatal(err)
	}
	var audio time.Duration
	b.ReportAllocs()
	for b.Loop() {
		p, err := notice.LoadMP3("p.mp3", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		enc, err := opusprompt.Encoders(notice.CodecOpus)
		if err != nil {
			b.Fatal(err)
		}
		prep, err := notice.Prepare(p, notice.CodecOpus, enc)
		if err != nil {
			b.Fatal(err)
		}
		audio = prep.Duration()
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(audio)/float64(perOp), "x-realtime")
}
