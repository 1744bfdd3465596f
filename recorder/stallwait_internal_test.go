package recorder

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
)

// TestFrontierWaitsForStallNotDTX: the writing waits for a leg that went
// silent after an audio packet (a stall: its backlog may come), up to
// MaxBurst; not for one whose last packet says DTX (no audio, or the
// packet after a DTX silence, as WebRTC sends every 400 ms).
func TestFrontierWaitsForStallNotDTX(t *testing.T) {
	speech := []byte{0x78, 1, 2, 3, 4, 5, 6, 7}
	for _, c := range []struct {
		name string
		last func(seq int) (ts int, payload []byte) // the customer's last packet
		wait bool
	}{
		{"audio", func(seq int) (int, []byte) { return seq, speech }, true},
		{"no-data-frame", func(seq int) (int, []byte) { return seq, []byte{0x78} }, false},
		{"after-dtx-jump", func(seq int) (int, []byte) { return seq + 20, []byte{0x78, 1, 2} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec, cl, a := startDual(t)
				ctx := context.Background()
				send := func(l *Leg, seq, slot int, payload []byte) {
					if err := l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1,
						SequenceNumber: uint16(seq), Timestamp: uint32(slot * slotSamples)}, Payload: payload}); err != nil {
						t.Fatal(err)
					}
				}
				const n = 50
				for i := range n {
					send(cl, i, i, speech)
					send(a, i, i, speech)
					time.Sleep(SlotDuration)
				}
				ts, p := c.last(n)
				send(cl, n, ts, p)
				hi := int64(ts + 1)
				for i := n; i < n+40; i++ { // 800 ms: the agent alone
					send(a, i, i, speech)
					time.Sleep(SlotDuration)
				}
				rec.mu.Lock()
				next, w := rec.sess.next, rec.sess.wallSlot(time.Now())
				rec.mu.Unlock()
				if c.wait && next > hi {
					t.Errorf("frontier at slot %d, past the silent leg's %d: a stall's backlog would be late", next, hi)
				}
				if !c.wait && next < w-rec.window-1 {
					t.Errorf("frontier at slot %d at wall slot %d: it waited for a leg in DTX", next, w)
				}
				if _, err := rec.Stop(ctx, "a"); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
