//go:build !linux

package rtpudp

import (
	"net"
	"sync"

	"github.com/pion/rtp"
)

// sysSock is a net.UDPConn outside Linux.
type sysSock struct{ c *net.UDPConn }

func (s sysSock) close() error { return s.c.Close() }

func openSock(network, addr string, rbuf int) (sysSock, net.Addr, error) {
	c, err := listen(network, addr, false)
	if err != nil {
		return sysSock{}, nil, err
	}
	if err := c.SetReadBuffer(rbuf); err != nil {
		c.Close()
		return sysSock{}, nil, err
	}
	return sysSock{c}, c.LocalAddr(), nil
}

// poller, outside Linux: one goroutine per socket, reading with
// newBatchReader (golang.org/x/net/ipv4's ReadBatch).
type poller struct {
	wg       sync.WaitGroup
	pending  []*portSock // sockets added before Serve, guarded by Ports.mu
	serving  bool        // guarded by Ports.mu
	stop     chan struct{}
	stopOnce sync.Once
}

func (p *Ports) openPoller() error {
	p.stop = make(chan struct{})
	return nil
}

// watch starts s's goroutine, or leaves it for Serve. p.mu held.
func (p *Ports) watch(s *portSock) error {
	if !p.serving {
		p.pending = append(p.pending, s)
		return nil
	}
	p.wg.Add(1)
	go p.read(s)
	return nil
}

func (p *Ports) unwatch(*portSock) {} // closing the socket ends its goroutine

func (p *Ports) wake() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *Ports) closePoller() {}

// serve starts the goroutines of the sockets added so far and waits for
// Close (which closes the sockets, ending the goroutines, then wakes it).
func (p *Ports) serve() error {
	p.mu.Lock()
	p.serving = true
	for _, s := range p.pending {
		if p.byid[s.id] == s {
			p.wg.Add(1)
			go p.read(s)
		}
	}
	p.pending = nil
	p.mu.Unlock()
	<-p.stop
	p.wg.Wait()
	return nil
}

// read is one socket's goroutine.
func (p *Ports) read(s *portSock) {
	defer p.wg.Done()
	n := p.cfg.Batch
	bufs, lens := make([][]byte, n), make([]int, n)
	for i := range bufs {
		bufs[i] = make([]byte, maxDatagram+1)
	}
	br, err := newBatchReader(s.sock.c, bufs, false, nil)
	if err != nil {
		return
	}
	var pk rtp.Packet
	var c counts
	for {
		m, err := br.read(bufs, lens)
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.removed {
			s.mu.Unlock()
			return
		}
		dispatchPort(s, bufs, lens, &pk, m, &c)
		s.mu.Unlock()
		p.add(&c)
		if m < n {
			p.sleepCoalesce()
		}
	}
}
