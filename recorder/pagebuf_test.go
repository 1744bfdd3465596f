package recorder_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// loudPacket returns a 20 ms single-frame Opus packet of 150 to 250 bytes
// (a loud second at 60-100 kbit/s).
func loudPacket(rng *rand.Rand) []byte { return opusPacket(rng, 150, 250) }

// opusPacket returns a 20 ms single-frame Opus packet of lo to hi bytes,
// its TOC one of two configurations, so that some consecutive pairs are
// joined into 40 ms packets and some not.
func opusPacket(rng *rand.Rand, lo, hi int) []byte {
	p := make([]byte, lo+rng.IntN(hi-lo+1))
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	p[0] = []byte{0x78, 0x68}[rng.IntN(2)] // hybrid FB or SWB, 20 ms, code 0
	return p
}

// frames splits the packets of a leg as the recorder writes them (code 0,
// or two frames joined as code 1 or 2) into 20 ms packets of one frame.
func frames(t *testing.T, pkts [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range pkts {
		toc := p[0] &^ 3
		switch p[0] & 3 {
		case 0:
			out = append(out, p)
		case 1:
			n := (len(p) - 1) / 2
			out = append(out, append([]byte{toc}, p[1:1+n]...), append([]byte{toc}, p[1+n:]...))
		case 2:
			n, h := int(p[1]), 2
			if n >= 252 {
				n, h = n+4*int(p[2]), 3
			}
			out = append(out, append([]byte{toc}, p[h:h+n]...), append([]byte{toc}, p[h+n:]...))
		default:
			t.Fatalf("packet with TOC %#x: the recorder writes no code 3", p[0])
		}
	}
	return out
}

// TestLoudCallKeepsPageBuffer: 10 s of loud packets (150-250 bytes) on
// both legs of a dual-channel call never grow the page buffer (pages are
// written shorter than a second instead), and the file decodes and holds
// exactly the packets sent, each leg's in its channel.
func TestLoudCallKeepsPageBuffer(t *testing.T) {
	const slots = 500
	rng := rand.New(rand.NewPCG(13, 1))
	var sent [2][][]byte
	metas, store := record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		caps := rec.PageBufCaps()
		if len(caps) != 1 {
			t.Fatalf("page buffers %v, want one file", caps)
		}
		for i := range slots {
			for j, l := range []*recorder.Leg{c, a} {
				p := loudPacket(rng)
				sent[j] = append(sent[j], p)
				if err := l.WriteRTP(pkt(uint32(j+1), uint16(i), uint32(i*960), p)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
			if got := rec.PageBufCaps(); !slices.Equal(got, caps) {
				t.Errorf("slot %d: page buffer capacity %v, was %v", i, got, caps)
				return
			}
		}
	})
	m := metas[0]
	for _, st := range m.Legs {
		if st.Packets != slots || st.Lost != 0 || st.Late != 0 || st.Overload != 0 {
			t.Errorf("%s: %+v", st.Role, st)
		}
	}
	checkLegPackets(t, store.Bytes(m.ID), sent)
}

// checkLegPackets checks that a dual-channel file decodes and holds
// exactly the 20 ms packets sent by each leg, one every slot.
func checkLegPackets(t *testing.T, data []byte, sent [2][][]byte) {
	t.Helper()
	slots := len(sent[0])
	checkFile(t, data, time.Duration(slots)*20*time.Millisecond, 2)
	for j, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
		var leg bytes.Buffer
		if _, err := recorder.ExtractLeg(bytes.NewReader(data), &leg, role); err != nil {
			t.Fatal(err)
		}
		pkts, _, err := recorder.Packets(&leg)
		if err != nil {
			t.Fatal(err)
		}
		got := frames(t, pkts)
		if len(got) != slots {
			t.Fatalf("%s: %d packets, want %d", role, len(got), slots)
		}
		for i := range got {
			if !bytes.Equal(got[i], sent[j][i]) {
				t.Fatalf("%s packet %d: % x, sent % x", role, i, got[i], sent[j][i])
			}
		}
	}
}

