package rtpudp

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const reusePortSupported = true

// mmsghdr is struct mmsghdr (recvmmsg(2)).
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32 // Go pads the struct to the C layout
}

// mmsgs is a recvmmsg(2) vector over buffers fixed at creation: no source
// address is asked for, so nothing is allocated per datagram.
type mmsgs struct {
	hdrs []mmsghdr
	iovs []syscall.Iovec
}

func newMmsgs(bufs [][]byte) *mmsgs {
	m := &mmsgs{hdrs: make([]mmsghdr, len(bufs)), iovs: make([]syscall.Iovec, len(bufs))}
	for i, b := range bufs {
		m.iovs[i].Base = &b[0]
		m.iovs[i].SetLen(len(b))
		m.hdrs[i].hdr.Iov = &m.iovs[i]
		m.hdrs[i].hdr.Iovlen = 1
	}
	return m
}

// recv reads what fd holds, up to one datagram per buffer, without
// blocking (a raw system call: no hand-over of the P). lens gets their
// lengths, maxDatagram+1 for one truncated. With none read it returns 0
// and the errno (EAGAIN: nothing waiting; a pending socket error is
// consumed).
func (m *mmsgs) recv(fd int, lens []int) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])),
		uintptr(len(m.hdrs)), syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	for i := range int(n) {
		lens[i] = int(m.hdrs[i].len)
		if m.hdrs[i].hdr.Flags&syscall.MSG_TRUNC != 0 {
			lens[i] = maxDatagram + 1 // truncated: malformed
		}
	}
	return int(n), 0
}

// epoll is an epoll instance (level-triggered) with an eventfd, token 0,
// that wake writes: it stays readable, so a wait to come returns too.
type epoll struct{ epfd, evfd int }

func newEpoll() (epoll, error) {
	e := epoll{-1, -1}
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return e, os.NewSyscallError("epoll_create1", err)
	}
	if e.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		e.close()
		return e, os.NewSyscallError("eventfd", err)
	}
	if err := e.add(e.evfd, 0); err != nil {
		e.close()
		return e, err
	}
	return e, nil
}

func (e epoll) add(fd int, token int32) error {
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: token}); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (e epoll) del(fd int) { _ = unix.EpollCtl(e.epfd, unix.EPOLL_CTL_DEL, fd, nil) }

func (e epoll) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(e.evfd, one[:])
}

// wait returns the ready tokens' events. It first looks without blocking:
// after a Coalesce wait, under load, sockets are ready, and the thread
// stays out of a blocking system call (which the runtime's sysmon must
// watch and hand the P over from); then it blocks. An interrupted wait
// returns 0 events.
func (e epoll) wait(events []unix.EpollEvent) (int, error) {
	n, err := unix.EpollWait(e.epfd, events, 0)
	if err == nil && n == 0 {
		n, err = unix.EpollWait(e.epfd, events, -1)
	}
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	return n, nil
}

func (e epoll) close() {
	for _, fd := range []int{e.epfd, e.evfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// udpSock is one socket of a Server on Linux: a bare non-blocking
// descriptor the Go runtime does not watch, read by recvmmsg and waited
// for with an epoll instance of its own (woken by Close). A net.UDPConn is
// in the runtime's poller, which wakes a thread for every datagram that
// arrives while the reader waits out Config.Coalesce: with datagrams from
// thousands of independent senders, that tripled the CPU spent per
// datagram.
type udpSock = *rawSock

type rawSock struct {
	sock  sysSock
	laddr net.Addr
	ep    epoll

	closed  atomic.Bool
	mu      sync.Mutex // reading, and closing the descriptors
	reading bool
	gone    bool // descriptors closed
}

// listenSock opens a socket on addr (sharing the port if reuse) with a
// receive buffer of rbuf bytes; it returns the buffer obtained.
func listenSock(network, addr string, reuse bool, rbuf int) (udpSock, int, error) {
	s, la, got, err := openSockReuse(network, addr, rbuf, reuse)
	if err != nil {
		return nil, -1, err
	}
	ep, err := newEpoll()
	if err == nil {
		err = ep.add(s.fd, 1)
	}
	if err != nil {
		ep.close()
		s.close()
		return nil, -1, err
	}
	return &rawSock{sock: s, laddr: la, ep: ep}, got, nil
}

func (r *rawSock) LocalAddr() net.Addr { return r.laddr }

// Close stops the reader (which closes the descriptors as it leaves), or
// closes them now if nothing reads.
func (r *rawSock) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reading {
		r.ep.wake() // the reader's wait returns
		return nil
	}
	r.closeFDs()
	return nil
}

func (r *rawSock) closeFDs() {
	if !r.gone {
		r.gone = true
		r.sock.close()
		r.ep.close()
	}
}

// mmsgReader reads a rawSock.
type mmsgReader struct {
	s      *rawSock
	mm     *mmsgs
	events [2]unix.EpollEvent
}

// newBatchReader returns a reader of c: io_uring if uring and this reader's
// ring can be made (it logs why not to log), recvmmsg otherwise. It must
// be called on the goroutine that reads (an io_uring reader locks it to
// its thread).
func newBatchReader(c udpSock, bufs [][]byte, uring bool, log *slog.Logger) (batchReader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() || c.reading {
		return nil, net.ErrClosed
	}
	c.reading = true
	if uring {
		r, err := newURingReader(c)
		if err == nil {
			return r, nil
		}
		log.Warn("rtpudp: reading with recvmmsg: io_uring refused", "err", err)
	}
	return &mmsgReader{s: c, mm: newMmsgs(bufs)}, nil
}

// readMethod is what Server.ReadMethod reports for cfg.
func readMethod(cfg *Config) string {
	if !cfg.NoIOUring && uringProbe() {
		return "io_uring"
	}
	return "recvmmsg"
}

// read returns what the socket holds (up to len(bufs) datagrams), waiting
// for a first one if it holds none. After Close it returns net.ErrClosed
// and closes the descriptors.
func (r *mmsgReader) read(_ [][]byte, lens []int) (int, error) {
	s := r.s
	for {
		if s.closed.Load() {
			s.mu.Lock()
			s.reading = false
			s.closeFDs()
			s.mu.Unlock()
			return 0, net.ErrClosed
		}
		switch n, e := r.mm.recv(s.sock.fd, lens); {
		case n > 0:
			return n, nil
		case e != 0 && e != syscall.EAGAIN && e != syscall.EINTR:
			return 0, e // a pending socket error (ICMP), reported once
		}
		// Empty: wait, blocking this thread (the runtime hands its P over).
		if _, err := s.ep.wait(r.events[:]); err != nil {
			return 0, err
		}
	}
}
