package g711opus

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
)

// FuzzTranscode feeds arbitrary packet sequences (each 8 bytes of input
// give a packet: payload type selector, seq delta, ts delta, length) and
// checks the output invariants: no panic, Opus packets in increasing
// timestamp order with increasing sequence numbers and 960-tick steps.
func FuzzTranscode(f *testing.F) {
	f.Add([]byte{0, 1, 0, 160, 0, 160, 0, 0, 0, 1, 0, 160, 0, 160, 0, 0})
	f.Add([]byte{0, 1, 0, 160, 0, 160, 0, 0, 13, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 255, 3, 32, 0, 0})
	f.Add([]byte{8, 255, 255, 0, 160, 100, 0, 0, 101, 1, 0, 0, 0, 4, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var pkts []*rtp.Packet
		seq, ts := uint16(0), uint32(0)
		for len(data) >= 8 {
			pt := []uint8{0, 8, 13, 101, 0, 0, 0, 34}[data[0]%8]
			seq += binary.BigEndian.Uint16(data[1:])
			ts += uint32(int32(int16(binary.BigEndian.Uint16(data[3:])))) * 4
			n := int(binary.BigEndian.Uint16(data[5:]) % 2000)
			ssrc := uint32(data[7] >> 6)
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc},
				Payload: make([]byte, n)})
			data = data[8:]
		}
		tr, err := New(&fakeSource{pkts: pkts}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		var last *rtp.Header
		for range 100000 {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if p.PayloadType != DefaultOpusPT {
				continue
			}
			if last != nil && last.SSRC == p.SSRC && (int32(p.Timestamp-last.Timestamp) <= 0 || (p.Timestamp-last.Timestamp)%960 != 0 ||
				int16(p.SequenceNumber-last.SequenceNumber) <= 0) {
				if tr.Stats().Resets == 0 {
					t.Fatalf("ts %d seq %d after ts %d seq %d", p.Timestamp, p.SequenceNumber, last.Timestamp, last.SequenceNumber)
				}
			}
			h := p.Header
			last = &h
		}
		t.Fatal("no end after 100000 reads")
	})
}