// TestArenaTakesSlotsBack: 2 s of packets larger than the arena's
// regions give the ring entries buffers of their own; 2 s of packets that
// fit take every entry back to its region (no buffer kept for the rest of
// the call); then sizes alternating across the region's size. The file
// holds exactly the packets sent.
func TestArenaTakesSlotsBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	var sent [2][][]byte
	metas, store := record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		for i := range 300 {
			lo, hi := 150, 250 // larger than a region
			switch {
			case i >= 200:
				lo, hi = 20, 250
			case i >= 100:
				lo, hi = 20, 120
			}
			for j, l := range []*recorder.Leg{c, a} {
				p := opusPacket(rng, lo, hi)
				sent[j] = append(sent[j], p)
				if err := l.WriteRTP(pkt(uint32(j+1), uint16(i), uint32(i*960), p)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
			switch i {
			case 99:
				if n := c.OwnSlotBuffers(); n < 8 {
					t.Errorf("after 2 s of loud packets: %d ring entries with buffers of their own, want most of 16", n)
				}
			case 199:
				if n, m := c.OwnSlotBuffers(), a.OwnSlotBuffers(); n != 0 || m != 0 {
					t.Errorf("after 2 s of packets that fit the arena: %d and %d ring entries still with buffers of their own", n, m)
				}
			}
		}
	})
	for _, st := range metas[0].Legs {
		if st.Packets != 300 || st.Lost != 0 || st.Late != 0 {
			t.Errorf("%s: %+v", st.Role, st)
		}
	}
	checkLegPackets(t, store.Bytes(metas[0].ID), sent)
}

// TestLoudCallAllocs: once warm, a dual-channel call of loud packets
// allocates nothing per packet (pages written shorter, never grown;
// queued page buffers reused).
func TestLoudCallAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	pkts := make([][]byte, 200)
	for i := range pkts {
		pkts[i] = loudPacket(rng)
	}
	clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := &recorder.Writers{Goroutines: 1, QueueBytes: 64 << 20, RecordingBytes: 64 << 20} // audio comes faster than real time
	rec, err := recorder.New(recorder.Config{CallID: "loud", Purpose: policy.Quality, Store: &recordertest.DiscardStore{}, Audit: audit.Discard,
		Now: clk.now, MaxPause: recorder.MaxMaxPause, Writers: w})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "t"); err != nil {
		t.Fatal(err)
	}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}}
	slot := 0
	step := func() {
		clk.t = clk.t.Add(20 * time.Millisecond)
		for j, l := range []*recorder.Leg{c, a} {
			p.SSRC, p.SequenceNumber, p.Timestamp = uint32(j+1), uint16(slot), uint32(slot*960)
			p.Payload = pkts[(2*slot+j)%len(pkts)]
			if err := l.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
		}
		slot++
	}
	for range 250 { // warm up: 5 s
		step()
	}
	caps := rec.PageBufCaps()
	if n := testing.AllocsPerRun(500, step); n != 0 {
		t.Errorf("%.3f allocations per slot, want 0", n)
	}
	if got := rec.PageBufCaps(); !slices.Equal(got, caps) {
		t.Errorf("page buffer capacity %v, was %v", got, caps)
	}
	metas, err := rec.Stop(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(metas[0].Legs) != 2 {
		t.Fatalf("legs %+v", metas[0].Legs)
	}
	for _, st := range metas[0].Legs {
		if st.Overload != 0 || st.Late != 0 || st.Packets < int64(slot-1) {
			t.Errorf("%s: %+v", st.Role, st)
		}
	}
	// Every queued byte was accounted for when written.
	if st := w.Stats(); st.Queued != 0 || st.Dropped != 0 || st.Pages == 0 {
		t.Errorf("writers: %+v", st)
	}
}
