//go:build unix

package opusprompt_test

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPrepareMP3ForOpus measures what a call's first use of a 10 s MP3
// prompt costs: decode the MP3, resample, encode every 20 ms frame. Target:
// at least 50x real time. x-realtime divides the audio by the wall time per
// preparation; x-realtime-cpu by the process's CPU time (user + system, GC
// included), which a machine shared with other work does not inflate.
func BenchmarkPrepareMP3ForOpus(b *testing.B) {
	raw, err := os.ReadFile("../testdata/notice-10s.mp3")
	if err != nil {
		b.Fatal(err)
	}
	var audio time.Duration
	b.ReportAllocs()
	cpu0 := cpuTime()
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
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(audio)*float64(b.N)/float64(b.Elapsed()), "x-realtime")
	b.ReportMetric(float64(audio)*float64(b.N)/float64(cpu), "x-realtime-cpu")
}
