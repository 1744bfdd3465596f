package rtpudp_test

import (
	"fmt"
	"net"

	"github.com/consentrec/consentrec/recorder/rtpudp"
	"github.com/pion/rtp"
)

// ExamplePorts gives each of two streams a port of its own (as a SIP or
// SIPREC answer does, without knowing their SSRCs): one goroutine reads
// both.
func ExamplePorts() {
	ports, err := rtpudp.NewPorts(rtpudp.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ports.Close()
	customer, agent := make(printer, 1), make(printer, 1) // in a host: the call's two legs
	ca, _ := ports.Listen("udp4", "127.0.0.1:0", customer)
	aa, _ := ports.Listen("udp4", "127.0.0.1:0", agent)
	go ports.Serve()

	send := func(to net.Addr, seq uint16) {
		c, _ := net.DialUDP("udp4", nil, to.(*net.UDPAddr))
		defer c.Close()
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: 960, SSRC: 7},
			Payload: []byte{0xf8, 0xff, 0xfe}}).Marshal()
		c.Write(b)
	}
	send(ca, 1)
	fmt.Println("customer:", <-customer)
	send(aa, 2)
	fmt.Println("agent:", <-agent)
	_ = ports.Remove(aa) // the stream ended (BYE): its socket is closed
	fmt.Println(ports.Len(), "port left")
	// Output:
	// customer: ssrc 7 seq 1 ts 960 3 bytes
	// agent: ssrc 7 seq 2 ts 960 3 bytes
	// 1 port left
}
