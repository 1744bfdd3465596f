package recorder_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// sizedPackets returns n valid 20 ms Opus packets (code 0, the TOC of
// toc) whose sizes follow a 32 kbit/s-like distribution: about normal
// around 80 bytes (sd 25), from 20 to 160 bytes.
func sizedPackets(n int, toc byte) [][]byte {
	rng := rand.New(rand.NewPCG(13, 13))
	out := make([][]byte, n)
	for i := range out {
		size := int(rng.NormFloat64()*25 + 80)
		size = min(max(size, 20), 160)
		p := make([]byte, size)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		p[0] = toc &^ 3
		out[i] = p
	}
	return out
}

// BenchmarkHeapPerLeg measures the heap a recording leg holds in a long
// call: 1,000 dual-channel calls (2,000 legs) fed 60 s of 20 ms packets
// on a simulated clock, then heap-B/leg is the in-use heap (after a GC,
// the write queue drained) above what it was before the calls, per leg.
// Packets come from the speech fixture (57 bytes on average, 103 at most)
// or a 32 kbit/s-like size distribution (80 bytes on average, up to 160).
// allocs/leg counts the heap allocations per leg from the 10th second on
// (every leg warm). One op is one whole run.
func BenchmarkHeapPerLeg(b *testing.B) {
	const calls = 1000
	speech := fixture(b, "speech.opus")
	for _, src := range []struct {
		name string
		pkts [][]byte
	}{
		{"speech", speech},
		{"size32k", sizedPackets(1000, speech[0][0])},
	} {
		b.Run(src.name, func(b *testing.B) {
			for b.Loop() {
				heapPerLeg(b, calls, 60*50, src.pkts)
			}
		})
	}
}

func heapPerLeg(b *testing.B, calls, slots int, pkts [][]byte) {
	clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	store := &recordertest.DiscardStore{}
	w := &recorder.Writers{}
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	recs := make([]*recorder.Recorder, calls)
	legs := make([][2]*recorder.Leg, calls)
	for i := range recs {
		var err error
		recs[i], err = recorder.New(recorder.Config{CallID: fmt.Sprint("c", i), Purpose: policy.Quality, Store: store,
			Audit: audit.Discard, Now: clk.now, MaxPause: recorder.MaxMaxPause, Writers: w})
		if err != nil {
			b.Fatal(err)
		}
		legs[i][0], _ = recs[i].AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		legs[i][1], _ = recs[i].AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	}
	// Call i starts at slot i%50, so that the calls' pages (one a second)
	// are spread over the second as in real life; the queue is drained
	// after each slot (the writing goroutines keep up in real time), so
	// that the Writers' spare buffers hold what real time needs.
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}}
	var warm runtime.MemStats
	for g := range slots + 50 {
		if g == 500 {
			runtime.ReadMemStats(&warm) // every call started 9 s ago
		}
		clk.t = clk.t.Add(20 * time.Millisecond)
		for i := range recs {
			slot := g - i%50
			if slot < 0 || slot >= slots {
				continue
			}
			if slot == 0 {
				if _, err := recs[i].Start(context.Background(), policytest.GrantFor(b, recs[i]), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			for j, l := range legs[i] {
				p.SSRC, p.SequenceNumber, p.Timestamp = uint32(j+1), uint16(slot), uint32(slot*960)
				p.Payload = pkts[(slot+7*i+3*j)%len(pkts)]
				if err := l.WriteRTP(p); err != nil {
					b.Fatal(err)
				}
			}
		}
		for w.Stats().Queued > 0 {
			runtime.Gosched() // the writing goroutines drain the queue
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-warm.Mallocs)/float64(2*calls), "allocs/leg")
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/float64(2*calls), "heap-B/leg")
	runtime.KeepAlive(legs)
	for _, r := range recs {
		metas, err := r.Stop(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range metas {
			for _, st := range m.Legs {
				// The last packet is ahead of the clock when Stop cuts the call.
				if st.Packets < int64(slots-1) || st.Overload != 0 || st.Late != 0 {
					b.Fatalf("%s leg: %+v", st.Role, st)
				}
			}
		}
	}
}
