package recorder_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// A leg added to a recording in progress (the customer joins 3 s after
// the agent) whose first 500 ms arrive at once, 500 ms late, is written
// whole: the writing holds back from the moment the leg is added, not only
// from its first packet, when the frontier would already have passed where
// its backlog belongs.
func TestBacklogOfLegAddedDuringRecording(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: &events{}})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		payload := []byte{0xf8, 0xff, 0xfe}
		var c *recorder.Leg
		const join, backlog, total = 150, 25, 300 // slots: 3 s, 500 ms, 6 s
		cseq := 0
		for k := range total {
			a.WriteRTP(pkt(2, uint16(k), uint32(k*960), payload))
			if k == join {
				if c, err = rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111}); err != nil {
					t.Fatal(err)
				}
			}
			if k >= join+backlog {
				// The customer's packets sent since join: the backlog at
				// once, then one a slot.
				for ; cseq <= k-join; cseq++ {
					c.WriteRTP(pkt(1, uint16(cseq), uint32(cseq*960), payload))
				}
			}
			time.Sleep(recorder.SlotDuration)
		}
		metas, err := rec.Stop(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		st := metas[0].Legs
		var cs recorder.LegStats
		for _, s := range st {
			if s.Role == recorder.Customer {
				cs = s
			}
		}
		if cs.Late != 0 || cs.Packets != int64(cseq) {
			t.Fatalf("customer: %d packets written of %d sent, %d late: %+v", cs.Packets, cseq, cs.Late, cs)
		}
	})
}
