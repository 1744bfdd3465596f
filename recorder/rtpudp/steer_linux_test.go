package rtpudp

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// The kernel reads every packet of a stream on the socket SocketOf names,
// RTCP by its sender's SSRC with its stream's RTP, whatever the sender's
// address and port: here 200 streams from one source socket, which the
// kernel's own hash would put on one socket.
func TestSteersBySSRC(t *testing.T) {
	for _, sockets := range []int{2, 3, 4} {
		srv, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: sockets, ReadBuffer: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if !srv.SteersBySSRC() {
			srv.Close()
			t.Fatalf("%d sockets: not steered by SSRC", sockets)
		}
		src, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		const streams, each = 200, 5
		var sent int
		for seq := range each {
			for k := range streams {
				ssrc := uint32(k)*7919 + 1
				b := make([]byte, 20)
				b[0], b[1] = 0x80, 111
				if seq == each-1 {
					b[1] = 200 // a sender report closes each stream
					binary.BigEndian.PutUint32(b[4:], ssrc)
				} else {
					binary.BigEndian.PutUint16(b[2:], uint16(seq))
					binary.BigEndian.PutUint32(b[8:], ssrc)
				}
				if _, err := src.Write(b); err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
		src.Close()
		// Loopback delivers within the send: every datagram is queued now.
		got := 0
		per := make([]int, sockets)
		for i, ds := range queued(t, srv) {
			for _, d := range ds {
				ssrc := binary.BigEndian.Uint32(d[8:])
				if isRTCP(d) {
					ssrc = binary.BigEndian.Uint32(d[4:])
				}
				if want := SocketOf(ssrc, sockets); want != i {
					t.Errorf("%d sockets: ssrc %d (rtcp %v) read on socket %d, SocketOf says %d", sockets, ssrc, isRTCP(d), i, want)
				}
				got++
				per[i]++
			}
		}
		srv.Close()
		if got != sent {
			t.Errorf("%d sockets: read %d of %d datagrams", sockets, got, sent)
		}
		for i, n := range per {
			// 1,000 datagrams over k sockets: each gets its share, within a
			// quarter of it.
			if share := sent / sockets; n < share*3/4 || n > share*5/4 {
				t.Errorf("%d sockets: socket %d read %d datagrams, %v in all", sockets, i, n, per)
			}
		}
		t.Logf("%d sockets: %v", sockets, per)
	}
}

// Without steering, the kernel's hash of the addresses keeps one sender on
// one socket, all its streams with it; a datagram too short for an SSRC
// goes to socket 0 when steered, and is not lost.
func TestSteeringOffAndShortDatagrams(t *testing.T) {
	for _, off := range []bool{true, false} {
		srv, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 2, NoSSRCSteering: off})
		if err != nil {
			t.Fatal(err)
		}
		if srv.SteersBySSRC() == off {
			t.Fatalf("NoSSRCSteering %v: SteersBySSRC %v", off, srv.SteersBySSRC())
		}
		src, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		for k := range 100 {
			b := make([]byte, 20)
			b[0], b[1] = 0x80, 111
			binary.BigEndian.PutUint32(b[8:], uint32(k))
			if k == 99 {
				b = b[:3] // no SSRC
			}
			if _, err := src.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		src.Close()
		per := make([]int, 2)
		short := -1
		for i, ds := range queued(t, srv) {
			for _, d := range ds {
				if len(d) == 3 {
					short = i
				}
				per[i]++
			}
		}
		srv.Close()
		switch {
		case per[0]+per[1] != 100:
			t.Errorf("NoSSRCSteering %v: read %v of 100", off, per)
		case off && per[0] != 0 && per[1] != 0:
			t.Errorf("NoSSRCSteering: one sender spread over both sockets: %v", per)
		case !off && (per[0] == 0 || per[1] == 0):
			t.Errorf("steered: one socket read all: %v", per)
		case !off && short != 0:
			t.Errorf("steered: the short datagram went to socket %d", short)
		}
	}
}

// queued reads, without waiting, the datagrams queued on each of the
// server's sockets (loopback delivers within the send: all are queued
// once the sends returned).
func queued(t *testing.T, s *Server) [][][]byte {
	t.Helper()
	out := make([][][]byte, len(s.conns))
	for i, c := range s.conns {
		for {
			buf := make([]byte, 64)
			n, _, err := unix.Recvfrom(c.sock.fd, buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out[i] = append(out[i], buf[:n])
		}
	}
	return out
}
