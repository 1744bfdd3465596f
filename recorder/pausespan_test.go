package recorder_test

import (
	"context"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// A 60 ms packet that starts just before a pause (mono layout, where such
// packets are kept whole) must not carry its last 40 ms, spoken during the
// pause, into the file; and the file must keep the timeline's length (the
// pause's silence is not written on top of the packet's span).
func TestMonoSpanAcrossPause(t *testing.T) {
	silk60 := func(i int) []byte {
		p := append([]byte{11 << 3}, make([]byte, 40)...) // SILK WB 60 ms, code 0
		p[1], p[2] = 0xA5, byte(i)
		return p
	}
	const straddle = 17 // the packet of slots 51-53; the pause starts at slot 52
	tone := fixture(t, "tone.opus")
	metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		var evs []simEvent
		for i := range 33 {
			evs = append(evs, simEvent{at: time.Duration(i) * 60 * time.Millisecond, leg: c, pkt: pkt(1, uint16(i), uint32(i*2880), silk60(i))})
		}
		for i := range 100 {
			evs = append(evs, simEvent{at: time.Duration(i) * 20 * time.Millisecond, leg: a, pkt: pkt(2, uint16(i), uint32(i*960), tone[i])})
		}
		evs = append(evs,
			simEvent{at: 1040 * time.Millisecond, fn: func() {
				if err := rec.Pause(context.Background(), "card", "agent-1"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 1500 * time.Millisecond, fn: func() {
				if err := rec.Resume(context.Background(), "agent-1"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 2 * time.Second, fn: func() {}})
		run(t, evs)
	})
	if len(metas) != 2 {
		t.Fatalf("%d files", len(metas))
	}
	for _, m := range metas {
		pkts, in, err := recorder.Packets(bytesReader(store.Bytes(m.ID)))
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		if in.Duration != m.Duration {
			t.Errorf("%s: file lasts %v, metadata %v (the timeline is off)", m.ID, in.Duration, m.Duration)
		}
		if m.Channels[0] != recorder.Customer {
			continue
		}
		for _, p := range pkts {
			if len(p) > 2 && p[0] == 11<<3 && p[1] == 0xA5 && p[2] == straddle {
				t.Errorf("%s: the 60 ms packet reaching 40 ms into the pause was written", m.ID)
			}
		}
	}
}
