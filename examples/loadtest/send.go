package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"
)

// sender is the load generator: N legs of Opus RTP, 20 ms, 50 packets/s
// each, on a shared clock. It runs in a child process so that its CPU time
// is not charged to the recording side.
type sender struct {
	legs    int
	dur     time.Duration
	payload [][]byte
	dst     func(leg int) *net.UDPAddr
	conns   []*ipv4.PacketConn
	loss    float64       // probability a packet is never sent
	reorder float64       // probability a packet is sent after the next one
	stall   time.Duration // a stall: the leg sends nothing, then its backlog at once
	every   time.Duration // period of the stalls
	stallOf int           // every stallOf-th leg stalls (1: all)
}

func (s *sender) run() error {
	const batch = 64
	msgs := make([][]ipv4.Message, len(s.conns))
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	for c := range msgs {
		msgs[c] = make([]ipv4.Message, batch)
		for i := range msgs[c] {
			msgs[c][i].Buffers = [][]byte{nil}
		}
	}
	sent := make([]int64, s.legs)
	held := make([]int64, s.legs) // a packet held back for reordering, -1 none
	for i := range held {
		held[i] = -1
	}
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var h rtp.Header
	h.Version, h.PayloadType = 2, 111
	n := 0 // messages in the batch
	conn := 0
	flush := func() {
		if n == 0 {
			return
		}
		ms := msgs[conn][:n]
		for len(ms) > 0 {
			k, err := s.conns[conn].WriteBatch(ms, 0)
			if err != nil {
				// Loopback buffers full: a lost packet, as on a network.
				k = max(k, 1)
			}
			ms = ms[k:]
		}
		n = 0
		conn = (conn + 1) % len(s.conns)
	}
	add := func(leg int, j int64) {
		h.SSRC = uint32(leg + 1)
		h.SequenceNumber = uint16(j)
		h.Timestamp = uint32(j * 960)
		p := s.payload[j%int64(len(s.payload))]
		k, _ := h.MarshalTo(bufs[n])
		k += copy(bufs[n][k:], p)
		msgs[conn][n].Buffers[0] = bufs[n][:k]
		msgs[conn][n].Addr = s.dst(leg)
		n++
		if n == batch {
			flush()
		}
	}
	for now := range tick.C {
		el := now.Sub(start)
		if el > s.dur {
			break
		}
		due := int64(el/(20*time.Millisecond)) + 1
		stalled := s.every > 0 && el%s.every >= s.every-s.stall
		for leg := range s.legs {
			if stalled && leg%s.stallOf == 0 {
				continue
			}
			for ; sent[leg] < due; sent[leg]++ {
				j := sent[leg]
				if s.loss > 0 && rand.Float64() < s.loss {
					continue
				}
				if held[leg] < 0 && s.reorder > 0 && rand.Float64() < s.reorder {
					held[leg] = j
					continue
				}
				add(leg, j)
				if held[leg] >= 0 {
					add(leg, held[leg])
					held[leg] = -1
				}
			}
		}
		flush()
	}
	fmt.Fprintf(os.Stderr, "sender: %d legs, %v, %d packets\n", s.legs, time.Since(start).Round(time.Millisecond), sum(sent))
	return nil
}

func sum(xs []int64) (t int64) {
	for _, x := range xs {
		t += x
	}
	return t
}
