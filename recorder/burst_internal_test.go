package recorder

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/pion/rtp"
)

// TestBurstRingShrinks: a burst grows the leg's ring; a period after the
// last burst it is back to its base size (the steady-state memory), the
// pending slots kept.
func TestBurstRingShrinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rec, err := New(Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Layout: LayoutMono})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
		ctx := context.Background()
		if _, err := rec.Start(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		frame := []byte{0x78, 1, 2, 3} // one 20 ms CELT frame
		seq := 0
		send := func(n int) {
			for range n {
				if err := l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1,
					SequenceNumber: uint16(seq), Timestamp: uint32(seq * 960)}, Payload: frame}); err != nil {
					t.Fatal(err)
				}
				seq++
			}
		}
		ringLen := func() int {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return len(l.tl.ring)
		}
		// Two bursts of one second each.
		for range 2 {
			send(50)
			if n := ringLen(); n <= ringSize {
				t.Fatalf("ring of %d slots during a 1 s burst", n)
			}
			time.Sleep(time.Second)
		}
		// Then steady packets: the ring shrinks back.
		for range 200 {
			send(1)
			time.Sleep(20 * time.Millisecond)
		}
		if n := ringLen(); n != ringSize {
			t.Errorf("ring of %d slots 4 s after the last burst, want %d", n, ringSize)
		}
		metas, err := rec.Stop(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		st := metas[0].Legs[0]
		if st.Slips != 0 || st.Late != 0 || st.Duplicates != 0 || st.Lost != 0 || st.Packets < int64(seq)-2 {
			t.Errorf("stats %+v (%d sent)", st, seq)
		}
	})
}
