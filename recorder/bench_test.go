package recorder_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// nullStore is a Store whose files go nowhere (they count their bytes): it
// measures the recorder, not a disk.
type nullStore struct{}

// nullWriter counts bytes; the writing goroutines of many recordings add
// to the same counters.
type nullWriter struct{ n, mine *atomic.Int64 }

func (w nullWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	w.mine.Add(int64(len(p)))
	return len(p), nil
}
func (nullWriter) Sync() error { return nil }
func (w nullWriter) Finalize(_ context.Context, f recorder.Final) (recorder.Meta, error) {
	return recorder.Meta{Size: w.n.Load(), Legs: f.Legs}, nil // the legs' stats, which the benchmarks check
}
func (nullWriter) Abort(context.Context) error { return nil }

var (
	written         atomic.Int64
	writtenCustomer atomic.Int64 // by files whose first channel is the customer's
)

func (nullStore) Create(_ context.Context, m recorder.Meta) (recorder.Writer, error) {
	if m.Channels[0] == recorder.Customer {
		return nullWriter{&written, &writtenCustomer}, nil
	}
	return nullWriter{&written, new(atomic.Int64)}, nil
}

func (nullStore) Resume(context.Context, string, int64) (recorder.Writer, error) { return nil, io.EOF }
func (nullStore) OpenPartial(context.Context, string) (io.ReadCloser, error)     { return nil, io.EOF }
func (nullStore) Open(context.Context, string) (io.ReadCloser, error)            { return nil, io.EOF }
func (nullStore) Stat(context.Context, string) (recorder.Meta, error)            { return recorder.Meta{}, io.EOF }
func (nullStore) List(context.Context) ([]recorder.Meta, error)                  { return nil, nil }
func (nullStore) Delete(context.Context, string) error                           { return nil }

// benchWriters writes the benchmarks' pages. The benchmarks feed audio
// much faster than real time (a second of a call in about 15 µs): with the
// default bounds, the pages a writing goroutine had no CPU for yet would
// be dropped (counted as overload), so the bounds are lifted; the
// benchmarks fail if a page is dropped all the same.
var benchWriters = &recorder.Writers{QueueBytes: 1 << 30, RecordingBytes: 1 << 30}

