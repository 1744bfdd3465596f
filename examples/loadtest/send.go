package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"

	"github.com/consentrec/consentrec/recorder/rtpudp"
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
	raw     []*net.UDPConn
	gso     bool          // every leg has one destination: send with UDP GSO
	steer   int           // the recorder's sockets, if it steers by SSRC (rtpudp.SocketOf)
	loss    float64       // probability a packet is never sent
	reorder float64       // probability a packet is sent after the next one
	stall   time.Duration // a stall: the leg sends nothing, then its backlog at once
	every   time.Duration // period of the stalls
	stallOf int           // every stallOf-th leg stalls (1: all)
}

func (s *sender) run() error {
	const batch = 64
	// Each leg sends from one source socket (leg i from socket i mod k), as
	// a real peer sends a stream from one port: SO_REUSEPORT then keeps a
	// leg on one of the recorder's sockets, so its packets are never
	// reordered between two readers. (Spraying a leg's packets over every
	// socket made them race each other through both readers: packets 80 ms
	// out of order, counted late.) When the recorder steers by SSRC, the
	// kernel steers a GSO train as its first datagram: a train then holds
	// the legs of one of its sockets (group rtpudp.SocketOf), sent from a
	// socket of their own.
	k := len(s.conns)
	groups, group := k, func(leg int) int { return leg % k }
	if s.gso && s.steer > 1 {
		groups = s.steer
		group = func(leg int) int { return rtpudp.SocketOf(uint32(leg+1), s.steer) }
	}
	// Group g sends from socket g mod k.
	msgs := make([][]ipv4.Message, groups)
	bufs := make([][][]byte, groups)
	fill := make([]int, groups) // messages in each group's batch
	for c := range msgs {
		msgs[c] = make([]ipv4.Message, batch)
		bufs[c] = make([][]byte, batch)
		for i := range msgs[c] {
			msgs[c][i].Buffers = [][]byte{nil}
			bufs[c][i] = make([]byte, 1500)
		}
	}
	sent := make([]int64, s.legs)
	held := make([]int64, s.legs) // a packet held back for reordering, -1 none
	for i := range held {
		held[i] = -1
	}
	// The legs are spread over the 20 ms of a frame (leg i sends at i mod
	// 20 ms), as independent callers are: a tick every millisecond sends
	// what the phases due by then owe.
	var h rtp.Header
	h.Version, h.PayloadType = 2, 111
	const phases = 20
	lastDue := make([]int64, phases)
	wasStalled := false
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	// With GSO one send carries up to gsoSegments datagrams of seg bytes
	// (RTP padding makes them all that long), which the kernel splits: the
	// generator then costs a fraction of a system call per datagram.
	const gsoSegments = 64
	seg := 0
	var gsoBufs [][]byte // one per socket
	if s.gso {
		for _, p := range s.payload {
			seg = max(seg, 12+len(p)+1) // at least one byte of padding
		}
		seg = (seg + 3) &^ 3
		for _, c := range s.raw {
			if err := setGSO(c, seg); err != nil {
				return fmt.Errorf("sender: UDP GSO: %w", err)
			}
		}
		for range groups {
			gsoBufs = append(gsoBufs, make([]byte, 0, seg*gsoSegments))
		}
	}
	flush := func(c int) {
		if s.gso {
			if len(gsoBufs[c]) == 0 {
				return
			}
			// Loopback buffers full: lost packets, as on a network.
			_, _ = s.raw[c%k].WriteToUDP(gsoBufs[c], s.dst(0))
			gsoBufs[c] = gsoBufs[c][:0]
			return
		}
		ms := msgs[c][:fill[c]]
		for len(ms) > 0 {
			n, err := s.conns[c%k].WriteBatch(ms, 0)
			if err != nil {
				// Loopback buffers full: a lost packet, as on a network.
				n = max(n, 1)
			}
			ms = ms[n:]
		}
		fill[c] = 0
	}
	add := func(leg int, j int64) {
		c := group(leg)
		h.SSRC = uint32(leg + 1)
		h.SequenceNumber = uint16(j)
		h.Timestamp = uint32(j * 960)
		p := s.payload[j%int64(len(s.payload))]
		if s.gso {
			h.Padding = true
			at := len(gsoBufs[c])
			gsoBufs[c] = gsoBufs[c][:at+seg]
			b := gsoBufs[c][at:]
			n, _ := h.MarshalTo(b)
			n += copy(b[n:], p)
			pad := seg - n
			clear(b[n:])
			b[seg-1] = byte(pad)
			if len(gsoBufs[c]) == cap(gsoBufs[c]) {
				flush(c)
			}
			return
		}
		n, _ := h.MarshalTo(bufs[c][fill[c]])
		n += copy(bufs[c][fill[c]][n:], p)
		msgs[c][fill[c]].Buffers[0] = bufs[c][fill[c]][:n]
		msgs[c][fill[c]].Addr = s.dst(leg)
		fill[c]++
		if fill[c] == batch {
			flush(c)
		}
	}
	for now := range tick.C {
		el := now.Sub(start)
		if el > s.dur {
			break
		}
		stalled := s.every > 0 && el%s.every >= s.every-s.stall
		resumed := wasStalled && !stalled // the backlog goes at once
		for ph := range phases {
			off := time.Duration(ph) * time.Millisecond
			if el < off {
				continue
			}
			due := int64((el-off)/(20*time.Millisecond)) + 1
			if due == lastDue[ph] && !resumed {
				continue
			}
			lastDue[ph] = due
			for leg := ph; leg < s.legs; leg += phases {
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
		}
		for c := range groups {
			flush(c)
		}
		wasStalled = stalled
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Fprintf(os.Stderr, "sender: cpu %.2f s (user %.2f, system %.2f)\n",
		time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds(), time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds())
	fmt.Fprintf(os.Stderr, "sender: %d legs, %v, %d packets\n", s.legs, time.Since(start).Round(time.Millisecond), sum(sent))
	return nil
}

func sum(xs []int64) (t int64) {
	for _, x := range xs {
		t += x
	}
	return t
}

// setGSO makes every send on c longer than seg bytes a train of seg-byte
// datagrams (UDP_SEGMENT, Linux 4.18).
func setGSO(c *net.UDPConn, seg int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_UDP, udpSegment, seg)
	}); err != nil {
		return err
	}
	return serr
}

const udpSegment = 103 // UDP_SEGMENT in linux/udp.h
