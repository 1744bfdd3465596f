package rtpudp_test

import (
	"fmt"
	"net"

	"github.com/consentrec/consentrec/recorder/rtpudp"
	"github.com/pion/rtp"
)

// printer stands for a *recorder.Leg: anything with WriteRTP.
type printer chan string

func (p printer) WriteRTP(pk *rtp.Packet) error {
	p <- fmt.Sprintf("ssrc %d seq %d ts %d %d bytes", pk.SSRC, pk.SequenceNumber, pk.Timestamp, len(pk.Payload))
	return nil
}

func Example() {
	srv, err := rtpudp.Listen("udp4", "127.0.0.1:0", rtpudp.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	leg := make(printer, 1)
	_ = srv.Add(0x1234, leg) // in a host: srv.Add(ssrcFromSDP, recorderLeg)
	go srv.Serve()

	// A sender (the caller's media, here on loopback).
	c, _ := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
	defer c.Close()
	b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, Timestamp: 960, SSRC: 0x1234},
		Payload: []byte{0xf8, 0xff, 0xfe}}).Marshal()
	c.Write(b)
	fmt.Println(<-leg)
	// Output: ssrc 4660 seq 1 ts 960 3 bytes
}
