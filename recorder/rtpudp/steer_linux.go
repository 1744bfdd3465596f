package rtpudp

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// steer makes the kernel pick the socket of each datagram by its SSRC
// (steerProgram) rather than by a hash of its addresses and ports. The
// program belongs to the port's SO_REUSEPORT group, whose sockets are
// indexed in the order they joined it: conns' order.
func steer(conns []udpSock) error {
	prog, err := steerProgram(len(conns))
	if err != nil {
		return err
	}
	f := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		f[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fp := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(conns[0].sock.fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fp); err != nil {
		return fmt.Errorf("steer by ssrc: %w", os.NewSyscallError("setsockopt SO_ATTACH_REUSEPORT_CBPF", err))
	}
	return nil
}
