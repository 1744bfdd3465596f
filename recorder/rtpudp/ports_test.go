package rtpudp

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
)

// rtcpWriter is a chanWriter that also takes RTCP.

func newTestPorts(t *testing.T) *Ports {
	t.Helper()
	p, err := NewPorts(Config{Coalesce: -1, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial returns a UDP socket connected to a, closed when the test ends.
func dial(tb testing.TB, a net.Addr) *net.UDPConn {
	tb.Helper()
	c, err := net.DialUDP("udp4", nil, a.(*net.UDPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestPortsDemuxByPort: the port, not the SSRC, tells the stream (every
// sender here uses the same SSRC); RTCP goes to a Writer that takes it,
// malformed datagrams and rejected packets are counted.
func TestPortsDemuxByPort(t *testing.T) {
	p := newTestPorts(t)
	a := &rtcpWriter{chanWriter: chanWriter{ch: make(chan rtp.Packet, 10)}, rtcp: make(chan []byte, 10)}
	b := &chanWriter{ch: make(chan rtp.Packet, 10), err: errors.New("closed leg")}
	aa, err := p.Listen("udp4", "127.0.0.1:0", a)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := p.Listen("udp4", "127.0.0.1:0", b)
	if err != nil {
		t.Fatal(err)
	}
	if aa.String() == ba.String() {
		t.Fatalf("two sockets on %s", aa)
	}
	if _, err := p.Listen("udp4", aa.String(), a); err == nil {
		t.Fatalf("second Listen on %s: no error", aa)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	ca, cb := dial(t, aa), dial(t, ba)
	ca.Write([]byte{1, 2, 3}) // not RTP
	ca.Write(packet(7, 1, 0xf8))
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ca.Write(sr)
	cb.Write(sr) // b takes no RTCP: ignored
	cb.Write(packet(7, 2, 0xf8, 0xff))
	if got := <-a.ch; got.SequenceNumber != 1 || got.SSRC != 7 || string(got.Payload) != "\xf8" {
		t.Fatalf("port a got %+v", got)
	}
	if got := <-a.rtcp; string(got) != string(sr) {
		t.Fatalf("port a RTCP %x, want %x", got, sr)
	}
	if got := <-b.ch; got.SequenceNumber != 2 || string(got.Payload) != "\xf8\xff" {
		t.Fatalf("port b got %+v", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	st := p.Stats()
	if st.Datagrams != 5 || st.Malformed != 1 || st.RTCP != 1 || st.Rejected != 1 || st.Unknown != 0 {
		t.Fatalf("stats %+v, want 5 datagrams, 1 malformed, 1 RTCP, 1 rejected", st)
	}
	if _, err := p.Listen("udp4", "127.0.0.1:0", a); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Close: %v, want ErrClosed", err)
	}
	select {
	case extra := <-a.ch:
		t.Fatalf("unexpected packet %+v", extra)
	default:
	}
}

// seqWriter records the sequence numbers it is given for one stream and
// signals each.
type seqWriter struct {
	got  chan uint16
	dead atomic.Bool // set once the Writer must no longer be called
	late atomic.Int64
}

func (w *seqWriter) WriteRTP(p *rtp.Packet) error {
	if w.dead.Load() {
		w.late.Add(1)
		return nil
	}
	select {
	case w.got <- p.SequenceNumber:
	default:
	}
	return nil
}

// TestPortsManySocketsOneGoroutine: 300 sockets, each with its own Writer,
// are read by one goroutine (Serve's) on Linux; every datagram reaches the
// Writer of the port it was sent to, including sockets added while Serve
// runs.
func TestPortsManySocketsOneGoroutine(t *testing.T) {
	const n = 300
	p := newTestPorts(t)
	ws := make([]*seqWriter, n)
	addrs := make([]net.Addr, n)
	listen := func(i int) {
		ws[i] = &seqWriter{got: make(chan uint16, 4)}
		a, err := p.Listen("udp4", "127.0.0.1:0", ws[i])
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	for i := range n / 2 {
		listen(i)
	}
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	for i := n / 2; i < n; i++ {
		listen(i)
	}
	if p.Len() != n {
		t.Fatalf("Len %d, want %d", p.Len(), n)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, a := range addrs {
		if _, err := c.WriteTo(packet(1, uint16(i)), a); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range ws {
		if got := <-w.got; got != uint16(i) {
			t.Fatalf("port %d got seq %d, want %d", i, got, i)
		}
	}
	after := runtime.NumGoroutine()
	if runtime.GOOS == "linux" && after-before > 1 {
		t.Fatalf("%d goroutines for %d sockets (%d before Serve), want Serve's alone", after-before, n, before)
	}
	t.Logf("%d sockets: %d goroutine(s) added by Serve", n, after-before)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The counters are added once a batch is handed over: read them after
	// the reader returned.
	if st := p.Stats(); st.Datagrams != n {
		t.Fatalf("stats %+v, want %d datagrams", st, n)
	}
}

// flood sends packets to addr until stop is closed; it returns when it has
// stopped.
func flood(t *testing.T, addr net.Addr, stop <-chan struct{}, wg *sync.WaitGroup) {
	c := dial(t, addr)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.Write(packet(9, uint16(i), 0xf8))
		}
	}()
}

// TestPortsRemoveWhileFlowing: a socket removed while its packets flow is
// never handed another packet once Remove returns, and the other sockets
// keep flowing.
func TestPortsRemoveWhileFlowing(t *testing.T) {
	p := newTestPorts(t)
	a, b := &seqWriter{got: make(chan uint16, 1)}, &seqWriter{got: make(chan uint16, 1)}
	aa, err := p.Listen("udp4", "127.0.0.1:0", a)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := p.Listen("udp4", "127.0.0.1:0", b)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	flood(t, aa, stop, &wg)
	flood(t, ba, stop, &wg)
	<-a.got
	<-b.got
	if err := p.Remove(aa); err != nil {
		t.Fatal(err)
	}
	a.dead.Store(true)
	if err := p.Remove(aa); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove: %v, want ErrNotFound", err)
	}
	for range 3 { // b still flows
		<-b.got
	}
	<-b.got
	close(stop)
	wg.Wait()
	if p.Len() != 1 {
		t.Fatalf("Len %d after Remove, want 1", p.Len())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := a.late.Load(); n != 0 {
		t.Fatalf("%d packets handed to a removed socket's Writer", n)
	}
}

// TestPortsCloseWhileReading: Close while packets flow on many sockets
// makes Serve return nil, and no Writer is called once Close returned.
func TestPortsCloseWhileReading(t *testing.T) {
	p := newTestPorts(t)
	const n = 20
	ws := make([]*seqWriter, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = &seqWriter{got: make(chan uint16, 1)}
		a, err := p.Listen("udp4", "127.0.0.1:0", ws[i])
		if err != nil {
			t.Fatal(err)
		}
		flood(t, a, stop, &wg)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	for _, w := range ws {
		<-w.got
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		w.dead.Store(true)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	close(stop)
	wg.Wait()
	for i, w := range ws {
		if w.late.Load() != 0 {
			t.Fatalf("writer %d called after Close", i)
		}
	}
	if p.Len() != 0 {
		t.Fatalf("Len %d after Close", p.Len())
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestPortsCloseBeforeServe: Serve after Close returns at once.
func TestPortsCloseBeforeServe(t *testing.T) {
	p := newTestPorts(t)
	if _, err := p.Listen("udp4", "127.0.0.1:0", &seqWriter{got: make(chan uint16, 1)}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Serve(); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := p.Serve(); err == nil {
		t.Fatal("second Serve: no error")
	}
}

// TestPortsIPv6: a socket on ::1 receives (skipped without IPv6).
func TestPortsIPv6(t *testing.T) {
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback")
	} else {
		c.Close()
	}
	p := newTestPorts(t)
	w := &seqWriter{got: make(chan uint16, 1)}
	a, err := p.Listen("udp6", "[::1]:0", w)
	if err != nil {
		t.Fatal(err)
	}
	if ua := a.(*net.UDPAddr); !ua.IP.Equal(net.IPv6loopback) || ua.Port == 0 {
		t.Fatalf("local address %s", a)
	}
	if _, err := p.Listen("udp4", "[::1]:0", w); err == nil {
		t.Fatal("udp4 on ::1: no error")
	}
	go p.Serve()
	c, err := net.DialUDP("udp6", nil, a.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(packet(5, 42, 0xf8))
	if got := <-w.got; got != 42 {
		t.Fatalf("seq %d, want 42", got)
	}
}
