package rtpudp

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading with io_uring (Linux 6.1 and later; the default, see Config.NoIOUring).
//
// recvmmsg(2) costs the kernel, for every datagram, a copy of its msghdr
// and iovec from the process and three stores back (length, flags, name
// length): in a perf profile of examples/loadtest at 4,000 legs, 15-19 %
// of the recording process's samples. An io_uring multishot receive reads
// the same datagrams without them: one request, armed once, receives each
// datagram into a buffer the kernel takes from a ring of buffers shared
// with the process, and posts a completion (length, buffer id) into a
// ring the reader reads without a system call. With
// IORING_SETUP_DEFER_TASKRUN the kernel receives only when the reader
// asks for completions (one io_uring_enter per batch), so a reader that
// waits Config.Coalesce still gets its datagrams in batches.
//
// The ring is the reader's own: SINGLE_ISSUER and DEFER_TASKRUN tie it to
// the thread that made it, so the reader's goroutine is locked to its
// thread for its life, and its Coalesce waits hand the thread over (the
// cost that offsets part of the saving). At 10,000 streams in
// examples/loadtest: 1.66-1.76 µs of CPU per datagram against 1.94-2.02
// with recvmmsg. Close wakes the reader through the socket's eventfd,
// which the ring polls.

// io_uring ABI (include/uapi/linux/io_uring.h).
const (
	iouSetupCQSize       = 1 << 3
	iouSetupSubmitAll    = 1 << 7
	iouSetupSingleIssuer = 1 << 12
	iouSetupDeferTaskrun = 1 << 13

	iouFeatSingleMmap = 1 << 0

	iouOffSQRing = 0
	iouOffSQEs   = 0x10000000

	iouEnterGetEvents = 1 << 0

	iouOpPollAdd     = 6
	iouOpAsyncCancel = 14
	iouOpRecv        = 27

	iouSQEBufferSelect = 1 << 5
	iouRecvMultishot   = 1 << 1

	iouCQEFBuffer     = 1 << 0
	iouCQEFMore       = 1 << 1
	iouCQEBufferShift = 16

	iouRegisterPbufRing = 22
)

type iouSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type iouCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type iouParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  iouSQOffsets
	cqOff                                                                  iouCQOffsets
}

type iouSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // msg_flags, poll32_events, cancel_flags
	userData    uint64
	bufGroup    uint16
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	_           uint64
}

type iouCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// iouBuf is struct io_uring_buf, an entry of a provided-buffer ring. The
// ring's tail is the resv field of its first entry.
type iouBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

type iouBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

// uring is an io_uring instance: its submission and completion rings,
// mapped into the process.
type uring struct {
	fd       int
	rings    []byte
	sqeMem   []byte
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqLen    uint32
	sqArray  unsafe.Pointer
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     unsafe.Pointer
	toSubmit uint32
}

// newURing makes a ring of sq submission and cq completion entries, tied
// to the calling thread.
func newURing(sq, cq uint32) (*uring, error) {
	p := iouParams{flags: iouSetupCQSize | iouSetupSubmitAll | iouSetupSingleIssuer | iouSetupDeferTaskrun, cqEntries: cq}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(sq), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	u := &uring{fd: int(fd)}
	if p.features&iouFeatSingleMmap == 0 {
		u.close()
		return nil, errors.New("io_uring: kernel without IORING_FEAT_SINGLE_MMAP")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(iouCQE{})))
	var err error
	if u.rings, err = unix.Mmap(u.fd, iouOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, os.NewSyscallError("mmap", err)
	}
	if u.sqeMem, err = unix.Mmap(u.fd, iouOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(iouSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, os.NewSyscallError("mmap", err)
	}
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&u.rings[off]) }
	u.sqHead, u.sqTail = (*uint32)(at(p.sqOff.head)), (*uint32)(at(p.sqOff.tail))
	u.sqMask, u.sqLen = *(*uint32)(at(p.sqOff.ringMask)), p.sqEntries
	u.sqArray = at(p.sqOff.array)
	u.cqHead, u.cqTail = (*uint32)(at(p.cqOff.head)), (*uint32)(at(p.cqOff.tail))
	u.cqMask = *(*uint32)(at(p.cqOff.ringMask))
	u.cqes = at(p.cqOff.cqes)
	return u, nil
}

