package recorder_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// Keys pressed while the recording is paused are card data: the host is
// told that a key was pressed, never which (PCI DSS, R21-R23), even when
// it asked for keys in clear.
func TestDTMFMaskedDuringPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var got []recorder.DTMF
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: &events{},
			OnDTMF: func(d recorder.DTMF) { got = append(got, d) }, ClearDTMF: "ivr-menu"})
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
		rec.Start(ctx, policytest.GrantFor(t, rec), "agent")
		key := func(seq uint16, ts uint32, event byte) *rtp.Packet {
			return &rtp.Packet{Header: rtp.Header{PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 1},
				Payload: []byte{event, 0x80 | 10, 0, 160}}
		}
		leg.WriteRTP(key(1, 1000, 4)) // before the pause: '4' in clear
		if err := rec.Pause(ctx, "card-data", "agent"); err != nil {
			t.Fatal(err)
		}
		leg.WriteRTP(key(2, 2000, 7)) // a card digit
		leg.WriteRTP(key(3, 3000, 9))
		if err := rec.Resume(ctx, "agent"); err != nil {
			t.Fatal(err)
		}
		leg.WriteRTP(key(4, 4000, 11)) // after: '#' in clear
		rec.Stop(ctx, "agent")
		if len(got) != 4 {
			t.Fatalf("events %+v", got)
		}
		if got[0].Digit != '4' || got[0].Masked || got[3].Digit != '#' || got[3].Masked {
			t.Errorf("keys outside the pause: %+v, %+v", got[0], got[3])
		}
		for _, d := range got[1:3] {
			if !d.Masked || d.Digit != 0 || d.Event != 0 {
				t.Errorf("a key pressed during the pause reached the host: %+v", d)
			}
		}
	})
}
