package rtpudp

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// ErrNotFound is returned by Ports.Remove for an address it does not serve.
var ErrNotFound = errors.New("rtpudp: no such port")

// DefaultPortReadBuffer is Config.ReadBuffer's default for Ports: 256 KiB
// per socket (some 250 small datagrams: seconds of one stream).
const DefaultPortReadBuffer = 256 << 10

// Ports receives RTP on many UDP sockets, one per stream: the port the
// datagram arrived on tells its stream, so SSRCs need not be known (a
// SIPREC or SIP answer gives each stream a port of its own, and its SSRC
// is learnt only from the packets).
//
// On Linux ONE goroutine (Serve's) reads every socket: an epoll instance
// watches them all, and each ready socket is read with recvmmsg in batches
// into buffers allocated once, then parsed in place and handed to that
// socket's Writer: no goroutine and no allocation per stream or per
// datagram. Like Server's readers, the reader waits Config.Coalesce once it
// has drained every ready socket, so that the next wake-up finds many
// sockets ready. Elsewhere each socket has a goroutine of its own.
//
// Config.Sockets and Config.Logger are ignored (a capped receive buffer is
// not logged: at 50 datagrams/s per socket the default holds seconds).
// Config.ReadBuffer is per socket (zero: DefaultPortReadBuffer);
// Config.Batch bounds one read of one socket. On Linux the sockets are
// bare descriptors, outside the Go runtime's poller, so that a datagram
// wakes one epoll instance, not two.
//
// The reader calls Writer.WriteRTP (and, for RTCP multiplexed on the port,
// RTCPWriter.WriteRTCP, when the Writer implements it) synchronously, one
// datagram at a time, never concurrently for one Ports on Linux: a Writer
// must return quickly, must not retain the packet, and must not call
// Remove or Close for its own socket (that waits for it). Malformed
// datagrams are counted in Stats and dropped.
//
// Its methods may be called concurrently, before or while Serve runs.
type Ports struct {
	cfg    Config
	mu     sync.RWMutex
	byid   map[int32]*portSock
	byaddr map[string]*portSock
	nextID int32
	closed atomic.Bool
	state  int           // guarded by mu: 0 new, 1 serving, 2 served
	done   chan struct{} // closed when Serve returns
	poller               // the platform's

	counters
}

// portSock is one socket and its Writer.
type portSock struct {
	id   int32
	sock sysSock // the platform's socket
	st   stream
	addr string

	// mu is held by the reader while it hands the socket's datagrams over;
	// Remove takes it to know that the Writer is no longer called.
	mu      sync.Mutex
	removed bool
}

// NewPorts returns an empty Ports: add sockets with Listen, read them with
// Serve.
func NewPorts(cfg Config) (*Ports, error) {
	cfg.setDefaults(DefaultPortReadBuffer)
	p := &Ports{cfg: cfg, byid: map[int32]*portSock{}, byaddr: map[string]*portSock{}, done: make(chan struct{})}
	if err := p.openPoller(); err != nil {
		return nil, fmt.Errorf("rtpudp: ports: %w", err)
	}
	return p, nil
}

// Listen opens a socket on addr ("127.0.0.1:0" picks a port; network is
// "udp", "udp4" or "udp6") whose datagrams go to w, and returns its local
// address. It fails with ErrClosed after Close, and with the socket's
// error (a port in use: syscall.EADDRINUSE) otherwise.
func (p *Ports) Listen(network, addr string, w Writer) (net.Addr, error) {
	if w == nil {
		return nil, fmt.Errorf("rtpudp: listen %s: nil Writer", addr)
	}
	if p.closed.Load() {
		return nil, fmt.Errorf("rtpudp: listen %s: %w", addr, ErrClosed)
	}
	sock, la, err := openSock(network, addr, p.cfg.ReadBuffer)
	if err != nil {
		return nil, fmt.Errorf("rtpudp: listen: %w", err)
	}
	s := &portSock{sock: sock, addr: la.String()}
	s.st = *newStream(w)
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		s.sock.close()
		return nil, fmt.Errorf("rtpudp: listen %s: %w", addr, ErrClosed)
	}
	p.nextID++
	if p.nextID <= 0 {
		p.nextID = 1 // 0 is the poller's own wake-up
	}
	s.id = p.nextID
	p.byid[s.id] = s
	p.byaddr[s.addr] = s
	err = p.watch(s)
	if err != nil {
		delete(p.byid, s.id)
		delete(p.byaddr, s.addr)
	}
	p.mu.Unlock()
	if err != nil {
		s.sock.close()
		return nil, fmt.Errorf("rtpudp: listen %s: %w", addr, err)
	}
	return la, nil
}

