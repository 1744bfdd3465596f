package rtpudp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// BenchmarkDispatchRecorder10k is the receive path after recvmmsg at the
// scale of issue 13: 10,000 recorder legs (5,000 dual-channel calls)
// registered on a Server, each sending one 20 ms Opus packet per 20 ms, in
// a new random order every 20 ms as independent callers do, read in
// batches of 64; the recordings' pages go to a store that discards them.
// One op is one second of audio of every leg (500,000 datagrams).
// ns/datagram is the reader's time; cpu-µs/datagram is the process's CPU
// time (the page writers and the GC included) per datagram: 2 µs is one
// core for 10,000 legs.
func BenchmarkDispatchRecorder10k(b *testing.B) {
	for _, pf := range []bool{false, true} {
		b.Run(fmt.Sprint("prefetch=", pf), func(b *testing.B) { benchDispatchRecorder(b, pf) })
	}
}

func benchDispatchRecorder(b *testing.B, pf bool) {
	const calls, batch = 5000, 64
	t0 := time.Now()
	clk := t0
	now := func() time.Time { return clk }
	s := &Server{cfg: Config{Batch: batch}}
	ws := &recorder.Writers{QueueBytes: 1 << 30, RecordingBytes: 1 << 30}
	recs := make([]*recorder.Recorder, calls)
	for i := range recs {
		rec, err := recorder.New(recorder.Config{CallID: fmt.Sprint("c", i), Purpose: policy.Quality,
			Store: &recordertest.DiscardStore{}, Audit: audit.Discard, Now: now, Writers: ws})
		if err != nil {
			b.Fatal(err)
		}
		for j, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
			l, err := rec.AddLeg(recorder.LegConfig{Role: role, OpusPT: 111})
			if err != nil {
				b.Fatal(err)
			}
			st := newStream(l)
			if !pf {
				st.pf = nil
			}
			s.byssrc.put(uint32(2*i+j+1), st)
		}
		if _, err := rec.Start(context.Background(), policytest.GrantFor(b, rec), "bench"); err != nil {
			b.Fatal(err)
		}
		recs[i] = rec
	}
	r := s.newReaderBufs()
	rnd := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 80)
	for i := range payload {
		payload[i] = byte(rnd.Uint32())
	}
	payload[0] = 0x78 // one 20 ms frame
	var orders [8][]int
	for i := range orders {
		orders[i] = rnd.Perm(2 * calls)
	}
	tick := 0
	// second sends one second of every leg, arriving spread over each
	// 20 ms as batches of 64.
	second := func() {
		for range 50 {
			order := orders[tick%len(orders)]
			for at := 0; at < len(order); at += batch {
				n := min(batch, len(order)-at)
				for i, leg := range order[at : at+n] {
					h := r.bufs[i][:12]
					h[0], h[1] = 0x80, 111
					h[2], h[3] = byte(tick>>8), byte(tick)
					ts := uint32(tick * 960)
					h[4], h[5], h[6], h[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
					ssrc := uint32(leg + 1)
					h[8], h[9], h[10], h[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
					r.lens[i] = 12 + copy(r.bufs[i][12:], payload)
				}
				arrival := clk.Add(time.Duration(at) * 20 * time.Millisecond / time.Duration(len(order)))
				r.dispatch(n, arrival)
			}
			tick++
			clk = t0.Add(time.Duration(tick) * 20 * time.Millisecond)
		}
	}
	for range 3 { // every leg's buffers reach their working size
		second()
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		second()
	}
	b.StopTimer()
	d := float64(b.N * 2 * calls * 50)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/datagram")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/d, "cpu-µs/datagram")
	if st := s.Stats(); st.Unknown+st.Malformed+st.Rejected != 0 {
		b.Fatalf("stats %+v", st)
	}
	for _, rec := range recs {
		rec.Stop(context.Background(), "bench")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
