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
	"github.com/pion/rtp"
)

// A leg without OpusPT learns Opus's payload type from its packets; a
// comfort-noise packet (static payload type 13) arriving first must not
// be taken for Opus, or every Opus packet after it would be dropped.
func TestLearnOpusPTSkipsStaticTypes(t *testing.T) {
	tone := fixture(t, "tone.opus")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: &events{}})
		if err != nil {
			t.Fatal(err)
		}
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		cn := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 13, SSRC: 1}, Payload: []byte{40}}
		leg.WriteRTP(cn)
		for i := range 50 {
			leg.WriteRTP(pkt(1, uint16(i+1), uint32(i*960), tone[i]))
			time.Sleep(20 * time.Millisecond)
		}
		metas, err := rec.Stop(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if st := metas[0].Legs[0]; st.Packets < 45 {
			t.Errorf("after a comfort-noise packet first, %d Opus packets recorded, want 50: %+v", st.Packets, st)
		}
	})
}
