package rtpudp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

type countWriter struct{ n int }

func (w *countWriter) WriteRTP(*rtp.Packet) error { w.n++; return nil }

// BenchmarkDispatch demultiplexes batches of 64 datagrams among 10,000
// streams (the reader's work after recvmmsg returns): ns and allocs per
// datagram.
func BenchmarkDispatch(b *testing.B) {
	const streams, batch = 10000, 64
	s := &Server{cfg: Config{Batch: batch}}
	ws := make([]countWriter, streams)
	for i := range ws {
		s.byssrc.put(uint32(i+1), &stream{w: &ws[i]})
	}
	r := s.newReaderBufs()
	payload := make([]byte, 60)
	payload[0] = 0x78
	for i := range r.bufs {
		r.lens[i] = copy(r.bufs[i], packet(uint32(i*151%streams+1), uint16(i), payload...))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.dispatch(batch, time.Now())
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
	c := dial(b, s.Addr())
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

// BenchmarkPortsDispatch hands one datagram of each of 1,000 sockets to
// its Writer, as the port reader does after recvmmsg: ns and allocs per
// datagram.
func BenchmarkPortsDispatch(b *testing.B) {
	const streams = 1000
	socks := make([]*portSock, streams)
	ws := make([]countWriter, streams)
	for i := range socks {
		socks[i] = &portSock{st: stream{w: &ws[i]}}
	}
	bufs, lens := [][]byte{make([]byte, maxDatagram)}, []int{0}
	payload := make([]byte, 60)
	payload[0] = 0x78
	lens[0] = copy(bufs[0], packet(1, 1, payload...))
	var pk rtp.Packet
	var c counts
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := socks[i%streams]
		s.mu.Lock()
		dispatchPort(s, bufs, lens, &pk, 1, &c)
		s.mu.Unlock()
		i++
	}
	if c.datagrams != int64(b.N) {
		b.Fatalf("%d datagrams dispatched, want %d", c.datagrams, b.N)
	}
}

// BenchmarkPortsLoopback sends one datagram to each of 200 sockets per
// round over 127.0.0.1 and reads them through Ports (epoll, recvmmsg,
// dispatch, one goroutine): allocs/op is per 200 datagrams, on the whole
// path (the sender's WriteToUDPAddrPort allocates nothing). The sender's
// cost is included in ns/datagram.
func BenchmarkPortsLoopback(b *testing.B) {
	const streams = 200
	p, err := NewPorts(Config{Coalesce: -1})
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan struct{}, streams)
	sig := sigWriter(got)
	addrs := make([]net.Addr, streams)
	for i := range addrs {
		if addrs[i], err = p.Listen("udp4", "127.0.0.1:0", sig); err != nil {
			b.Fatal(err)
		}
	}
	go p.Serve()
	defer p.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	uas := make([]netip.AddrPort, streams)
	for i, a := range addrs {
		uas[i] = a.(*net.UDPAddr).AddrPort()
	}
	pk := packet(1, 1, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range uas {
			if _, err := c.WriteToUDPAddrPort(pk, a); err != nil {
				b.Fatal(err)
			}
		}
		for range streams {
			<-got
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams), "ns/datagram")
}
