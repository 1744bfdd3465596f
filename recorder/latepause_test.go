package recorder_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// Packets spoken during a pause but held up in the network (a stalled
// TURN-over-TCP relay releasing its queue) arrive after the resume, late.
// A leg that keeps arriving late is re-aligned on its arrival, which keeps
// late audio in the file; but audio captured during a pause must never be
// written, re-aligned or not.
func TestLatePausedAudioNeverWritten(t *testing.T) {
	speech := fixture(t, "speech.opus")
	metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		var evs []simEvent
		for i := range 200 {
			at := time.Duration(i) * 20 * time.Millisecond
			if i >= 50 && i < 100 { // spoken while paused, released at 2.5 s
				at = 2500*time.Millisecond + time.Duration(i-50)*100*time.Microsecond
			}
			evs = append(evs, simEvent{at: at, leg: c, pkt: pkt(1, uint16(i), uint32(i*960), speech[i])})
		}
		evs = append(evs,
			simEvent{at: 1000 * time.Millisecond, fn: func() {
				if err := rec.Pause(context.Background(), "card", "agent-1"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 2000*time.Millisecond + 100*time.Microsecond, fn: func() {
				if err := rec.Resume(context.Background(), "agent-1"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 4 * time.Second, fn: func() {}})
		run(t, evs)
	})
	m := metas[0]
	if m.Channels[0] != recorder.Customer {
		m = metas[1]
	}
	pkts, _, err := recorder.Packets(bytes.NewReader(store.Bytes(m.ID)))
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for i := 50; i < 100; i++ {
		for _, p := range pkts {
			if len(speech[i]) > 8 && bytes.Contains(p, speech[i][1:]) {
				written++
				break
			}
		}
	}
	if written > 0 {
		t.Errorf("%d of the 50 packets spoken during the pause were written", written)
	}
	t.Logf("customer: %+v; gaps %+v", m.Legs[0], m.Gaps)
}

// The same with 60 ms packets: a late packet whose first frame precedes
// the pause but whose others fall in it is not re-aligned into the file.
func TestLatePausedFramesNeverWritten(t *testing.T) {
	frame := func(k int) []byte { // CELT FB 20 ms, marked with its slot
		f := []byte{0xA5, byte(k), byte(k >> 8)}
		for i := range 30 {
			f = append(f, byte(k*7+i))
		}
		return f
	}
	pkt60 := func(j int) []byte {
		p := []byte{31<<3 | 3, 0x80 | 3, 33, 33}
		for k := 3 * j; k < 3*j+3; k++ {
			p = append(p, frame(k)...)
		}
		return p
	}
	for _, from := range []int{14, 8} { // the stall begins 120 or 480 ms before the pause
		lateFrames(t, from, frame, pkt60)
	}
}

func lateFrames(t *testing.T, from int, frame func(int) []byte, pkt60 func(int) []byte) {
	metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		var evs []simEvent
		for j := range 40 { // 2.4 s
			at := time.Duration(j) * 60 * time.Millisecond
			if j >= from && j < 34 { // held up, released at 2.5 s
				at = 2500*time.Millisecond + time.Duration(j)*100*time.Microsecond
			}
			evs = append(evs, simEvent{at: at, leg: c, pkt: pkt(1, uint16(j), uint32(j*2880), pkt60(j))})
		}
		evs = append(evs,
			simEvent{at: 1000 * time.Millisecond, fn: func() { _ = rec.Pause(context.Background(), "card", "agent-1") }},
			simEvent{at: 2000 * time.Millisecond, fn: func() { _ = rec.Resume(context.Background(), "agent-1") }},
			simEvent{at: 3 * time.Second, fn: func() {}})
		run(t, evs)
	})
	m := metas[0]
	if m.Channels[0] != recorder.Customer {
		m = metas[1]
	}
	pkts, _, err := recorder.Packets(bytes.NewReader(store.Bytes(m.ID)))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for k := 0; k < 120; k++ {
		for _, p := range pkts {
			if bytes.Contains(p, frame(k)) {
				found++
				if k >= 50 && k < 100 {
					t.Errorf("stall from slot %d: the frame of slot %d, spoken during the pause, was written", 3*from, k)
				}
				break
			}
		}
	}
	if found < 40 {
		t.Errorf("stall from slot %d: only %d frames written: the test does not exercise the recorder", 3*from, found)
	}
}
