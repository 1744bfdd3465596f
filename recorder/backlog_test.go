package recorder_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// TestBacklogAtStartIsWritten: a leg whose first packets were held up (a
// backlog at the sender or in the network: every packet sent in its first
// d arrives at once, d late, then the leg is paced and on time) is written
// whole, each packet at the slot its timestamp says, aligned with the
// other leg, which is on time from the start; none is late, lost or
// slipped, whether the late leg starts with the call or joins it 3 s
// later, with or without jitter (up to 40 ms on every other packet). A
// backlog longer than MaxBurst loses only its excess, its oldest packets,
// counted as late; the rest is still written and aligned.
func TestBacklogAtStartIsWritten(t *testing.T) {
	const n = 300 // the late leg's packets: 6 s
	burst := recorder.DefaultMaxBurst
	for _, join := range []time.Duration{0, 3 * time.Second} {
		for _, d := range []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, burst, burst + 300*time.Millisecond} {
			for _, jitter := range []time.Duration{0, 15 * time.Millisecond, 40 * time.Millisecond} {
				name := fmt.Sprintf("join-%v/backlog-%v", join, d)
				if jitter > 0 {
					name += fmt.Sprintf("/jitter-%v", jitter)
				}
				t.Run(name, func(t *testing.T) {
					backlogTest(t, n, join, d, jitter)
				})
			}
		}
	}
}

// backlogTest runs one case of TestBacklogAtStartIsWritten: the customer
// sends n packets from join on, the first d of them arriving at join+d;
// the agent sends on time from 0 to the end. With jitter, every packet
// but the backlog's arrives up to jitter late (uniformly, seeded).
func backlogTest(t *testing.T, n int, join, d, jitter time.Duration) {
	off := int(join / recorder.SlotDuration) // the agent's packet sent with the customer's first
	na := off + n
	// The packets beyond MaxBurst of backlog (its oldest) are the only
	// ones that may be lost; the frontier advances by pairs of slots, so
	// it may have kept one more, and jitter makes the leg's lead (how far
	// it moves) as uncertain.
	excess := int64(max(0, (d-recorder.DefaultMaxBurst)/recorder.SlotDuration))
	minLate := max(0, excess-1-int64((jitter+recorder.SlotDuration-1)/recorder.SlotDuration))
	metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		var evs []simEvent
		rng := rand.New(rand.NewPCG(uint64(d), uint64(join)))
		delay := func() time.Duration {
			if jitter == 0 {
				return 0
			}
			return time.Duration(rng.Int64N(int64(jitter)))
		}
		for i := range n {
			due := join + time.Duration(i)*recorder.SlotDuration
			at := max(due+delay(), join+d) // held, then sent at once
			evs = append(evs, simEvent{at: at, leg: c, pkt: pkt(1, uint16(100+i), uint32(1000+i*960), marked(0, i))})
		}
		for j := range na {
			evs = append(evs, simEvent{at: time.Duration(j)*recorder.SlotDuration + delay(), leg: a, pkt: pkt(2, uint16(7+j), uint32(5+j*960), marked(1, j))})
		}
		evs = append(evs, simEvent{at: time.Duration(na)*recorder.SlotDuration + jitter, fn: func() {}}) // every packet came
		run(t, evs)
	})
	if len(metas) != 2 {
		t.Fatalf("%d files, want 2", len(metas))
	}
	c, a := metas[0].Legs[0], metas[1].Legs[0]
	t.Logf("customer %+v", c)
	t.Logf("agent %+v", a)
	if c.Late < minLate || c.Late > excess || c.Packets != int64(n)-c.Late ||
		c.Slips != 0 || c.Lost != 0 || c.DTX != 0 || c.Duplicates != 0 {
		t.Errorf("customer: %+v, want %d packets written, %d late (the backlog beyond MaxBurst), no slip, loss, DTX or duplicate",
			c, int64(n)-excess, excess)
	}
	if a.Packets != int64(na) || a.Late != 0 || a.Slips != 0 || a.Lost != 0 || a.DTX != 0 {
		t.Errorf("agent: %+v, want %d packets written, none late, slipped or lost", a, na)
	}
	for _, m := range metas {
		for _, g := range m.Gaps {
			end := g.Reason == recorder.GapEnded && g.Start >= time.Duration(na)*recorder.SlotDuration // after the last jittered packet
			if g.Reason != recorder.GapNotStarted && !end {
				t.Errorf("%s: gap %+v", m.Channels[0], g)
			}
		}
	}
	pc := positions(t, store.Bytes(metas[0].ID), 0, n)
	pa := positions(t, store.Bytes(metas[1].ID), 1, na)
	bad, missing := 0, 0
	for i := range n {
		if pc[i] < 0 {
			if int64(i) >= c.Late { // the late ones are the oldest
				t.Errorf("customer packet %d not written", i)
			}
			missing++
			continue
		}
		// The marker of customer packet i is where the agent's packet sent
		// at the same time is, within one frame.
		if dd := pc[i] - pa[off+i]; pa[off+i] < 0 || dd < -1 || dd > 1 {
			if bad++; bad <= 5 {
				t.Errorf("customer packet %d at slot %d, agent packet %d at slot %d", i, pc[i], off+i, pa[off+i])
			}
		}
	}
	if int64(missing) != c.Late {
		t.Errorf("%d customer packets missing from the file, %d counted late", missing, c.Late)
	}
	if bad > 0 {
		t.Errorf("%d of %d customer packets more than one slot from the agent's", bad, n)
	}
	for j := range na {
		if pa[j] < 0 {
			t.Errorf("agent packet %d not written", j)
		}
	}
}
