//go:build !linux

package rtpudp

import (
	"log/slog"
	"net"

	"golang.org/x/net/ipv4"
)

// ipv4Reader reads with golang.org/x/net/ipv4's ReadBatch (one datagram
// per call outside Linux).
type ipv4Reader struct {
	c    *ipv4.PacketConn
	msgs []ipv4.Message
}

// udpSock is one socket of a Server: a net.UDPConn outside Linux.
type udpSock = *net.UDPConn

// listenSock opens a socket on addr (sharing the port if reuse) with a
// receive buffer of rbuf bytes; it returns the buffer obtained, or -1.
func listenSock(network, addr string, reuse bool, rbuf int) (udpSock, int, error) {
	c, err := listen(network, addr, reuse)
	if err != nil {
		return nil, -1, err
	}
	if err := c.SetReadBuffer(rbuf); err != nil {
		c.Close()
		return nil, -1, err
	}
	return c, readBuffer(c), nil
}

func newBatchReader(c udpSock, bufs [][]byte, _ bool, _ *slog.Logger) (batchReader, error) {
	r := &ipv4Reader{c: ipv4.NewPacketConn(c), msgs: make([]ipv4.Message, len(bufs))}
	for i, b := range bufs {
		r.msgs[i].Buffers = [][]byte{b}
	}
	return r, nil
}

func (r *ipv4Reader) read(bufs [][]byte, lens []int) (int, error) {
	n, err := r.c.ReadBatch(r.msgs, 0)
	for i := range n {
		lens[i] = r.msgs[i].N
	}
	return n, err
}

// readMethod is what Server.ReadMethod reports.
func readMethod(*Config) string { return "ReadBatch" }
