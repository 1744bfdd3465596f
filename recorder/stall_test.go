package recorder_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// marked is a 20 ms Opus packet whose frame names packet i of a leg.
func marked(leg byte, i int) []byte { return []byte{0x78, 0xA5, leg, byte(i >> 8), byte(i)} }

// positions reads a mono file and returns, for each marked packet of leg,
// the 20 ms slot where its frame is (-1: not in the file).
func positions(t *testing.T, file []byte, leg byte, n int) []int {
	t.Helper()
	pkts, _, err := recorder.Packets(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	pos := make([]int, n)
	for i := range pos {
		pos[i] = -1
	}
	slot := 0
	for _, p := range pkts {
		var frames [][]byte
		switch p[0] & 3 {
		case 0:
			frames = [][]byte{p[1:]}
		case 1:
			h := (len(p) - 1) / 2
			frames = [][]byte{p[1 : 1+h], p[1+h:]}
		case 2:
			n0 := int(p[1]) // frames here are shorter than 252 bytes
			frames = [][]byte{p[2 : 2+n0], p[2+n0:]}
		default:
			t.Fatalf("slot %d: code 3 packet % x", slot, p)
		}
		for _, f := range frames {
			if len(f) == 4 && f[0] == 0xA5 && f[1] == leg {
				i := int(f[2])<<8 | int(f[3])
				if i < n {
					if pos[i] >= 0 {
						t.Errorf("leg %d packet %d at slots %d and %d", leg, i, pos[i], slot)
					}
					pos[i] = slot
				}
			}
			slot++
		}
	}
	return pos
}

// TestStallKeepsLegsAligned: a sender that stalls (150 ms, 190 ms, up to
// MaxBurst) and then sends its backlog at once is placed by its
// timestamps: every packet is written at its slot, aligned with the other
// leg for the rest of the call, no DTX and no slip logged. A backlog at
// the start (the first packets arrive 500 ms late, all at once) anchors
// the leg where its on-time packets say, not where its first packet
// arrived: the writing held back during the leg's first MaxBurst, so its
// backlog is written too, at its slots, aligned (see
// TestBacklogAtStartIsWritten).
func TestStallKeepsLegsAligned(t *testing.T) {
	const n = 400 // 8 s
	for _, c := range []struct {
		name        string
		stallAt     time.Duration
		stall       time.Duration
		startLate   time.Duration
		stallsEvery time.Duration
		bothLate    bool // both legs start late (a loaded host)
		reversed    bool // the second half of the backlog arrives first (two sockets, two readers)
	}{
		{name: "stall-100ms", stallAt: 3 * time.Second, stall: 100 * time.Millisecond},
		{name: "stall-150ms", stallAt: 3 * time.Second, stall: 150 * time.Millisecond},
		{name: "stall-190ms", stallAt: 3 * time.Second, stall: 190 * time.Millisecond},
		{name: "stall-190ms-halves-swapped", stallAt: 3 * time.Second, stall: 190 * time.Millisecond, reversed: true},
		{name: "stall-900ms", stallAt: 3 * time.Second, stall: 900 * time.Millisecond},
		{name: "stalls-190ms-every-1s", stallAt: time.Second, stall: 190 * time.Millisecond, stallsEvery: time.Second},
		{name: "backlog-at-start-500ms", startLate: 500 * time.Millisecond},
		{name: "backlog-at-start-500ms-both", startLate: 500 * time.Millisecond, bothLate: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
				var evs []simEvent
				for i := range n {
					due := time.Duration(i) * 20 * time.Millisecond
					at := max(due, c.startLate)
					for from := c.stallAt; c.stall > 0 && from <= due; from += c.stallsEvery {
						if due < from+c.stall {
							at = from + c.stall // held by the sender, then sent at once
							if c.reversed && due < from+c.stall/2 {
								at += time.Microsecond
							}
						}
						if c.stallsEvery == 0 {
							break
						}
					}
					evs = append(evs, simEvent{at: at, leg: cl, pkt: pkt(1, uint16(i), uint32(1000+i*960), marked(0, i))})
					aAt := due
					if c.bothLate {
						aAt = max(due, c.startLate)
					}
					evs = append(evs, simEvent{at: aAt, leg: a, pkt: pkt(2, uint16(7+i), uint32(5+i*960), marked(1, i))})
				}
				evs = append(evs, simEvent{at: n * 20 * time.Millisecond, fn: func() {}})
				run(t, evs)
			})
			var pos [2][]int
			for i, m := range metas {
				st := m.Legs[0]
				t.Logf("%s %+v", m.Channels[0], st)
				if st.Packets != n || st.Late != 0 || st.Slips != 0 || st.DTX != 0 || st.Lost != 0 {
					t.Errorf("%s: %+v, want %d packets written, none late, no slip, DTX or loss", m.Channels[0], st, n)
				}
				for _, g := range m.Gaps {
					if g.Reason != recorder.GapNotStarted {
						t.Errorf("%s: gap %+v", m.Channels[0], g)
					}
				}
				pos[i] = positions(t, store.Bytes(m.ID), byte(i), n)
			}
			bad := 0
			for i := range n {
				if d := pos[0][i] - pos[1][i]; pos[0][i] < 0 || pos[1][i] < 0 || d < -1 || d > 1 {
					if bad++; bad <= 5 {
						t.Errorf("packet %d: customer at slot %d, agent at slot %d", i, pos[0][i], pos[1][i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d packets more than one slot apart", bad, n)
			}
		})
	}
}

// TestRealDrift: a sender clock 0.1 % slow or fast (a real phone's) still
// slips, slowly and within bounds, although stalls no longer do: the slow
// leg is never more than driftBehind+1 slots (60 ms) behind its arrival,
// the fast one never more than driftAhead+1 (220 ms) ahead.
func TestRealDrift(t *testing.T) {
	const n = 12500 // 250 s: the fast leg gains 250 ms
	arrival := func(i int, ppm float64) time.Duration {
		return time.Duration(float64(time.Duration(i)*20*time.Millisecond) * (1 - ppm/1e6))
	}
	ppm := [2]float64{-1000, 1000}
	metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
		var evs []simEvent
		for i := range n {
			evs = append(evs, simEvent{at: arrival(i, ppm[0]), leg: cl, pkt: pkt(1, uint16(i), uint32(i*960), marked(0, i))})
			evs = append(evs, simEvent{at: arrival(i, ppm[1]), leg: a, pkt: pkt(2, uint16(i), uint32(i*960), marked(1, i))})
		}
		evs = append(evs, simEvent{at: arrival(n, ppm[0]) + time.Second, fn: func() {}})
		run(t, evs)
	})
	for i, m := range metas {
		st := m.Legs[0]
		t.Logf("%s %+v", m.Channels[0], st)
		if st.Slips == 0 || st.Late != 0 || st.Lost != 0 {
			t.Errorf("%s: %+v, want slips, no late packet, no loss", m.Channels[0], st)
		}
		pos := positions(t, store.Bytes(m.ID), byte(i), n)
		lo, hi := 0, 0
		for k, p := range pos {
			if p < 0 {
				continue // dropped by a fast clock's slip
			}
			d := p - int(arrival(k, ppm[i])/recorder.SlotDuration)
			lo, hi = min(lo, d), max(hi, d)
		}
		t.Logf("%s: placed %d to %d slots from its arrival", m.Channels[0], lo, hi)
		if lo < -3 || hi > 11 {
			t.Errorf("%s: placed %d to %d slots from its arrival", m.Channels[0], lo, hi)
		}
	}
}
