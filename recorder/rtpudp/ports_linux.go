package rtpudp

import (
	"errors"
	"net"
	"os"
	"sync"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// sysSock is a UDP socket the Go runtime does not watch: a bare
// non-blocking descriptor, so that a datagram wakes only Ports' epoll
// instance (a net.UDPConn would also be in the runtime's, which would do
// the same work again for each datagram).
type sysSock struct{ fd int }

func (s sysSock) close() error { return unix.Close(s.fd) }

// openSock opens and binds a non-blocking UDP socket with a receive
// buffer of rbuf bytes (SO_RCVBUFFORCE if net.core.rmem_max caps it and
// the process may).
func openSock(network, addr string, rbuf int) (sysSock, net.Addr, error) {
	s, la, _, err := openSockReuse(network, addr, rbuf, false)
	return s, la, err
}

// openSockReuse is openSock, sharing the port (SO_REUSEPORT) if reuse; it
// also returns the receive buffer obtained (what SO_RCVBUF reports, halved).
func openSockReuse(network, addr string, rbuf int, reuse bool) (sysSock, net.Addr, int, error) {
	ua, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return sysSock{}, nil, 0, err
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip4 := ua.IP.To4(); network != "udp6" && (ua.IP == nil || ip4 != nil) {
		a := &unix.SockaddrInet4{Port: ua.Port}
		if ip4 != nil {
			copy(a.Addr[:], ip4)
		}
		sa = a
	} else {
		if network == "udp4" {
			return sysSock{}, nil, 0, &net.AddrError{Err: "not an IPv4 address", Addr: addr}
		}
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: ua.Port}
		copy(a.Addr[:], ua.IP.To16())
		if ua.Zone != "" {
			if ifi, err := net.InterfaceByName(ua.Zone); err == nil {
				a.ZoneId = uint32(ifi.Index)
			}
		}
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return sysSock{}, nil, 0, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rbuf); err != nil {
		unix.Close(fd)
		return sysSock{}, nil, 0, os.NewSyscallError("setsockopt", err)
	}
	if got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil && got/2 < rbuf {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rbuf) // needs CAP_NET_ADMIN
	}
	got := -1
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		got = v / 2 // Linux reports twice the usable size
	}
	if reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return sysSock{}, nil, 0, os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return sysSock{}, nil, 0, os.NewSyscallError("bind", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return sysSock{}, nil, 0, os.NewSyscallError("getsockname", err)
	}
	var la *net.UDPAddr
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		la = &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		la = &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port, Zone: ua.Zone}
	default:
		unix.Close(fd)
		return sysSock{}, nil, 0, errors.New("getsockname: not an IP address")
	}
	return sysSock{fd: fd}, la, got, nil
}

// poller is the epoll instance over every socket of a Ports (socket ids
// as tokens; 0 is its wake-up). The reader blocks in epoll_wait on a
// thread of its own: the instance is not put in the Go runtime's poller,
// whose every poll would then walk its ready sockets again (a nested epoll
// instance is polled by scanning its ready list).
type poller struct {
	ep        epoll
	closeOnce sync.Once
}

func (p *Ports) openPoller() (err error) {
	p.ep, err = newEpoll()
	return err
}

// watch adds s to the epoll set, its id as the token (never the fd, which
// the kernel may give to a new socket once s is closed). p.mu held.
func (p *Ports) watch(s *portSock) error { return p.ep.add(s.sock.fd, s.id) }

// unwatch removes s from the epoll set (before its socket closes). p.mu
// held.
func (p *Ports) unwatch(s *portSock) { p.ep.del(s.sock.fd) }

func (p *Ports) wake() { p.ep.wake() }

// closePoller closes the instance once the reader is gone (or never ran).
func (p *Ports) closePoller() { p.closeOnce.Do(p.ep.close) }

// portReader is the reader's state, allocated once.
type portReader struct {
	p      *Ports
	bufs   [][]byte
	lens   []int
	mm     *mmsgs
	pk     rtp.Packet
	events []unix.EpollEvent
	ready  []*portSock
	counts counts
}

func newPortReader(p *Ports) *portReader {
	n := p.cfg.Batch
	r := &portReader{p: p, bufs: datagramBufs(n), lens: make([]int, n), events: make([]unix.EpollEvent, 1024)}
	r.mm = newMmsgs(r.bufs)
	return r
}

// serve is the reader: wait for ready sockets, drain each, coalesce.
func (p *Ports) serve() error {
	r := newPortReader(p)
	for {
		n, err := p.ep.wait(r.events)
		if p.closed.Load() {
			return nil
		}
		if err != nil {
			return err
		}
		r.ready = r.ready[:0]
		p.mu.RLock()
		for _, ev := range r.events[:n] {
			if s := p.byid[ev.Fd]; s != nil {
				r.ready = append(r.ready, s)
			}
		}
		p.mu.RUnlock()
		for i, s := range r.ready {
			r.drain(s)
			r.ready[i] = nil
		}
		p.add(&r.counts)
		if n < len(r.events) {
			p.sleepCoalesce() // drained: let the next round gather
		}
	}
}

// drain reads s in batches until it has nothing left (a batch short of
// full: with level-triggered epoll a socket that filled again is reported
// again, so the extra recvmmsg that would return EAGAIN is saved).
func (r *portReader) drain(s *portSock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.removed { // not removed: s.sock.fd is open (shut closes it under s.mu)
		n, _ := r.mm.recv(s.sock.fd, r.lens)
		if n == 0 {
			return // EAGAIN (drained) or a pending socket error, consumed
		}
		dispatchPort(s, r.bufs, r.lens, &r.pk, n, &r.counts)
		if n < len(r.bufs) {
			return
		}
	}
}
