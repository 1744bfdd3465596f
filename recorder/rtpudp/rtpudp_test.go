package rtpudp

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
)

type chanWriter struct {
	ch  chan rtp.Packet
	err error
}

func (w *chanWriter) WriteRTP(p *rtp.Packet) error {
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	w.ch <- c
	return w.err
}

func packet(ssrc uint32, seq uint16, payload ...byte) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: ssrc},
		Payload: payload}).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// fence returns once each of the server's sockets has read every datagram
// sent before it: it sends each socket one for an SSRC of its own
// (SocketOf) and waits for them, which each socket reads in order.
func fence(t *testing.T, s *Server, sockets int, send func([]byte)) {
	t.Helper()
	w := &chanWriter{ch: make(chan rtp.Packet, sockets)}
	next := uint32(1 << 30)
	for i := range sockets {
		for SocketOf(next, sockets) != i {
			next++
		}
		if err := s.Add(next, w); err != nil {
			t.Fatal(err)
		}
		send(packet(next, 1, 0xf8))
		next++
	}
	for range sockets {
		<-w.ch
	}
}

func TestDemuxBySSRC(t *testing.T) {
	s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 2, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	a, b := &chanWriter{ch: make(chan rtp.Packet, 100)}, &chanWriter{ch: make(chan rtp.Packet, 100), err: errors.New("closed leg")}
	if err := s.Add(1, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(2, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(2, a); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add of ssrc 2: %v, want ErrDuplicate", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()

	c := dial(t, s.Addr())
	send := func(d []byte) {
		t.Helper()
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	// One socket (one source port): the kernel delivers in order.
	send(packet(3, 1, 0xf8)) // unknown ssrc
	send([]byte{1, 2, 3})    // not RTP
	send(packet(1, 7, 0xf8, 0xff, 0xfe))
	send(packet(2, 9, 0xf8)) // its writer fails: counted
	send(packet(1, 8, 0x78, 1))
	for _, want := range []uint16{7, 8} {
		p := <-a.ch
		if p.SSRC != 1 || p.SequenceNumber != want || p.Timestamp != uint32(want)*960 {
			t.Fatalf("leg 1 got ssrc %d seq %d ts %d, want seq %d", p.SSRC, p.SequenceNumber, p.Timestamp, want)
		}
	}
	if p := <-b.ch; p.SSRC != 2 || p.SequenceNumber != 9 || string(p.Payload) != "\xf8" {
		t.Fatalf("leg 2 got %+v", p)
	}
	s.Remove(1)
	send(packet(1, 9, 0xf8)) // now unknown
	send(packet(2, 10, 0xf8))
	<-b.ch
	fence(t, s, 2, send) // the streams may be read on two sockets
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	st := s.Stats()
	if st.Datagrams != 9 || st.Unknown != 2 || st.Malformed != 1 || st.Rejected != 2 || st.Batches < 1 {
		t.Fatalf("stats %+v", st)
	}
	if len(a.ch) != 0 {
		t.Fatalf("leg 1 got a packet after Remove")
	}
	if err := s.Add(5, a); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v, want ErrClosed", err)
	}
}

// dispatch never panics and never hands a Writer anything but a parsed
// packet of its SSRC (or RTCP of that sender), whatever the datagrams
// hold; a datagram longer than the buffers arrives truncated, as the
// kernel hands it over (MSG_TRUNC).
func FuzzDispatch(f *testing.F) {
	f.Add(packet(1, 1, 0xf8), []byte{0x80})
	f.Add([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, packet(1, 2))
	f.Add(packet(1, 1, make([]byte, 1600)...), senderReport(1, 1, 2))
	f.Fuzz(func(t *testing.T, d1, d2 []byte) {
		s := &Server{cfg: Config{Batch: 2}}
		w := &rtcpWriter{chanWriter: chanWriter{ch: make(chan rtp.Packet, 2)}, rtcp: make(chan []byte, 2)}
		s.byssrc.put(1, newStream(w))
		r := s.newReaderBufs()
		for i, d := range [][]byte{d1, d2} {
			r.lens[i] = copy(r.bufs[i], d)
			if len(d) > maxDatagram {
				r.lens[i] = maxDatagram + 1 // truncated
			}
		}
		r.dispatch(2, time.Now())
		for len(w.ch) > 0 {
			if p := <-w.ch; p.SSRC != 1 {
				t.Fatalf("writer of ssrc 1 got ssrc %d", p.SSRC)
			}
		}
		for len(w.rtcp) > 0 {
			if b := <-w.rtcp; len(b) < 8 || b[4]|b[5]|b[6] != 0 || b[7] != 1 {
				t.Fatalf("writer of ssrc 1 got the RTCP of another sender: % x", b)
			}
		}
		st := s.Stats()
		if st.Datagrams != 2 || st.Unknown+st.Malformed > 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// rtcpWriter takes RTP and RTCP.
type rtcpWriter struct {
	chanWriter
	rtcp chan []byte
}

func (w *rtcpWriter) WriteRTCP(b []byte) error {
	w.rtcp <- append([]byte(nil), b...)
	return nil
}

// senderReport is a minimal RTCP SR (RFC 3550 6.4.1) of ssrc, no report
// blocks.
func senderReport(ssrc uint32, ntp uint64, rtpTime uint32) []byte {
	b := make([]byte, 28)
	b[0], b[1], b[3] = 0x80, 200, 6
	be := func(at int, v uint32) {
		b[at], b[at+1], b[at+2], b[at+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	be(4, ssrc)
	be(8, uint32(ntp>>32))
	be(12, uint32(ntp))
	be(16, rtpTime)
	return b
}

// RTCP on the RTP port goes, by its sender's SSRC, to a Writer that takes
// RTCP, and is ignored (never parsed as RTP) for one that does not.
func TestRTCPMux(t *testing.T) {
	s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 1, Batch: 4, Coalesce: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := &rtcpWriter{chanWriter: chanWriter{ch: make(chan rtp.Packet, 10)}, rtcp: make(chan []byte, 10)}
	b := &chanWriter{ch: make(chan rtp.Packet, 10)}
	if err := s.Add(5, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(6, b); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	defer s.Close()
	c := dial(t, s.Addr())
	sr := senderReport(5, 0xe1234567_80000000, 96000)
	for _, d := range [][]byte{senderReport(6, 1, 2), sr, packet(5, 1, 0xf8), packet(6, 2, 0xf8)} {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-a.rtcp; string(got) != string(sr) {
		t.Fatalf("RTCP handed over: % x, want % x", got, sr)
	}
	if p := <-a.ch; p.SequenceNumber != 1 {
		t.Fatalf("leg 5 RTP seq %d", p.SequenceNumber)
	}
	// The RTCP of ssrc 6 was sent before its RTP: had it been taken for
	// RTP, it would arrive first.
	if p := <-b.ch; p.SequenceNumber != 2 || p.PayloadType != 111 {
		t.Fatalf("leg 6 got %+v, want its RTP packet only", p.Header)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if st := s.Stats(); st.RTCP != 1 || st.Malformed != 0 {
		t.Fatalf("stats %+v, want one RTCP datagram handed over", st)
	}
}

// A reader that waits before reading again (Coalesce) still delivers
// every datagram, in order, and reads what arrived meanwhile in full
// batches.
func TestCoalesce(t *testing.T) {
	s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 1, Batch: 64, Coalesce: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := &chanWriter{ch: make(chan rtp.Packet, 1000)}
	if err := s.Add(1, a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	defer s.Close()
	c := dial(t, s.Addr())
	send := func(i int) {
		if _, err := c.Write(packet(1, uint16(i), 0xf8)); err != nil {
			t.Fatal(err)
		}
	}
	// The first datagram is read alone; the reader then waits half a
	// second, in which the other 256 arrive: four full batches.
	send(0)
	if p := <-a.ch; p.SequenceNumber != 0 {
		t.Fatalf("first packet: seq %d", p.SequenceNumber)
	}
	const n = 257
	for i := 1; i < n; i++ {
		send(i)
	}
	for i := 1; i < n; i++ {
		if p := <-a.ch; p.SequenceNumber != uint16(i) {
			t.Fatalf("packet %d: seq %d", i, p.SequenceNumber)
		}
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if st := s.Stats(); st.Datagrams != n || st.Batches > 8 {
		t.Fatalf("stats %+v: want %d datagrams in at most 8 reads (1 + 4 full batches, and a partial one for each wait that ended mid-send)", st, n)
	}
}

// A datagram longer than the read buffers (a peer's, or a jumbo frame) is
// truncated by the kernel, counted malformed and dropped; the stream goes
// on.
func TestOversizedDatagram(t *testing.T) {
	s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 1, Coalesce: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := &chanWriter{ch: make(chan rtp.Packet, 10)}
	if err := s.Add(1, a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	c := dial(t, s.Addr())
	big := packet(1, 1, make([]byte, 3000)...)
	for _, d := range [][]byte{big, packet(1, 2, 0xf8)} {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if p := <-a.ch; p.SequenceNumber != 2 {
		t.Fatalf("got seq %d, want only the packet after the oversized one", p.SequenceNumber)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The counters are added once a batch is handed over: read them after
	// the reader returned.
	if st := s.Stats(); st.Malformed != 1 {
		t.Fatalf("stats %+v: want the oversized datagram counted malformed", st)
	}
}
