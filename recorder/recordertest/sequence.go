package recordertest

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
)

// Step is one packet of a Sequence, for fuzzing the path from the network
// to the file with structured input.
type Step struct {
	// Wait is how long after the previous step the packet arrives.
	Wait time.Duration
	// Leg selects one of two legs (0 or 1).
	Leg int
	// Sel is the index in the payload type table given to Sequence that
	// chose Packet.PayloadType (a caller may give an index another
	// meaning, such as a pause).
	Sel int
	// Packet is the packet that arrives. For a step decoded as a raw
	// datagram it is the result of rtp.Packet.Unmarshal of the payload
	// bytes (nil when they are not RTP: the packet is lost, as a UDP
	// source would skip it).
	Packet *rtp.Packet
	// Raw is set for a step decoded as a datagram.
	Raw bool
	// Datagram is a raw step's payload bytes (RTCP, with rtcp-mux, when
	// its second byte is 192 to 223: RFC 5761).
	Datagram []byte
}

// StepHeaderLen is the size of one step's header in a Sequence's input.
const StepHeaderLen = 6

// Sequence decodes fuzz input as a sequence of packet steps, at most max.
// Each step is StepHeaderLen bytes then its payload:
//
//	byte 0: bits 0-2 the payload type (an index in pts, which has 8
//	        entries), bit 3 the marker, bit 4 switch to the next SSRC,
//	        bit 5 raw (the payload bytes are a whole datagram given to
//	        rtp.Packet.Unmarshal), bits 6-7 the leg (bit 6)
//	byte 1: the sequence number delta (int8, so reordering and duplicates)
//	bytes 2-3: the timestamp delta (int16, big endian) times tsUnit
//	byte 4: the arrival step: wait in milliseconds
//	byte 5: the payload length (capped by the input left)
//
// The sequence number, timestamp and SSRC run per leg, starting at values
// taken from the leg (so that wrap-around is near for leg 1).
func Sequence(data []byte, pts [8]uint8, tsUnit uint32, max int) []Step {
	type state struct {
		seq  uint16
		ts   uint32
		ssrc uint32
	}
	legs := [2]state{{seq: 0, ts: 0, ssrc: 1}, {seq: 65500, ts: 0xfffff000, ssrc: 0x80000000}}
	var out []Step
	for len(data) >= StepHeaderLen && len(out) < max {
		b0 := data[0]
		leg := int(b0>>6) & 1
		st := &legs[leg]
		st.seq += uint16(int16(int8(data[1])))
		st.ts += uint32(int32(int16(binary.BigEndian.Uint16(data[2:])))) * tsUnit
		if b0&0x10 != 0 {
			st.ssrc++
		}
		n := min(int(data[5]), len(data)-StepHeaderLen)
		payload := data[StepHeaderLen : StepHeaderLen+n]
		s := Step{Wait: time.Duration(data[4]) * time.Millisecond, Leg: leg, Sel: int(b0 & 7)}
		data = data[StepHeaderLen+n:]
		if b0&0x20 != 0 {
			s.Raw, s.Datagram = true, payload
			p := &rtp.Packet{}
			if p.Unmarshal(payload) == nil {
				s.Packet = p
			}
			out = append(out, s)
			continue
		}
		s.Packet = &rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: pts[b0&7], Marker: b0&8 != 0,
				SequenceNumber: st.seq, Timestamp: st.ts, SSRC: st.ssrc},
			Payload: payload,
		}
		out = append(out, s)
	}
	return out
}

// AppendStep encodes one step for Sequence (seed corpora).
func AppendStep(dst []byte, leg, sel int, marker, switchSSRC bool, dseq int8, dts int16, wait uint8, payload []byte) []byte {
	b0 := byte(sel&7) | byte(leg&1)<<6
	if marker {
		b0 |= 8
	}
	if switchSSRC {
		b0 |= 0x10
	}
	dst = append(dst, b0, byte(dseq))
	dst = binary.BigEndian.AppendUint16(dst, uint16(dts))
	return append(append(dst, wait, byte(len(payload))), payload...)
}
