package recorder_test

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy/policytest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// A 60 ms packet written at the frontier just before Stop: the mono file
// holds its three slots, so the recording (metadata duration, the other
// leg's file) must last as long. Found by FuzzLegSequence: the file lasted
// 40 ms longer than its metadata said.
func TestStopAfterLongPacketMono(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Layout: recorder.LayoutMono})
		if err != nil {
			t.Fatal(err)
		}
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if err := leg.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
				Payload: []byte{0x78, 1, 2}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A 60 ms CELT packet (config 15: 20 ms frames, code 3, 3 frames) is
		// not splittable; a 60 ms SILK frame (config 3) is one frame.
		if err := leg.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1, SequenceNumber: 5, Timestamp: 5 * 960},
			Payload: []byte{0x18, 1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // Stop writes the packet's first slot, the frontier
		metas, err := rec.Stop(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			in, err := recorder.Inspect(bytes.NewReader(store.Bytes(m.ID)))
			if err != nil {
				t.Fatal(err)
			}
			if in.Duration != m.Duration {
				t.Errorf("%s: file lasts %v, metadata %v", m.ID, in.Duration, m.Duration)
			}
		}
	})
}
