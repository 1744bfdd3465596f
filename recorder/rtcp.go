package recorder

import (
	"encoding/binary"
	"fmt"
)

// RTCP packet types this package reads (RFC 3550).
const rtcpSR = 200

// senderReport is what the recorder keeps of an RTCP sender report: the
// sender's wall clock (NTP) at one of its RTP timestamps.
type senderReport struct {
	ssrc uint32
	ntp  uint64 // NTP timestamp, 32.32 fixed point
	rtp  uint32
}

// parseSR walks a compound RTCP packet and returns its last sender report
// (ok false when it has none). A packet that is not RTCP version 2, or
// whose lengths do not add up, gives an error wrapping ErrBadPacket. It
// does not allocate.
func parseSR(b []byte) (sr senderReport, ok bool, err error) {
	if len(b) == 0 {
		return sr, false, fmt.Errorf("empty rtcp packet: %w", ErrBadPacket)
	}
	for len(b) > 0 {
		if len(b) < 4 {
			return sr, false, fmt.Errorf("rtcp header of %d bytes: %w", len(b), ErrBadPacket)
		}
		if b[0]>>6 != 2 {
			return sr, false, fmt.Errorf("rtcp version %d: %w", b[0]>>6, ErrBadPacket)
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			return sr, false, fmt.Errorf("rtcp packet of %d bytes in %d: %w", n, len(b), ErrBadPacket)
		}
		if b[1] == rtcpSR {
			if n < 28 {
				return sr, false, fmt.Errorf("sender report of %d bytes: %w", n, ErrBadPacket)
			}
			sr = senderReport{
				ssrc: binary.BigEndian.Uint32(b[4:8]),
				ntp:  binary.BigEndian.Uint64(b[8:16]),
				rtp:  binary.BigEndian.Uint32(b[16:20]),
			}
			ok = true
		}
		b = b[n:]
	}
	return sr, ok, nil
}

// WriteRTCP hands the leg one RTCP packet as received (a compound packet,
// decrypted: SRTCP is the host's business, like SRTP). b is not retained.
// The recorder reads only the sender reports of the leg's current SSRC:
// once both legs sent one, they are aligned on their senders' wall clocks
// (NTP), which tells a difference in network delay between the legs from
// a difference in when their audio was spoken (see Config.MaxBurst).
// Other RTCP packets are ignored. It returns an error wrapping
// ErrBadPacket for a malformed packet and ErrClosed for a closed leg. It
// does not allocate; it may be called concurrently with WriteRTP.
func (l *Leg) WriteRTCP(b []byte) error {
	sr, ok, err := parseSR(b)
	if err != nil {
		return fmt.Errorf("recorder: write rtcp: %w", err)
	}
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.closed {
		return fmt.Errorf("recorder: write rtcp: %w", ErrClosed)
	}
	if !ok || r.sess == nil || !l.tl.anchored || sr.ssrc != l.tl.ssrc {
		return nil
	}
	l.tl.sr, l.tl.srOK = sr, true
	r.sess.alignNTP()
	return nil
}

// ntpNanos converts an NTP 32.32 timestamp to nanoseconds (modulo 2^64:
// only differences are used).
func ntpNanos(t uint64) int64 {
	sec, frac := int64(t>>32), t&0xFFFFFFFF
	return sec*1e9 + int64((frac*1e9)>>32)
}

// origin returns the NTP instant, in nanoseconds, of the leg's slot 0 as
// its anchor places it.
func (t *timeline) origin() int64 {
	srExt := t.ext + int64(int32(t.sr.rtp-t.lastTS))
	atAnchor := ntpNanos(t.sr.ntp) - (srExt-t.anchorExt)*1e9/48000
	return atAnchor - t.anchorSlot*int64(SlotDuration)
}

// alignNTP aligns the legs on their senders' NTP clocks once both sent a
// sender report: the leg placed earlier than the other (its audio of a
// given instant in an earlier slot: its network is faster) moves later by
// the difference, a filler run (a slip) when it is a whole 40 ms or more
// and at most MaxBurst (beyond, the senders' clocks are not one clock).
// The drift rules then measure the leg's lead from there (bias).
func (s *session) alignNTP() {
	a, b := s.r.legs[0], s.r.legs[1]
	if a == nil || b == nil || !a.tl.srOK || !b.tl.srOK || a.closed || b.closed {
		return
	}
	d := (a.tl.origin() - b.tl.origin()) / int64(SlotDuration) // slots a is placed earlier than b
	l := a
	if d < 0 {
		l, d = b, -d
	}
	if d < 2 || d > s.r.burst {
		return
	}
	t := &l.tl
	t.anchorSlot += d
	t.bias += d
	t.hiEnd += d
	t.seqEnd += d
	l.stats.Slips++
	t.slipPending = true
}