// sqe returns the next submission entry, zeroed, or nil if the ring is
// full; push then submits it with the next enter.
func (u *uring) sqe() *iouSQE {
	tail := *u.sqTail
	if tail-atomic.LoadUint32(u.sqHead) >= u.sqLen {
		return nil
	}
	i := tail & u.sqMask
	e := (*iouSQE)(unsafe.Add(unsafe.Pointer(&u.sqeMem[0]), uintptr(i)*unsafe.Sizeof(iouSQE{})))
	*e = iouSQE{}
	*(*uint32)(unsafe.Add(u.sqArray, uintptr(i)*4)) = i
	return e
}

func (u *uring) push() {
	atomic.StoreUint32(u.sqTail, *u.sqTail+1)
	u.toSubmit++
}

// enter submits what was pushed and, with GETEVENTS, runs the kernel's
// deferred work (receiving) and waits for want completions. A blocking
// call goes through the runtime (its P is handed over while it waits).
func (u *uring) enter(want uint32, block bool) syscall.Errno {
	var n uintptr
	var e syscall.Errno
	if block {
		n, _, e = syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), uintptr(u.toSubmit), uintptr(want), iouEnterGetEvents, 0, 0)
	} else {
		n, _, e = syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), uintptr(u.toSubmit), uintptr(want), iouEnterGetEvents, 0, 0)
	}
	if e == 0 {
		u.toSubmit -= min(uint32(n), u.toSubmit)
	}
	return e
}

func (u *uring) cqe(i uint32) *iouCQE {
	return (*iouCQE)(unsafe.Add(u.cqes, uintptr(i&u.cqMask)*unsafe.Sizeof(iouCQE{})))
}

func (u *uring) close() {
	if u.sqeMem != nil {
		_ = unix.Munmap(u.sqeMem)
	}
	if u.rings != nil {
		_ = unix.Munmap(u.rings)
	}
	_ = unix.Close(u.fd)
}

// bufRing is a ring of provided buffers (group 0) and the buffers, in
// memory of their own (mapped, not the Go heap: the kernel writes it).
type bufRing struct {
	ring []byte // entries
	mem  []byte // the buffers, uringStride bytes apart
	mask uint16
	tail uint16
	bid0 uint16 // the buffer id in entry 0, which shares a word with the tail
}

const (
	uringBufs   = 128             // buffers per reader: 2 batches of 64
	uringStride = 1536            // bytes between buffers
	uringBufLen = maxDatagram + 1 // a longer datagram is cut to this: malformed, like recvmmsg's MSG_TRUNC
	uringCQ     = 4 * uringBufs   // completions the ring holds: never overflows
	tagRecv     = 1               // user_data of the multishot receive
	tagWake     = 2               // of the poll of the socket's eventfd (Close)
	tagCancel   = 3               // of the receive's cancellation
	uringSQ     = 8               // submission entries
)

func newBufRing(fd int) (*bufRing, error) {
	b := &bufRing{mask: uringBufs - 1}
	var err error
	anon := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_POPULATE
	if b.ring, err = unix.Mmap(-1, 0, uringBufs*int(unsafe.Sizeof(iouBuf{})), unix.PROT_READ|unix.PROT_WRITE, anon); err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	if b.mem, err = unix.Mmap(-1, 0, uringBufs*uringStride, unix.PROT_READ|unix.PROT_WRITE, anon); err != nil {
		_ = unix.Munmap(b.ring)
		return nil, os.NewSyscallError("mmap", err)
	}
	reg := iouBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ring[0]))), ringEntries: uringBufs}
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), iouRegisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); e != 0 {
		b.unmap()
		return nil, os.NewSyscallError("io_uring_register", e)
	}
	for i := range uringBufs {
		b.put(uint16(i))
	}
	b.publish()
	return b, nil
}

