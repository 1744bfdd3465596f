package rtpudp

import (
	"errors"
	"net"
	"testing"

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

	c, err := net.DialUDP("udp4", nil, s.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	st := s.Stats()
	if st.Datagrams != 7 || st.Unknown != 2 || st.Malformed != 1 || st.Rejected != 2 || st.Batches < 1 {
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
// packet of its SSRC, whatever the datagrams hold.
func FuzzDispatch(f *testing.F) {
	f.Add(packet(1, 1, 0xf8), []byte{0x80})
	f.Add([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, packet(1, 2))
	f.Fuzz(func(t *testing.T, d1, d2 []byte) {
		s := &Server{cfg: Config{Batch: 2}, byssrc: map[uint32]*stream{}}
		w := &chanWriter{ch: make(chan rtp.Packet, 2)}
		s.byssrc[1] = &stream{w: w}
		r := &reader{s: s, bufs: make([][]byte, 2), lens: make([]int, 2), packets: make([]rtp.Packet, 2), streams: make([]*stream, 2)}
		for i, d := range [][]byte{d1, d2} {
			r.bufs[i] = make([]byte, maxDatagram)
			r.lens[i] = copy(r.bufs[i], d)
		}
		r.dispatch(2)
		for len(w.ch) > 0 {
			if p := <-w.ch; p.SSRC != 1 {
				t.Fatalf("writer of ssrc 1 got ssrc %d", p.SSRC)
			}
		}
		st := s.Stats()
		if st.Datagrams != 2 || st.Unknown+st.Malformed > 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}
