//go:build !unix

package rtpudp

import "net"

const reusePortSupported = false

func listen(network, addr string, _ bool) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		return nil, err
	}
	return net.ListenUDP(network, a)
}

func readBuffer(*net.UDPConn) int { return -1 }
