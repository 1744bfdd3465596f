package rtpudp

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// seenWriter counts every packet by (SSRC, sequence number) and checks
// that its payload names them.
type seenWriter struct {
	mu    sync.Mutex
	seen  map[uint64]int
	bad   int
	n     int
	wait  int
	reach chan struct{}
}

func (w *seenWriter) WriteRTP(p *rtp.Packet) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p.Payload) != 8 || binary.BigEndian.Uint32(p.Payload) != p.SSRC || binary.BigEndian.Uint32(p.Payload[4:]) != uint32(p.SequenceNumber) {
		w.bad++
	}
	w.seen[uint64(p.SSRC)<<16|uint64(p.SequenceNumber)]++
	w.n++
	if w.n == w.wait {
		close(w.reach)
	}
	return nil
}

func (w *seenWriter) await(n int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wait, w.reach = n, make(chan struct{})
	if w.n >= n {
		close(w.reach)
	}
	return w.reach
}

// Every datagram reaches its Writer once, with its own bytes, whichever
// way the socket is read: tens of thousands of datagrams go through the
// io_uring reader's 512 buffers many times over (each handed back to the
// kernel after its batch is written).
func TestEveryDatagramOnce(t *testing.T) {
	for _, noURing := range []bool{false, true} {
		s, err := Listen("udp4", "127.0.0.1:0", Config{Sockets: 2, NoIOUring: noURing, Coalesce: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(s.ReadMethod(), func(t *testing.T) {
			w := &seenWriter{seen: make(map[uint64]int)}
			const streams, perStream, chunk = 4, 10000, 4000
			for i := range streams {
				if err := s.Add(uint32(i+1), w); err != nil {
					t.Fatal(err)
				}
			}
			sent := 0
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()
			defer func() {
				// Close ends every reader (the io_uring reader cancels its
				// receive and unmaps its buffers first).
				s.Close()
				if err := <-served; err != nil {
					t.Errorf("Serve after Close: %v", err)
				}
				// The counters are added once a batch is handed over:
				// read them after the readers returned.
				if st := s.Stats(); st.Datagrams != int64(sent) {
					t.Errorf("stats %+v: want %d datagrams", st, sent)
				}
			}()
			var cs [streams]*net.UDPConn // one sender socket per stream: spread over the two sockets
			for i := range cs {
				cs[i] = dial(t, s.Addr())
			}
			for seq := 0; seq < perStream; {
				// Chunks the socket's buffer holds, each waited for.
				for end := seq + chunk/streams; seq < end; seq++ {
					for i := range streams {
						var pl [8]byte
						binary.BigEndian.PutUint32(pl[:], uint32(i+1))
						binary.BigEndian.PutUint32(pl[4:], uint32(uint16(seq)))
						if _, err := cs[i].Write(packet(uint32(i+1), uint16(seq), pl[:]...)); err != nil {
							t.Fatal(err)
						}
						sent++
					}
				}
				<-w.await(sent)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.bad != 0 {
				t.Errorf("%d packets carried another packet's bytes", w.bad)
			}
			if len(w.seen) != streams*perStream {
				t.Errorf("%d distinct packets, want %d", len(w.seen), streams*perStream)
			}
			for k, n := range w.seen {
				if n != 1 {
					t.Fatalf("SSRC %d seq %d written %d times", k>>16, k&0xffff, n)
				}
			}
		})
	}
}
