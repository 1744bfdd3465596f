package rtpudp

import (
	"syscall"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// poller is an epoll instance over every socket of a Ports, plus an
// eventfd (token 0) that Close writes to wake the reader. Level-triggered:
// a socket left with datagrams is reported again on the next wait.
type poller struct {
	epfd, evfd int
}

func (p *Ports) openPoller() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return err
	}
	p.epfd, p.evfd = epfd, evfd
	return nil
}

// watch adds s to the epoll set, its id as the token (never the fd, which
// the kernel may give to a new socket once s is closed). p.mu held.
func (p *Ports) watch(s *portSock) error {
	var cerr error
	if err := s.rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: s.id})
	}); err != nil {
		return err
	}
	return cerr
}

// unwatch removes s from the epoll set. p.mu held.
func (p *Ports) unwatch(s *portSock) {
	_ = s.rc.Control(func(fd uintptr) { _ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

func (p *Ports) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(p.evfd, one[:])
}

func (p *Ports) closePoller() {
	unix.Close(p.epfd)
	unix.Close(p.evfd)
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
	counts portCounts
	n      int
	errno  syscall.Errno
	recv   func(fd uintptr) // allocated once: recvmmsg into hdrs
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
	r.recv = func(fd uintptr) {
		m, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
			syscall.MSG_DONTWAIT, 0, 0)
		r.n, r.errno = int(m), e
	}
	return r
}

// serve is the reader: wait for ready sockets, drain each, coalesce.
func (p *Ports) serve() error {
	r := newPortReader(p)
	for {
		n, err := unix.EpollWait(p.epfd, r.events, -1)
		if err == unix.EINTR {
			continue
		}
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
		p.flush(&r.counts)
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
	for !s.removed {
		// Control holds the fd open: a concurrent Close cannot hand its
		// number to another socket while recvmmsg runs.
		if s.rc.Control(r.recv) != nil || r.errno != 0 || r.n <= 0 {
			return // closed, EAGAIN (drained) or a pending socket error
		}
		for i := range r.n {
			r.lens[i] = int(r.hdrs[i].len)
			if r.hdrs[i].hdr.Flags&syscall.MSG_TRUNC != 0 {
				r.lens[i] = maxDatagram + 1 // truncated: malformed
			}
		}
		dispatchPort(s, r.bufs, r.lens, &r.pk, r.n, &r.counts)
		if r.n < len(r.bufs) {
			return
		}
	}
}
