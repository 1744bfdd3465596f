//go:build !linux

package rtpudp

import (
	"net"

	"golang.org/x/net/ipv4"
)

// ipv4Reader reads with golang.org/x/net/ipv4's ReadBatch (one datagram
// per call outside Linux).
type ipv4Reader struct {
	c    *ipv4.PacketConn
	msgs []ipv4.Message
}

func newBatchReader(c *net.UDPConn, bufs [][]byte) (batchReader, error) {
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

func forceReadBuffer(*net.UDPConn, int) {}
