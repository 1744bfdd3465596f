//go:build !linux

package rtpudp

import "errors"

// steer is Linux's (SO_ATTACH_REUSEPORT_CBPF): elsewhere the kernel
// spreads datagrams by address and port.
func steer([]udpSock) error { return errors.New("steer by ssrc: not supported on this platform") }
