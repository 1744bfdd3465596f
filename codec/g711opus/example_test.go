package g711opus_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

func Example() {
	// A G.711 source: here 1 s of PCMU silence in 20 ms packets, with
	// packet 10 lost. In production: a UDP socket reader, or a pion track
	// negotiated with PCMU/PCMA.
	var seq uint16
	src := sourceFunc(func() (*rtp.Packet, interceptor.Attributes, error) {
		if seq == 10 {
			seq++ // lost
		}
		if seq == 50 {
			return nil, nil, io.EOF
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: g711.PayloadTypePCMU,
			SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 42}, Payload: make([]byte, 160)}
		seq++
		return p, nil, nil
	})
	leg, err := g711opus.New(src, g711opus.Config{OpusPT: 111})
	if err != nil {
		panic(err)
	}
	// leg is a recorder.Source; here we just read it.
	var prev *rtp.Header
	for {
		p, _, err := leg.ReadRTP()
		if errors.Is(err, io.EOF) {
			break
		}
		if prev != nil && p.Timestamp-prev.Timestamp != 960 {
			fmt.Printf("gap: ts +%d, seq +%d\n", p.Timestamp-prev.Timestamp, p.SequenceNumber-prev.SequenceNumber)
		}
		h := p.Header
		prev = &h
	}
	st := leg.Stats()
	fmt.Printf("%d Opus packets, %d lost frame\n", st.Frames, st.LostFrames)
	// Output:
	// gap: ts +1920, seq +2
	// 49 Opus packets, 1 lost frame
}

type sourceFunc func() (*rtp.Packet, interceptor.Attributes, error)

func (f sourceFunc) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) { return f() }
