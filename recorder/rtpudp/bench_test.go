package rtpudp

import (
	"net"
	"testing"

	"github.com/pion/rtp"
)

type countWriter struct{ n int }

func (w *countWriter) WriteRTP(*rtp.Packet) error { w.n++; return nil }

// BenchmarkDispatch demultiplexes batches of 64 datagrams among 10,000
// streams (the reader's work after recvmmsg returns): ns and allocs per
// datagram.
func BenchmarkDispatch(b *testing.B) {
	const streams, batch = 10000, 64
	s := &Server{cfg: Config{Batch: batch}, byssrc: map[uint32]*stream{}}
	ws := make([]countWriter, streams)
	for i := range ws {
		s.byssrc[uint32(i+1)] = &stream{w: &ws[i]}
	}
	r := &reader{s: s, bufs: make([][]byte, batch), lens: make([]int, batch), packets: make([]rtp.Packet, batch), streams: make([]*stream, batch)}
	payload := make([]byte, 60)
	payload[0] = 0x78
	for i := range r.bufs {
		r.bufs[i] = make([]byte, maxDatagram)
		r.lens[i] = copy(r.bufs[i], packet(uint32(i*151%streams+1), uint16(i), payload...))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.dispatch(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/datagram")
}

// BenchmarkLoopback sends datagrams of 1,000 streams over 127.0.0.1 and
// reads them through a Server (recvmmsg and dispatch): allocs per datagram
// on the whole receive path. The sender's cost is included in ns/op.
func BenchmarkLoopback(b *testing.B) {
	const streams = 1000
	s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 1})
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan struct{}, 1024)
	sig := sigWriter(got)
	for i := range streams {
		if err := s.Add(uint32(i+1), sig); err != nil {
			b.Fatal(err)
		}
	}
	go s.Serve()
	defer s.Close()
	c, err := net.DialUDP("udp4", nil, s.Addr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pk := make([][]byte, streams)
	for i := range pk {
		pk[i] = packet(uint32(i+1), uint16(i), 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Keep a bounded number in flight so none is dropped.
		for k := 0; k < 16; k++ {
			if _, err := c.Write(pk[i%streams]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		for k := 0; k < 16; k++ {
			<-got
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*16), "ns/datagram")
}

type sigWriter chan struct{}

func (w sigWriter) WriteRTP(*rtp.Packet) error { w <- struct{}{}; return nil }