// simClock is a simulated clock without locking (benchmarks are single
// goroutine; the recorder's own timer reads it too, hence atomic-free but
// only advanced between WriteRTP calls).
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkWriteRTP compares, on the same 24 kbit/s speech packets, pion's
// oggwriter and the recorder (mono and dual-channel) writing Ogg Opus to a
// sink. One op is one RTP packet. overhead-% is container bytes over
// Opus payload bytes.
func BenchmarkWriteRTP(b *testing.B) {
	speech := fixture(b, "speech.opus")
	pkts := make([]*rtp.Packet, len(speech))
	for i, p := range speech {
		pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 1}, Payload: p}
	}
	b.Run("pion-oggwriter", func(b *testing.B) {
		cw := &countWriter{}
		w, err := oggwriter.NewWith(cw, 48000, 1)
		if err != nil {
			b.Fatal(err)
		}
		hdr := cw.n
		var payload int64
		ts := uint32(0)
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			p := pkts[i%len(pkts)]
			p.Timestamp = ts
			ts += 960
			payload += int64(len(p.Payload))
			if err := w.WriteRTP(p); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(100*float64(cw.n-hdr-payload)/float64(payload), "overhead-%")
	})
	for _, v := range []struct {
		layout recorder.Layout
		burst  int // slots sent at once (ffmpeg -re: 13, 256 ms)
	}{{recorder.LayoutMono, 1}, {recorder.LayoutDual, 1}, {recorder.LayoutDual, 13}, {recorder.LayoutDual, 50}} {
		layout := v.layout
		name := "consentrec-" + string(layout)
		if v.burst > 1 {
			name += fmt.Sprintf("-burst%dms", v.burst*20)
		}
		b.Run(name, func(b *testing.B) {
			clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			rec, err := recorder.New(recorder.Config{CallID: "b", Purpose: policy.Quality, Store: nullStore{}, Audit: audit.Discard,
				Layout: layout, Now: clk.now, MaxPause: recorder.MaxMaxPause, Writers: benchWriters})
			if err != nil {
				b.Fatal(err)
			}
			c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
			a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
			legs := []*recorder.Leg{c, a}
			nlegs := 1
			if layout == recorder.LayoutDual {
				nlegs = 2
			} else {
				a.Close()
			}
			rec.Start(context.Background(), policytest.GrantFor(b, rec), "bench")
			start := writtenCustomer.Load()
			var payload int64
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				slot := i / nlegs
				if i%(nlegs*v.burst) == 0 {
					clk.t = clk.t.Add(time.Duration(v.burst) * 20 * time.Millisecond)
				}
				p := pkts[slot%len(pkts)]
				p.Timestamp = uint32(slot * 960)
				p.SequenceNumber = uint16(slot)
				payload += int64(len(p.Payload))
				if err := legs[i%nlegs].WriteRTP(p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			metas, err := rec.Stop(context.Background(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			// The process's CPU time per packet, the writing goroutines'
			// (the page CRC and the store's Write) included.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			for _, m := range metas {
				for _, st := range m.Legs {
					if st.Slips != 0 || st.Late != 0 || st.Duplicates != 0 || st.Overload != 0 {
						b.Errorf("%s leg: %+v", st.Role, st)
					}
				}
			}
			// Container bytes (headers included) over the customer file's payload.
			b.ReportMetric(100*float64(writtenCustomer.Load()-start-payload)/float64(payload), "overhead-%")
		})
	}
}

// BenchmarkRealtime10kLegs feeds 10,000 legs (5,000 dual-channel calls)
// with one second of 20 ms packets per op, as they would arrive in real
// time (interleaved call by call, 20 ms at a time). core-share is the
// fraction of one core this costs (CPU time per second of audio, on one
// goroutine).
func BenchmarkRealtime10kLegs(b *testing.B) {
	const calls = 5000
	speech := fixture(b, "speech.opus")
	clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	type call struct {
		rec  *recorder.Recorder
		legs [2]*recorder.Leg
	}
	cs := make([]call, calls)
	for i := range cs {
		rec, err := recorder.New(recorder.Config{CallID: fmt.Sprint("c", i), Purpose: policy.Quality, Store: nullStore{}, Audit: audit.Discard, Now: clk.now, MaxPause: recorder.MaxMaxPause, Writers: benchWriters})
		if err != nil {
			b.Fatal(err)
		}
		cs[i].rec = rec
		cs[i].legs[0], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		cs[i].legs[1], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		rec.Start(context.Background(), policytest.GrantFor(b, rec), "bench")
	}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}}
	slot := 0
	second := func() {
		for range 50 {
			clk.t = clk.t.Add(20 * time.Millisecond)
			for i := range cs {
				for j, l := range cs[i].legs {
					p.SSRC = uint32(2*i + j)
					p.SequenceNumber = uint16(slot)
					p.Timestamp = uint32(slot * 960)
					p.Payload = speech[(slot+i)%len(speech)]
					l.WriteRTP(p)
				}
			}
			slot++
		}
	}
	// Warm up: every leg's buffers reach their working size (the ring
	// wraps after 32 slots, pages are written every second).
	for range 3 {
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
	// Wall time on one goroutine, and the process's CPU time (user+system,
	// GC included), which the other tenants of a shared machine do not
	// inflate: both per second of audio.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9, "core-share")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/s")
	for i := range cs {
		cs[i].rec.Stop(context.Background(), "bench")
	}
}

// BenchmarkMemoryPerLeg measures the heap a recording leg holds once its
// buffers reached their working size (dual-channel calls, 5 s of speech).
func BenchmarkMemoryPerLeg(b *testing.B) {
	const calls = 500
	speech := fixture(b, "speech.opus")
	first := true
	for b.Loop() {
		clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		recs := make([]*recorder.Recorder, calls)
		legs := make([][2]*recorder.Leg, calls)
		for i := range recs {
			recs[i], _ = recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: nullStore{}, Audit: audit.Discard, Now: clk.now, MaxPause: recorder.MaxMaxPause, Writers: benchWriters})
			legs[i][0], _ = recs[i].AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
			legs[i][1], _ = recs[i].AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
			recs[i].Start(context.Background(), policytest.GrantFor(b, recs[i]), "bench")
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}}
		for slot := range 250 {
			clk.t = clk.t.Add(20 * time.Millisecond)
			for i := range recs {
				for j, l := range legs[i] {
					p.SSRC, p.SequenceNumber, p.Timestamp = uint32(j+1), uint16(slot), uint32(slot*960)
					p.Payload = speech[(slot+i)%len(speech)]
					l.WriteRTP(p)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if first {
			// Later iterations start with the previous one's heap not yet
			// reclaimed; the first one starts clean.
			b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/(2*calls), "B/leg")
			first = false
		}
		runtime.KeepAlive(recs)
		runtime.KeepAlive(legs)
		for i, r := range recs {
			r.Stop(context.Background(), "bench")
			recs[i], legs[i] = nil, [2]*recorder.Leg{}
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
