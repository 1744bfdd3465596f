package recorder

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
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
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
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

// TestRandomBurstsKeepOrder: random bursts (1 to 50 packets at once, the
// average rate real time) through growing and shrinking rings: every
// packet's frame reaches the file once, in order, at its slot.
func TestRandomBurstsKeepOrder(t *testing.T) {
	for seed := range uint64(4) {
		dir := t.TempDir()
		var id string
		sent := 0
		synctest.Test(t, func(t *testing.T) {
			store, _ := NewFileStore(dir)
			rec, err := New(Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Layout: LayoutMono, MaxPause: MaxMaxPause})
			if err != nil {
				t.Fatal(err)
			}
			l, _ := rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
			ctx := context.Background()
			if _, err = rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(seed, 7))
			start := time.Now()
			grows, shrinks, wasBig := 0, 0, false
			for sent < 1500 {
				// A burst: packets [sent, sent+n) at the time of the first.
				if d := time.Duration(sent)*SlotDuration - time.Since(start); d > 0 {
					time.Sleep(d)
				}
				n := 1
				if (sent/150)%2 == 0 && rng.IntN(4) == 0 { // 3 s of bursts, then 3 s steady
					n = 1 + rng.IntN(50)
				}
				for range n {
					// A 20 ms CELT frame of 3 bytes naming its packet.
					frame := []byte{0x78, byte(sent >> 8), byte(sent), 0x55}
					if err := l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 9,
						SequenceNumber: uint16(sent), Timestamp: uint32(sent * slotSamples)}, Payload: frame}); err != nil {
						t.Fatal(err)
					}
					sent++
					rec.mu.Lock()
					big := len(l.tl.ring) > ringSize
					rec.mu.Unlock()
					if big && !wasBig {
						grows++
					} else if !big && wasBig {
						shrinks++
					}
					wasBig = big
				}
			}
			if grows == 0 || shrinks == 0 {
				t.Errorf("seed %d: the ring grew %d times and shrank %d times", seed, grows, shrinks)
			}
			time.Sleep(time.Duration(sent)*SlotDuration - time.Since(start) + time.Second)
			ms, err := rec.Stop(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			id = ms[0].ID
			if st := ms[0].Legs[0]; st.Slips != 0 || st.Late != 0 || st.Duplicates != 0 || st.Lost != 0 || st.Packets != int64(sent) {
				t.Errorf("seed %d: stats %+v (%d sent)", seed, st, sent)
			}
		})
		store, _ := NewFileStore(dir)
		rc, err := store.Open(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		pkts, _, err := Packets(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		for _, p := range pkts {
			var o opusPacket
			if err := parseOpus(p, false, &o); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			for i := range o.n {
				f := p[o.off[i] : o.off[i]+o.size[i]]
				if len(f) != 3 || f[2] != 0x55 {
					continue // a filler before the first packet
				}
				if got := int(f[0])<<8 | int(f[1]); got != next {
					t.Fatalf("seed %d: packet %d where %d was due", seed, got, next)
				}
				next++
			}
		}
		if next != sent {
			t.Errorf("seed %d: %d of %d packets in the file", seed, next, sent)
		}
	}
}
