package recorder_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
)

// events collects audit events.
type events struct {
	mu sync.Mutex
	ev []audit.Event
}

func (e *events) Append(_ context.Context, ev audit.Event) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
	return uint64(len(e.ev) - 1), nil
}

func (e *events) kinds() []audit.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var k []audit.Kind
	for _, ev := range e.ev {
		k = append(k, ev.Kind)
	}
	return k
}

func (e *events) of(k audit.Kind) []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []audit.Event
	for _, ev := range e.ev {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func fixture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, _, err := recorder.Packets(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// legPlan describes how one leg sends its packets in a simulated call.
type legPlan struct {
	leg      *recorder.Leg
	packets  [][]byte
	start    time.Duration // first packet's send time, from the call's start
	loss     float64       // share of packets lost
	jitter   time.Duration // uniform extra delay in [0, jitter)
	dtxFrom  int           // packets [dtxFrom, dtxTo) are not sent and do not use sequence numbers
	dtxTo    int
	ssrc     uint32
	tsBase   uint32
	seqBase  uint16
	clockPPM float64 // sender clock error
}

type simEvent struct {
	at  time.Duration
	leg *recorder.Leg
	pkt *rtp.Packet
	fn  func()
}

func (p legPlan) events(rng *rand.Rand) []simEvent {
	var out []simEvent
	seq := p.seqBase
	for i, pl := range p.packets {
		if i >= p.dtxFrom && i < p.dtxTo {
			continue
		}
		ts := p.tsBase + uint32(i*960)
		s := seq
		seq++
		if rng.Float64() < p.loss {
			continue
		}
		at := p.start + time.Duration(float64(time.Duration(i)*20*time.Millisecond)*(1-p.clockPPM/1e6))
		if p.jitter > 0 {
			at += time.Duration(rng.Int64N(int64(p.jitter)))
		}
		out = append(out, simEvent{at: at, leg: p.leg, pkt: &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: s, Timestamp: ts, SSRC: p.ssrc},
			Payload: pl,
		}})
	}
	return out
}

// run plays events in a synctest bubble: each at its time after the start.
func run(t *testing.T, evs []simEvent) {
	t.Helper()
	slices.SortStableFunc(evs, func(a, b simEvent) int { return int(a.at - b.at) })
	start := time.Now()
	for _, e := range evs {
		if d := e.at - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if e.fn != nil {
			e.fn()
			continue
		}
		if err := e.leg.WriteRTP(e.pkt); err != nil {
			t.Fatalf("WriteRTP: %v", err)
		}
	}
}
