package rtpudp

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

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

// poller is an epoll instance over every socket of a Ports (level-
// triggered: a socket left with datagrams is reported again), and an
// eventfd (token 0) that Close writes to wake the reader. The reader
// blocks in epoll_wait on a thread of its own: the instance is not put in
// the Go runtime's poller, whose every poll would then walk its ready
// sockets again (a nested epoll instance is polled by scanning its ready
// list).
type poller struct {
	epfd, evfd int
	closeOnce  sync.Once
}

func (p *Ports) openPoller() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return os.NewSyscallError("eventfd", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	p.epfd, p.evfd = epfd, evfd
	return nil
}

// watch adds s to the epoll set, its id as the token (never the fd, which
// the kernel may give to a new socket once s is closed). p.mu held.
func (p *Ports) watch(s *portSock) error {
	err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, s.sock.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: s.id})
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// unwatch removes s from the epoll set (before its socket closes). p.mu
// held.
func (p *Ports) unwatch(s *portSock) { _ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.sock.fd, nil) }

func (p *Ports) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(p.evfd, one[:]) // stays readable: a wait to come returns too
}

// closePoller closes the instance once the reader is gone (or never ran).
func (p *Ports) closePoller() {
	p.closeOnce.Do(func() {
		unix.Close(p.epfd)
		unix.Close(p.evfd)
	})
}

// portReader is the reader's state, allocated once.
type portReader struct {
	p      *Ports
	bufs   [][]byte
	lens   []int
	hdrs   []mmsghdr
	iovs   []syscall.Iovec
	pk     rtp.Packet
	events []unix.EpollEvent
	ready  []*portSock
	counts counts
}

func newPortReader(p *Ports) *portReader {
	n := p.cfg.Batch
	r := &portReader{p: p, bufs: make([][]byte, n), lens: make([]int, n), hdrs: make([]mmsghdr, n),
		iovs: make([]syscall.Iovec, n), events: make([]unix.EpollEvent, 1024)}
	buf := make([]byte, n*maxDatagram)
	for i := range r.bufs {
		r.bufs[i] = buf[i*maxDatagram : (i+1)*maxDatagram : (i+1)*maxDatagram]
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(maxDatagram)
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.Iovlen = 1
	}
	return r
}

// serve is the reader: wait for ready sockets, drain each, coalesce.
func (p *Ports) serve() error {
	r := newPortReader(p)
	for {
		// A first look that does not block: after a Coalesce wait, under
		// load, sockets are ready, and the thread stays out of a blocking
		// system call (which the runtime's sysmon must watch and hand the
		// P over from).
		n, err := unix.EpollWait(p.epfd, r.events, 0)
		if err == nil && n == 0 {
			n, err = unix.EpollWait(p.epfd, r.events, -1)
		}
		if p.closed.Load() {
			return nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("epoll_wait", err)
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
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(s.sock.fd), uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), syscall.MSG_DONTWAIT, 0, 0)
		if e != 0 || n == 0 {
			return // EAGAIN (drained) or a pending socket error, consumed
		}
		for i := range int(n) {
			r.lens[i] = int(r.hdrs[i].len)
			if r.hdrs[i].hdr.Flags&syscall.MSG_TRUNC != 0 {
				r.lens[i] = maxDatagram + 1 // truncated: malformed
			}
		}
		dispatchPort(s, r.bufs, r.lens, &r.pk, int(n), &r.counts)
		if int(n) < len(r.bufs) {
			return
		}
	}
}