// put queues buffer bid at the tail (published by publish). It writes the
// entry field by field: the resv field of entry 0 is the tail, which the
// kernel reads.
func (b *bufRing) put(bid uint16) {
	i := b.tail & b.mask
	e := (*iouBuf)(unsafe.Pointer(&b.ring[int(i)*int(unsafe.Sizeof(iouBuf{}))]))
	e.addr = uint64(uintptr(unsafe.Pointer(&b.mem[int(bid)*uringStride])))
	e.len = uringBufLen
	e.bid = bid
	if i == 0 {
		b.bid0 = bid
	}
	b.tail++
}

// publish hands the buffers put to the kernel: one atomic store of the
// word holding entry 0's buffer id and the tail, after the entries.
func (b *bufRing) publish() {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.ring[12])), uint32(b.bid0)|uint32(b.tail)<<16)
}

func (b *bufRing) buf(bid uint16) []byte {
	off := int(bid) * uringStride
	return b.mem[off : off+uringBufLen : off+uringBufLen]
}

func (b *bufRing) unmap() {
	_ = unix.Munmap(b.ring)
	_ = unix.Munmap(b.mem)
}

// uringReader reads a rawSock through a ring of its own.
type uringReader struct {
	s      *rawSock
	u      *uring
	br     *bufRing
	handed []uint16 // buffers of the last batch, given back at the next read
	armed  bool     // the multishot receive is live
	err    error    // a socket error to return at the next read
}

// uringProbe reports once whether this kernel and process can read with
// io_uring (io_uring_disabled, seccomp, a kernel before 6.1 refuse it).
var uringProbe = sync.OnceValue(func() bool {
	ok := make(chan bool)
	go func() {
		// A thread of its own: the probe's ring is tied to it.
		runtime.LockOSThread()
		u, err := newURing(uringSQ, uringCQ)
		if err == nil {
			var b *bufRing
			if b, err = newBufRing(u.fd); err == nil {
				u.close() // the kernel lets go of the buffers with the ring
				b.unmap()
			} else {
				u.close()
			}
		}
		ok <- err == nil
		// Exiting locked ends the thread, and the ring's tie to it.
	}()
	return <-ok
})

// newURingReader makes a reader of c with its own ring. It locks the
// calling goroutine, which must be the one that reads, to its thread for
// good (on error it unlocks it).
func newURingReader(c *rawSock) (*uringReader, error) {
	runtime.LockOSThread()
	u, err := newURing(uringSQ, uringCQ)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	br, err := newBufRing(u.fd)
	if err != nil {
		u.close()
		runtime.UnlockOSThread()
		return nil, err
	}
	r := &uringReader{s: c, u: u, br: br, handed: make([]uint16, 0, uringBufs)}
	e := u.sqe() // a new ring: never full
	e.opcode, e.fd, e.opFlags, e.userData = iouOpPollAdd, int32(c.ep.evfd), unix.POLLIN, tagWake
	u.push()
	r.arm()
	if en := u.enter(0, false); en != 0 {
		r.teardown()
		runtime.UnlockOSThread()
		return nil, os.NewSyscallError("io_uring_enter", en)
	}
	return r, nil
}

// arm queues the multishot receive (submitted by the next enter). With
// the submission ring full (entries an interrupted enter left), it submits
// them first; if that fails too, the receive stays unarmed and the next
// read tries again.
func (r *uringReader) arm() {
	e := r.u.sqe()
	if e == nil {
		r.u.enter(0, false)
		if e = r.u.sqe(); e == nil {
			return
		}
	}
	e.opcode, e.fd, e.ioprio, e.flags, e.userData = iouOpRecv, int32(r.s.sock.fd), iouRecvMultishot, iouSQEBufferSelect, tagRecv
	r.u.push()
	r.armed = true
}