// Remove closes the socket of local address addr (as Listen returned it).
// Once Remove returns, its Writer is not called again. It fails with
// ErrNotFound if Ports has no such socket.
func (p *Ports) Remove(addr net.Addr) error {
	key := addr.String()
	p.mu.Lock()
	s := p.byaddr[key]
	if s != nil {
		delete(p.byaddr, key)
		delete(p.byid, s.id)
		p.unwatch(s)
	}
	p.mu.Unlock()
	if s == nil {
		return fmt.Errorf("rtpudp: remove %s: %w", key, ErrNotFound)
	}
	if err := s.shut(); err != nil {
		return fmt.Errorf("rtpudp: remove %s: %w", key, err)
	}
	return nil
}

// Len returns the number of sockets.
func (p *Ports) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.byid)
}

// Stats returns the counters (Unknown stays zero: every datagram has a
// Writer).
func (p *Ports) Stats() Stats { return p.stats() }

// Serve reads the sockets until Close, and returns nil then (or an error
// of the poller, after closing every socket). It may be called once.
func (p *Ports) Serve() error {
	p.mu.Lock()
	if p.state != 0 {
		p.mu.Unlock()
		return errors.New("rtpudp: ports: Serve called twice")
	}
	p.state = 1
	p.mu.Unlock()
	defer close(p.done)
	if p.closed.Load() {
		return nil
	}
	err := p.serve()
	if err != nil && !p.closed.Load() {
		p.closeSockets()
		return fmt.Errorf("rtpudp: ports: %w", err)
	}
	return nil
}

// Close closes every socket and, if Serve is running, waits for it to
// return: once Close returns no Writer is called. It must not be called
// from a Writer.
func (p *Ports) Close() error {
	if p.closed.Swap(true) {
		p.mu.RLock()
		serving := p.state == 1
		p.mu.RUnlock()
		if serving {
			<-p.done
		}
		return nil
	}
	err := p.closeSockets()
	p.mu.Lock()
	serving := p.state == 1
	p.mu.Unlock()
	p.wake()
	if serving {
		<-p.done
	}
	p.closePoller()
	return err
}

func (p *Ports) closeSockets() error {
	p.mu.Lock()
	all := make([]*portSock, 0, len(p.byid))
	for _, s := range p.byid {
		all = append(all, s)
	}
	p.byid = map[int32]*portSock{}
	p.byaddr = map[string]*portSock{}
	p.mu.Unlock()
	var first error
	for _, s := range all {
		if err := s.shut(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// shut marks s removed, once the reader is done with it, then closes its
// socket: the reader never uses a closed socket (nor a number the kernel
// gave to another since).
func (s *portSock) shut() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil
	}
	s.removed = true
	if err := s.sock.close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// dispatchPort hands the first n datagrams read from one socket to its
// Writer (the caller holds s.mu and checked s.removed).
func dispatchPort(s *portSock, bufs [][]byte, lens []int, pk *rtp.Packet, n int, c *counts) {
	c.batches++
	c.datagrams += int64(n)
	now := time.Now() // every datagram of the batch had arrived
	for i := range n {
		b := bufs[i][:min(lens[i], maxDatagram)]
		if !wellFormed(b, lens[i]) {
			c.malformed++
			continue
		}
		s.st.handle(b, pk, now, c)
	}
}

// sleepCoalesce waits Config.Coalesce after a drained round.
func (p *Ports) sleepCoalesce() {
	if p.cfg.Coalesce > 0 {
		time.Sleep(p.cfg.Coalesce)
	}
}
