package recordertest

import (
	"io"
	"sync"

	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Source is a recorder.Source replaying packets, then io.EOF. Its zero value
// is an empty source. It does not pace packets: a Leg consuming it records
// them as fast as they are read (use a bubble of testing/synctest and a
// pacing Source, or Leg.WriteRTP, for a timeline).
type Source struct {
	mu      sync.Mutex
	Packets []*rtp.Packet
	next    int
}

var _ recorder.Source = (*Source)(nil)

// ReadRTP implements recorder.Source.
func (s *Source) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.Packets) {
		return nil, nil, io.EOF
	}
	p := s.Packets[s.next]
	s.next++
	return p, nil, nil
}

// OpusPackets builds the RTP packets of one leg from Opus payloads: payload
// type pt, sequence numbers and 48 kHz timestamps from the given bases,
// 20 ms apart.
func OpusPackets(payloads [][]byte, pt uint8, ssrc uint32, seq uint16, ts uint32) []*rtp.Packet {
	out := make([]*rtp.Packet, len(payloads))
	for i, p := range payloads {
		out[i] = &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: ssrc,
			SequenceNumber: seq + uint16(i), Timestamp: ts + uint32(i*960)}, Payload: p}
	}
	return out
}
