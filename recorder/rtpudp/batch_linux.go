package rtpudp

import (
	"net"
	"syscall"
	"unsafe"
)

// mmsghdr is struct mmsghdr (recvmmsg(2)).
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32 // Go pads the struct to the C layout
}

// mmsgReader calls recvmmsg(2) into buffers fixed at creation: no source
// address is asked for, so nothing is allocated per datagram.
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []syscall.Iovec
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool // allocated once
}

func newBatchReader(c *net.UDPConn, bufs [][]byte) (batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &mmsgReader{rc: rc, hdrs: make([]mmsghdr, len(bufs)), iovs: make([]syscall.Iovec, len(bufs))}
	for i, b := range bufs {
		r.iovs[i].Base = &b[0]
		r.iovs[i].SetLen(len(b))
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.Iovlen = 1
	}
	r.fn = func(fd uintptr) bool {
		n, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
			0, 0, 0)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return false // wait for the socket to be readable
		}
		r.n, r.errno = int(n), e
		return true
	}
	return r, nil
}

func (r *mmsgReader) read(bufs [][]byte, lens []int) (int, error) {
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	for i := range r.n {
		lens[i] = int(r.hdrs[i].len)
		if r.hdrs[i].hdr.Flags&syscall.MSG_TRUNC != 0 {
			lens[i] = maxDatagram + 1 // truncated: malformed
		}
	}
	return r.n, nil
}

// forceReadBuffer sets SO_RCVBUFFORCE (past net.core.rmem_max; needs
// CAP_NET_ADMIN), quietly failing without it.
func forceReadBuffer(c *net.UDPConn, n int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
	})
}
