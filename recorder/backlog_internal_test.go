package recorder

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/pion/rtp"
)

// TestFrontierHoldsOnlyAtStart: the writing holds back by MaxBurst while a
// leg has not started and the other speaks, and at a leg's start (a
// backlog at its start must land on slots not yet written) until its
// packets came paced and on time onTimeFix times in a row (its first
// packets were not late); then the session is settled (the packet path no
// longer looks at holding: one compare) and the frontier follows the
// reorder window again. No ring grew for the leg that started on time.
func TestFrontierHoldsOnlyAtStart(t *testing.T) {
	for _, join := range []int64{0, 150} { // the customer's first packet: with the agent's, or 3 s in
		t.Run(fmt.Sprint("join-", join), func(t *testing.T) { frontierHold(t, join) })
	}
}

func frontierHold(t *testing.T, join int64) {
	synctest.Test(t, func(t *testing.T) {
		rec, cl, a := startDual(t)
		ctx := context.Background()
		speech := []byte{0x78, 1, 2, 3, 4, 5, 6, 7}
		send := func(l *Leg, ssrc uint32, i int64) {
			if err := l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: ssrc,
				SequenceNumber: uint16(i), Timestamp: uint32(i * slotSamples)}, Payload: speech}); err != nil {
				t.Fatal(err)
			}
		}
		state := func() (next, w int64, settled bool) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			s := rec.sess
			return s.next, s.wallSlot(time.Now()), s.settled
		}
		burst := rec.burst
		for i := range join + 2*burst {
			send(a, 2, i)
			if i >= join {
				send(cl, 1, i-join)
			}
			next, w, settled := state()
			switch {
			case i < join+onTimeFix:
				// The customer has not started, or may still be late.
				if hi := max(0, min(w, join)-burst); next > hi || settled {
					t.Fatalf("wall slot %d: frontier at %d (settled %v), want held at %d or before", w, next, settled, hi)
				}
			case i >= join+onTimeFix+1:
				if lo := w - rec.window - 2; next < lo || !settled {
					t.Fatalf("wall slot %d: frontier at %d (settled %v), want at %d or after, settled", w, next, settled, lo)
				}
			}
			time.Sleep(SlotDuration)
		}
		if join == 0 {
			// Both legs started on time together: 100 ms held, no ring grew.
			rec.mu.Lock()
			for _, l := range rec.legs {
				if n := len(l.tl.ring); n != ringSize {
					t.Errorf("the %s's ring holds %d slots, want %d", l.cfg.Role, n, ringSize)
				}
			}
			rec.mu.Unlock()
		}
		if _, err := rec.Stop(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	})
}

// startDual starts a recording of a customer and an agent leg (Opus, PT
// 111) on a FileStore in t's temporary directory.
func startDual(t *testing.T) (rec *Recorder, customer, agent *Leg) {
	t.Helper()
	store, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if rec, err = New(Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: audit.Discard}); err != nil {
		t.Fatal(err)
	}
	customer, _ = rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
	agent, _ = rec.AddLeg(LegConfig{Role: Agent, OpusPT: 111})
	if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
		t.Fatal(err)
	}
	return rec, customer, agent
}
