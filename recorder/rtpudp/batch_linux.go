package rtpudp

import (
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

// udpSock is one socket of a Server on Linux: a bare non-blocking
// descriptor the Go runtime does not watch, read by recvmmsg and waited
// for with an epoll instance of its own (with an eventfd that Close
// writes). A net.UDPConn is in the runtime's poller, which wakes a thread
// for every datagram that arrives while the reader waits out
// Config.Coalesce: with datagrams from thousands of independent senders,
// that tripled the CPU spent per datagram.
type udpSock = *rawSock

type rawSock struct {
	sock  sysSock
	laddr net.Addr
	epfd  int
	evfd  int

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
	r := &rawSock{sock: s, laddr: la, epfd: -1, evfd: -1}
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		r.closeFDs()
		return nil, -1, os.NewSyscallError("epoll_create1", err)
	}
	if r.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		r.closeFDs()
		return nil, -1, os.NewSyscallError("eventfd", err)
	}
	for _, fd := range []int{s.fd, r.evfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)} // level-triggered
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			r.closeFDs()
			return nil, -1, os.NewSyscallError("epoll_ctl", err)
		}
	}
	return r, got, nil
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
		var one = [8]byte{1}
		_, err := unix.Write(r.evfd, one[:]) // the reader's epoll_wait returns
		return err
	}
	r.closeFDs()
	return nil
}

func (r *rawSock) closeFDs() {
	if r.gone {
		return
	}
	r.gone = true
	for _, fd := range []int{r.sock.fd, r.epfd, r.evfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// mmsgReader calls recvmmsg(2) into buffers fixed at creation: no source
// address is asked for, so nothing is allocated per datagram.
type mmsgReader struct {
	s      *rawSock
	hdrs   []mmsghdr
	iovs   []syscall.Iovec
	events [2]unix.EpollEvent
}

func newBatchReader(c udpSock, bufs [][]byte) (batchReader, error) {
	r := &mmsgReader{s: c, hdrs: make([]mmsghdr, len(bufs)), iovs: make([]syscall.Iovec, len(bufs))}
	for i, b := range bufs {
		r.iovs[i].Base = &b[0]
		r.iovs[i].SetLen(len(b))
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.Iovlen = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() || c.reading {
		return nil, net.ErrClosed
	}
	c.reading = true
	return r, nil
}

// read returns what the socket holds (up to len(bufs) datagrams), waiting
// for a first one if it holds none. After Close it returns net.ErrClosed
// and closes the descriptors.
func (r *mmsgReader) read(bufs [][]byte, lens []int) (int, error) {
	s := r.s
	for {
		if s.closed.Load() {
			s.mu.Lock()
			s.reading = false
			s.closeFDs()
			s.mu.Unlock()
			return 0, net.ErrClosed
		}
		// Not blocking: a raw system call, no hand-over of the P.
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(s.sock.fd), uintptr(unsafe.Pointer(&r.hdrs[0])),
			uintptr(len(r.hdrs)), syscall.MSG_DONTWAIT, 0, 0)
		switch {
		case e == 0 && n > 0:
			for i := range int(n) {
				lens[i] = int(r.hdrs[i].len)
				if r.hdrs[i].hdr.Flags&syscall.MSG_TRUNC != 0 {
					lens[i] = maxDatagram + 1 // truncated: malformed
				}
			}
			return int(n), nil
		case e == 0, e == syscall.EAGAIN, e == syscall.EINTR:
		default:
			return 0, e // a pending socket error (ICMP), reported once
		}
		// Empty: wait, blocking this thread (the runtime hands its P over).
		if _, err := unix.EpollWait(s.epfd, r.events[:], -1); err != nil && err != unix.EINTR {
			return 0, os.NewSyscallError("epoll_wait", err)
		}
	}
}
