package recorder_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// senderReport builds an RTCP sender report of ssrc: the sender's NTP
// clock at its RTP timestamp ts, followed by an SDES chunk (a compound
// packet, as senders send them).
func senderReport(ssrc uint32, ntp time.Duration, ts uint32) []byte {
	b := make([]byte, 28, 40)
	b[0], b[1] = 0x80, 200
	binary.BigEndian.PutUint16(b[2:], 6)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	binary.BigEndian.PutUint32(b[8:], 3_900_000_000+uint32(ntp/time.Second))
	binary.BigEndian.PutUint32(b[12:], uint32((uint64(ntp%time.Second)<<32)/uint64(time.Second)))
	binary.BigEndian.PutUint32(b[16:], ts)
	// SDES: one chunk, CNAME "a", padded.
	sdes := []byte{0x81, 202, 0, 2, 0, 0, 0, 0, 1, 1, 'a', 0}
	binary.BigEndian.PutUint32(sdes[4:], ssrc)
	return append(b, sdes...)
}

// TestRTCPAlignsLegs: the agent's network is 200 ms slower than the
// customer's. Without RTCP each leg is placed at its arrival, 10 slots
// apart; once both legs sent sender reports from one clock (a SIPREC SRC, a
// media server), their audio of the same instant shares a slot.
func TestRTCPAlignsLegs(t *testing.T) {
	const n = 300
	for _, withSR := range []bool{false, true} {
		metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
			var evs []simEvent
			for i := range n {
				spoken := time.Duration(i) * 20 * time.Millisecond
				cts, ats := uint32(1000+i*960), uint32(77+i*960)
				evs = append(evs, simEvent{at: spoken, leg: cl, pkt: pkt(1, uint16(i), cts, marked(0, i))})
				evs = append(evs, simEvent{at: spoken + 200*time.Millisecond, leg: a, pkt: pkt(2, uint16(i), ats, marked(1, i))})
				if withSR && i%50 == 10 {
					evs = append(evs, simEvent{at: spoken, fn: func() {
						if err := cl.WriteRTCP(senderReport(1, spoken, cts)); err != nil {
							t.Error(err)
						}
					}})
					evs = append(evs, simEvent{at: spoken + 200*time.Millisecond, fn: func() {
						if err := a.WriteRTCP(senderReport(2, spoken, ats)); err != nil {
							t.Error(err)
						}
					}})
				}
			}
			evs = append(evs, simEvent{at: n*20*time.Millisecond + 300*time.Millisecond, fn: func() {}})
			run(t, evs)
		})
		var pos [2][]int
		for i, m := range metas {
			t.Logf("SR %v: %s %+v", withSR, m.Channels[0], m.Legs[0])
			pos[i] = positions(t, store.Bytes(m.ID), byte(i), n)
		}
		// From the second report on (1 s), the legs' packets of the same
		// instant are at most a slot apart with reports, 10 without.
		far := 0
		for i := 60; i < n; i++ {
			if d := pos[1][i] - pos[0][i]; d < -1 || d > 1 {
				far++
			}
		}
		if withSR && far > 0 {
			t.Errorf("with sender reports: %d of %d packets more than a slot apart", far, n-60)
		}
		if !withSR && far != n-60 {
			t.Errorf("without sender reports: %d of %d packets more than a slot apart, want all (the test shows nothing)", far, n-60)
		}
		if withSR && metas[0].Legs[0].Packets != n {
			t.Errorf("customer: %+v, want every packet written", metas[0].Legs[0])
		}
	}
}

func TestWriteRTCPBadPackets(t *testing.T) {
	record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		for _, b := range [][]byte{
			nil,
			{0x80},
			{0x40, 200, 0, 6},             // version 1
			{0x80, 200, 0, 9, 0, 0, 0, 0}, // longer than the packet
			{0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, // a sender report without sender info
		} {
			if err := c.WriteRTCP(b); !errors.Is(err, recorder.ErrBadPacket) {
				t.Errorf("WriteRTCP(% x): %v, want ErrBadPacket", b, err)
			}
		}
		// A receiver report alone, a report of another SSRC: ignored.
		rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 9}
		if err := c.WriteRTCP(rr); err != nil {
			t.Errorf("receiver report: %v", err)
		}
		if err := c.WriteRTCP(senderReport(99, time.Second, 5)); err != nil {
			t.Errorf("sender report before any packet: %v", err)
		}
		c.WriteRTP(pkt(1, 1, 1, marked(0, 1)))
		sr := senderReport(1, time.Second, 5)
		if n := testing.AllocsPerRun(100, func() { c.WriteRTCP(sr) }); n != 0 {
			t.Errorf("WriteRTCP: %v allocations", n)
		}
		c.Close()
		if err := c.WriteRTCP(sr); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("closed leg: %v", err)
		}
	})
}