// read returns the datagrams received (up to len(bufs)), waiting for a
// first one if none is; bufs[i] is set to the kernel-filled buffer of the
// i-th, valid until the next read. After Close it returns net.ErrClosed
// and closes the descriptors.
func (r *uringReader) read(bufs [][]byte, lens []int) (int, error) {
	if len(r.handed) > 0 {
		// The last batch was dispatched: its buffers go back to the kernel.
		for _, bid := range r.handed {
			r.br.put(bid)
		}
		r.br.publish()
		r.handed = r.handed[:0]
	}
	if err := r.err; err != nil {
		r.err = nil
		return 0, err
	}
	for {
		if r.s.closed.Load() {
			return 0, r.close()
		}
		if !r.armed {
			r.arm() // it ended (no buffer was left, or an error)
		}
		n := r.reap(bufs, lens)
		for n < len(bufs) && r.err == nil {
			// The kernel receives (its deferred work) only when asked: ask
			// until the batch is full or the socket empty.
			if e := r.u.enter(0, false); e != 0 && e != syscall.EINTR && e != syscall.EAGAIN && e != syscall.EBUSY {
				return 0, os.NewSyscallError("io_uring_enter", e)
			}
			m := r.reap(bufs[n:], lens[n:])
			if m == 0 {
				break
			}
			n += m
		}
		if n > 0 {
			return n, nil
		}
		if err := r.err; err != nil {
			r.err = nil
			return 0, err
		}
		if !r.armed {
			continue // the receive ended (no buffer was left): re-armed first
		}
		// Wait for a first datagram, or Close, blocking this thread (the
		// runtime hands its P over).
		if e := r.u.enter(1, true); e != 0 && e != syscall.EINTR && e != syscall.EAGAIN && e != syscall.EBUSY {
			return 0, os.NewSyscallError("io_uring_enter", e)
		}
	}
}

// reap takes the completions waiting, up to len(bufs) datagrams.
func (r *uringReader) reap(bufs [][]byte, lens []int) int {
	u := r.u
	head, tail := *u.cqHead, atomic.LoadUint32(u.cqTail)
	n := 0
	for ; head != tail && n < len(bufs); head++ {
		c := u.cqe(head)
		if c.userData != tagRecv {
			continue // the wake (Close is seen by the loop) or a cancellation
		}
		if c.flags&iouCQEFMore == 0 {
			r.armed = false
		}
		if c.flags&iouCQEFBuffer != 0 {
			bid := uint16(c.flags >> iouCQEBufferShift)
			r.handed = append(r.handed, bid)
			bufs[n], lens[n] = r.br.buf(bid), int(c.res)
			n++
			continue
		}
		if c.res < 0 && c.res != -int32(syscall.ENOBUFS) && r.err == nil {
			r.err = syscall.Errno(-c.res) // a pending socket error (ICMP), reported once
		}
	}
	atomic.StoreUint32(u.cqHead, head)
	return n
}

// close ends the reader: the receive is cancelled and the ring closed,
// then the socket's descriptors.
func (r *uringReader) close() error {
	r.teardown()
	s := r.s
	s.mu.Lock()
	s.reading = false
	s.closeFDs()
	s.mu.Unlock()
	return net.ErrClosed
}

// teardown cancels the receive and waits for its last completion before it
// unmaps the buffers (the kernel writes them until then); if that fails,
// the buffers stay mapped rather than risk a late write into reused memory.
func (r *uringReader) teardown() {
	u := r.u
	if r.armed {
		if e := u.sqe(); e != nil {
			e.opcode, e.fd, e.addr, e.userData = iouOpAsyncCancel, -1, tagRecv, tagCancel
			u.push()
		}
		for range 1000 {
			if e := u.enter(1, true); e != 0 && e != syscall.EINTR {
				break
			}
			head, tail := *u.cqHead, atomic.LoadUint32(u.cqTail)
			for ; head != tail; head++ {
				if c := u.cqe(head); c.userData == tagRecv && c.flags&iouCQEFMore == 0 {
					r.armed = false
				}
			}
			atomic.StoreUint32(u.cqHead, head)
			if !r.armed {
				break
			}
		}
	}
	u.close()
	if !r.armed {
		r.br.unmap()
	}
}
