//go:build unix

package g711opus

import (
	"io"
	"math"
	"syscall"
	"testing"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// loopSource replays 10 s of G.711 packets forever, with increasing
// sequence numbers and timestamps.
type loopSource struct {
	pkts []*rtp.Packet
	i    int
	p    rtp.Packet
}

func (l *loopSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	src := l.pkts[l.i%len(l.pkts)]
	l.p = *src
	l.p.SequenceNumber = uint16(l.i)
	l.p.Timestamp = uint32(l.i) * 160
	l.i++
	return &l.p, nil, nil
}

// voice8k is a voice-like signal: a gliding 120-200 Hz fundamental with
// harmonics up to 3.4 kHz and a 4 Hz syllable envelope.
func voice8k(n int) []int16 {
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / 8000
		f0 := 160 + 40*math.Sin(2*math.Pi*0.5*t)
		phase += 2 * math.Pi * f0 / 8000
		var v float64
		for k := 1; float64(k)*f0 < 3400; k++ {
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		out[i] = int16(6000 * (0.55 + 0.45*math.Sin(2*math.Pi*4*t)) * v)
	}
	return out
}

// BenchmarkTranscode measures one 20 ms G.711 packet in, one Opus packet
// out (decode, encode, RTP). legs/core is 20 ms divided by the time per
// packet: how many real-time legs one core sustains.
func BenchmarkTranscode(b *testing.B) {
	for _, c := range []struct {
		name string
		rate int
		cx   int
	}{{"8kHz-c5", 8000, 5}, {"8kHz-c9", 8000, 9}, {"16kHz-c5", 16000, 5}} {
		b.Run(c.name, func(b *testing.B) {
			src := &loopSource{pkts: g711Packets(voice8k(8000*10), 160, g711.ULaw, 0, 0)}
			cfg := Config{}
			cfg.Encoder.SampleRate, cfg.Encoder.Complexity = c.rate, c.cx
			tr, err := New(src, cfg)
			if err != nil {
				b.Fatal(err)
			}
			for range 100 {
				tr.ReadRTP()
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, _, err := tr.ReadRTP(); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
			// The machine is shared: CPU time (not wall time) per packet is
			// what bounds the legs a core can carry.
			cpuPerPkt := float64(cpuTime()-cpu0) / float64(b.N)
			b.ReportMetric(cpuPerPkt, "cpu-ns/op")
			b.ReportMetric(20e6/cpuPerPkt, "legs/core")
		})
	}
}
