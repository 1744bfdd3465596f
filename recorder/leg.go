package recorder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
)

// Leg is one party's audio in a call: an RTP stream of Opus packets (and
// telephone-events), pushed with WriteRTP or pulled from a Source with
// Consume. A Leg lives as long as its Recorder's call: packets arriving
// while not recording are dropped. Its methods may be called concurrently,
// but packets are expected from one goroutine.
type Leg struct {
	r      *Recorder
	opusPT int // -1 until learnt
	idx    int
	closed bool
	dtmfPT uint8
	stats  LegStats
	tl     timeline // its hot fields first, its ring and scratch last
	cfg    LegConfig
	dtmf   dtmfState
}

// Role returns the leg's role.
func (l *Leg) Role() Role { return l.cfg.Role }

// Stats returns the leg's counters for the recording in progress (or the
// last one).
func (l *Leg) Stats() LegStats {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.stats
}

// Close marks the leg gone (the party hung up): from its last packet on, its
// channel holds silence ("ended" in the gap index). WriteRTP then fails with
// ErrClosed.
func (l *Leg) Close() error {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	l.closed = true
	return nil
}

// WriteRTP hands one packet of the leg to the recorder. p is not retained.
// Packets of another payload type than the leg's Opus (comfort noise, RED)
// are dropped; malformed Opus packets, late and duplicate packets are
// counted in Stats and dropped. WriteRTP returns an error only for a nil
// packet, a closed leg (ErrClosed), or an internal fault that ended the leg
// while this packet was processed (a *LegFault, see ErrLegFailed): no
// packet panics the process.
func (l *Leg) WriteRTP(p *rtp.Packet) error { return l.WriteRTPAt(p, time.Time{}) }

// WriteRTPAt is WriteRTP for a packet that arrived at the instant given
// (the zero Time: now). A reader that takes many packets in one read
// (recorder/rtpudp) reads the clock once for them all; the instant must
// come from time.Now (monotonic), at or after the packet's arrival.
func (l *Leg) WriteRTPAt(p *rtp.Packet, arrival time.Time) error {
	if p == nil {
		return fmt.Errorf("recorder: write rtp: nil packet: %w", ErrBadPacket)
	}
	r := l.r
	r.mu.Lock()
	ev, cb, group, lf, err := l.writeLocked(p, arrival)
	r.mu.Unlock()
	if lf != nil {
		r.report(lf)
		return fmt.Errorf("recorder: write rtp: %w", lf.LegFault)
	}
	if cb != nil {
		// The first key handed over in clear is audited first (R23); if
		// it cannot be, keys stay masked.
		if !ev.Masked && !r.clearAudited.Load() && !r.auditClearDTMF(group) {
			ev.mask()
		}
		cb(ev)
	}
	return err
}

// writeLocked processes p under the recorder's lock. A panic is recovered
// (without allocating on the normal path: the deferred closure stays on
// the stack) and ends the leg. It returns the telephone-event to hand to
// cb, if any.
func (l *Leg) writeLocked(p *rtp.Packet, now time.Time) (ev DTMF, cb func(DTMF), group string, lf *lockedFault, err error) {
	defer func() {
		if v := recover(); v != nil {
			ev, cb, group, lf, err = DTMF{}, nil, "", l.fault(v), nil
		}
	}()
	r := l.r
	if l.closed {
		return ev, nil, "", nil, fmt.Errorf("recorder: write rtp: %w", ErrClosed)
	}
	injectFault("write", l, p)
	if now.IsZero() {
		now = r.now()
	}
	pt := int(p.PayloadType)
	if l.isDTMF(p) {
		ev, ok := l.dtmf.update(p, now, l.cfg)
		paused := false
		if r.sess != nil {
			l.stats.DTMF++
			paused, group = r.sess.pausedNow(), r.sess.group
		}
		if paused || r.cfg.ClearDTMF == "" {
			// Keys may be card digits: never hand them to the host, which
			// may log them, unless it named why it needs them, and never
			// during a pause (R21-R23).
			ev.mask()
		}
		if !ok {
			return ev, nil, "", nil, nil
		}
		return ev, r.cfg.OnDTMF, group, nil, nil
	}
	if l.opusPT < 0 && pt >= 96 && pt <= 127 {
		// Opus always has a dynamic payload type (RFC 7587): a static one
		// (comfort noise 13, G.711) arriving first is not it.
		l.opusPT = pt
	}
	if pt == l.opusPT && r.sess != nil {
		r.sess.receive(l, p, now)
	}
	return ev, nil, "", nil, nil
}

func (d *DTMF) mask() { d.Event, d.Digit, d.Masked = 0, 0, true }

// auditClearDTMF appends the call's KindDTMFClear event once, before the
// first key is handed over in clear, and reports whether it is in the log.
func (r *Recorder) auditClearDTMF(recording string) bool {
	r.clearMu.Lock()
	defer r.clearMu.Unlock()
	if r.clearAudited.Load() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := r.event(audit.KindDTMFClear, recording, "host", r.cfg.ClearDTMF)
	if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
		r.asyncErr(fmt.Errorf("recorder: clear DTMF: audit: %w (keys stay masked)", err))
		return false
	}
	r.clearAudited.Store(true)
	return true
}

func (l *Leg) isDTMF(p *rtp.Packet) bool {
	pt := int(p.PayloadType)
	if l.dtmfPT != 0 {
		return pt == int(l.dtmfPT)
	}
	return l.opusPT >= 0 && pt != l.opusPT && pt >= 96 && pt <= 127 && len(p.Payload) == 4
}

// Consume reads src until it ends (io.EOF gives nil), ctx is done (checked
// between packets: closing the source is what interrupts a blocked read), or
// the leg is closed. A panic inside src.ReadRTP is recovered and ends the
// leg like a fault in WriteRTP: Consume returns its *LegFault.
func (l *Leg) Consume(ctx context.Context, src Source) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := l.readGuarded(src)
		if err != nil {
			if errors.Is(err, ErrLegFailed) {
				return err
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("recorder: consume %s leg: %w", l.cfg.Role, err)
		}
		if err := l.WriteRTP(p); err != nil {
			if errors.Is(err, ErrClosed) && !errors.Is(err, ErrLegFailed) {
				return nil
			}
			return err
		}
	}
}

type dtmfState struct {
	seen  bool
	ts    uint32
	ended bool
}

func (d *dtmfState) update(p *rtp.Packet, now time.Time, cfg LegConfig) (DTMF, bool) {
	pl := p.Payload
	if len(pl) < 4 {
		return DTMF{}, false
	}
	ev := DTMF{
		Leg: cfg.Role, Event: pl[0], End: pl[1]&0x80 != 0, Volume: pl[1] & 0x3f, At: now,
		Duration: time.Duration(binary.BigEndian.Uint16(pl[2:4])) * time.Second / time.Duration(cfg.DTMFClockRate),
	}
	if ev.Event < 16 {
		ev.Digit = rune("0123456789*#ABCD"[ev.Event])
	}
	if !d.seen || p.Timestamp != d.ts {
		d.seen, d.ts, d.ended = true, p.Timestamp, ev.End
		return ev, true
	}
	if ev.End && !d.ended {
		d.ended = true
		return ev, true
	}
	return DTMF{}, false
}

// Slot buffer kinds.
const (
	slotEmpty = iota
	slotFull  // one 20 ms packet
	slotHalf  // one or two 10 ms packets
	slotSpan  // a 40 or 60 ms packet (mono only)
)

type slotBuf struct {
	slot   int64
	kind   uint8
	span   uint8
	hdr    int16    // where the self-delimiting length goes
	last   int16    // the size of the last frame
	h0, h1 [2]int16 // 10 ms halves: offset and length in data (length -1: absent)
	data   []byte
}

// timeline maps a leg's RTP timestamps to the recording's 20 ms slots and
// buffers the slots not yet written.
type timeline struct {
	anchored    bool
	haveTOC     bool
	slipPending bool
	unsupported bool
	gapOpen     bool
	gapEnded    bool
	quiet       bool // its newest packet was a DTX (no-data) frame: its silence is no stall
	srOK        bool // sr holds a sender report of ssrc
	holeOpen    bool // packets holeSeq to holeEnd-1, missing after a silence, may still come
	holeSeq     uint16
	holeEnd     uint16
	holeSlot    int64 // the first slot of the hole: the writing waits there, as for a stall
	lastTOC     byte
	hiSeq       uint16
	ssrc        uint32
	lastTS      uint32
	ext         int64 // extended timestamp of the last packet
	anchorExt   int64
	anchorSlot  int64
	firstSlot   int64 // slots before it: not started
	firstW      int64 // the wall slot of its first packet
	lastW       int64 // the wall slot of its previous packet
	aheadRun    int   // paced packets ahead in a row, in its first MaxBurst
	aheadLead   int64 // the lead of the run's first packet
	onTimeRun   int   // paced packets on time in a row, in its first MaxBurst
	fixed       bool  // it bursts, or its first packets came on time: it never moves earlier (see lateStart)
	bias        int64 // slots the leg was moved later to align it with the other on NTP (RTCP)
	sr          senderReport
	hiSlot      int64
	hiEnd       int64 // past the last slot a packet arrived for (a silent leg is waited for from there)
	seqEnd      int64 // past the slots of the newest packet (by sequence number)
	coverUntil  int64
	lateRun     int
	missRun     int
	dtxFrom     int64
	dtxTo       int64
	gapStart    int64
	leadFrom    int64     // the wall slot where the current lead period began
	leadMin     int64     // the least lead (slot minus wall slot) in the current period
	leadPrev    int64     // the least lead in the previous period
	leadMax     int64     // the greatest lead (the least delay) in the current period
	leadMaxPrev int64     // the greatest lead in the previous period
	bigAt       int64     // the last wall slot at which the leg needed more than the base ring
	mask        int64     // len(ring)-1
	ring        []slotBuf // base, or a larger ring during a burst
	arena       []byte
	join        [2][]byte // fillers and joined halves, by slot parity (a pair is taken before it is written)
	base        [ringSize]slotBuf
}

func (t *timeline) reset() {
	base := t.base
	join := t.join
	arena := t.arena
	*t = timeline{arena: arena, base: base}
	for i := range t.base {
		b := &t.base[i]
		b.kind = slotEmpty
		b.data = b.data[:0]
	}
	t.ring, t.mask = t.base[:], ringSize-1
	t.join = [2][]byte{join[0][:0], join[1][:0]}
}

// buf returns the ring entry of slot k.
func (t *timeline) buf(k int64) *slotBuf { return &t.ring[k&t.mask] }

// low is the first slot the ring holds: the write frontier, or, while the
// writing holds back at a leg's start (see hold), the first slot a packet
// of the leg may still take (its first slot, less the reorder window):
// the slots between hold nothing of the leg, and the ring needs no room
// for them. A packet older than that is late.
func (t *timeline) low(s *session) int64 {
	return max(s.next, t.firstSlot-s.r.window-2)
}

func (t *timeline) has(k int64) bool {
	b := t.buf(k)
	return b.kind == slotFull && b.slot == k
}

func (t *timeline) drop(k int64) {
	b := t.buf(k)
	if b.slot == k {
		b.kind = slotEmpty
	}
}

// grow makes the ring hold slots up to hi (a burst): entries keep their
// buffers, moved to their slot's index in a ring twice as large (or more);
// the new entries share one new arena.
func (t *timeline) grow(hi, next int64) {
	n := len(t.ring)
	for int64(n) <= hi-next {
		n *= 2
	}
	ring := make([]slotBuf, n)
	mask := int64(n - 1)
	for i := range t.ring {
		b := t.ring[i]
		j := int64(i)
		if b.kind != slotEmpty {
			j = b.slot & mask
		}
		ring[j] = b
	}
	empty := 0
	for i := range ring {
		if ring[i].data == nil {
			empty++
		}
	}
	extra := make([]byte, empty*slotArena)
	for i := range ring {
		if ring[i].data == nil {
			ring[i].data = extra[:0:slotArena]
			extra = extra[slotArena:]
		}
	}
	t.ring, t.mask = ring, mask
}

// shrink goes back to the base ring once the buffered slots fit in it.
// Entries of a ring always have their data in the arena region of their
// index modulo ringSize (or in their own allocation), so copying a pending
// slot to its base entry never overwrites another pending slot.
func (t *timeline) shrink(next int64) bool {
	for i := range t.ring {
		b := &t.ring[i]
		if b.kind != slotEmpty && b.slot >= next+ringSize-1 {
			return false
		}
	}
	var pending [ringSize]*slotBuf
	for i := range t.ring {
		b := &t.ring[i]
		if b.kind != slotEmpty && b.slot >= next {
			pending[b.slot&(ringSize-1)] = b
		}
	}
	for i := range t.base {
		d := &t.base[i]
		region := t.region(int64(i))
		e := pending[i]
		if e == nil {
			*d = slotBuf{data: region}
			continue
		}
		data := e.data
		if len(data) <= cap(region) {
			data = append(region, data...) // the same region or another buffer: never a pending slot's
		}
		*d = *e
		d.data = data
	}
	t.ring, t.mask = t.base[:], ringSize-1
	return true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// receive places one Opus packet of leg l on the session's timeline.
//
// A packet's slot is its RTP timestamp against the leg's anchor. The anchor
// is set by the first packet and then follows the packets that arrive with
// the least delay, never the late ones: a sender stall or a backlog only
// adds delay, so it never moves the leg (the write frontier waits for a leg
// that went silent, see frontier); a backlog at the leg's start is found out
// by the on-time packets after it, which move the leg back (shift) to the
// slots where its backlog belongs: the frontier holds back while a leg has
// not started or may still be moved (in its first MaxBurst, until its
// packets come paced and on time: see hold), so that a backlog of up to
// MaxBurst lands on slots not yet written and none of it is late;
// the oldest packets of a longer backlog land before the frontier and are
// counted late. A clock that drifts moves the least delay steadily and
// slips the leg 20 ms at a time, once it was off for two whole periods.
func (s *session) receive(l *Leg, p *rtp.Packet, now time.Time) {
	r := s.r
	s.prefetchEntries()
	if !s.active.Load() {
		s.active.Store(true)
	}
	w := s.wallSlot(now)
	s.advanceTo(s.frontier(w), false)
	t := &l.tl
	ts, seq := p.Timestamp, p.SequenceNumber
	if !t.anchored || p.SSRC != t.ssrc {
		if t.anchored {
			l.stats.SSRCChanges++
			l.stats.Slips++
			t.slipPending = true
		}
		slot := max(w, s.next)
		if !t.anchored {
			t.firstSlot, t.firstW = slot, w
			s.settled = false // it may have started late: the frontier holds (see hold)
		}
		t.anchored, t.ssrc, t.lastW = true, p.SSRC, w
		t.srOK, t.bias, t.holeOpen = false, 0, false
		t.lastTS, t.ext, t.anchorExt, t.anchorSlot = ts, 0, 0, slot
		t.hiSeq, t.hiSlot = seq-1, slot-1
		t.hiEnd, t.seqEnd = max(t.hiEnd, slot), slot
		t.lateRun = 0
		t.leadFrom, t.leadMin, t.leadPrev = w, slot-w, slot-w
		t.leadMax, t.leadMaxPrev = slot-w, slot-w
	} else {
		t.ext += int64(int32(ts - t.lastTS))
		t.lastTS = ts
	}
	off := t.ext - t.anchorExt
	slot := t.anchorSlot + floorDiv(off, slotSamples)
	sub := off - floorDiv(off, slotSamples)*slotSamples
	newest := false
	if ds := int16(seq - t.hiSeq); ds > 0 {
		// The next sequence number with a timestamp that jumped over
		// slots: the sender sent nothing for them (DTX). A gap in sequence
		// numbers is loss; late packets (a stall) keep their timestamps.
		dtx := ds == 1 && slot > t.seqEnd
		if dtx {
			t.dtxFrom, t.dtxTo = t.seqEnd, slot
		}
		if ds > 1 && w-t.lastW > r.window {
			// Packets missing right after a silence: a stall's backlog may
			// come out of order (sent or read through several sockets);
			// the writing waits for them as for the stall.
			t.holeOpen, t.holeSeq, t.holeEnd, t.holeSlot = true, t.hiSeq+1, seq, t.seqEnd
		}
		t.hiSeq, t.seqEnd, newest = seq, slot+1, true
		// Its silence after this packet is DTX, not a stall, if this packet
		// has no audio (a TOC byte alone, or with an empty frame) or came
		// after a DTX silence (WebRTC sends one such packet every 400 ms).
		t.quiet = len(p.Payload) <= 2 || dtx
	}
	if t.holeOpen && seq == t.holeSeq {
		t.holeSeq, t.holeSlot = seq+1, slot+1
		t.holeOpen = t.holeSeq != t.holeEnd
	}
	lead := slot - w - t.bias
	if w < t.firstW+r.burst && !t.fixed {
		if w == t.lastW {
			t.onTimeRun = 0 // not paced: a backlog or a burst arriving
		} else if t.lateStart(lead, r) {
			// The leg moves earlier, to where its on-time packets say;
			// its slots that the frontier passed meanwhile are late.
			t.shift(s, l, lead)
			slot, lead = slot-lead, 0
			t.srOK = false // its anchor moved: align again on the next report
		}
	}
	t.lastW = w
	if w >= t.leadFrom+r.period {
		t.leadFrom, t.leadPrev, t.leadMin = w, t.leadMin, lead
		t.leadMaxPrev, t.leadMax = t.leadMax, lead
	} else {
		t.leadMin = min(t.leadMin, lead)
		t.leadMax = max(t.leadMax, lead)
	}
	switch {
	case slot < s.next && s.pausedIn(slot, max(s.next, slot+maxPacketSlots)):
		// Late, with a pause between it (any of its frames) and the
		// frontier: re-aligning the leg here would carry the audio spoken
		// during the pause, held up in the network, after the resume.
		// Dropped, and no sign of a slow clock.
		l.stats.Late++
		return
	case slot < s.next:
		t.lateRun++
		if t.lateRun < lateSlip {
			l.stats.Late++
			return
		}
		// The leg keeps arriving after the frontier passed, which waited
		// for it up to MaxBurst: its delay grew beyond that for good.
		// Re-align it on its arrival, which leaves it the whole reorder
		// window again (the skipped slots become fillers).
		n := max(w, s.next)
		t.anchorSlot += n - slot
		slot = n
		l.stats.Slips++
		t.slipPending = true
		t.lateRun = 0
		t.bias, t.srOK = 0, false // re-aligned on arrival: align again on the next report
		t.leadMin = min(t.leadMin, slot-w)
		t.leadMax = max(t.leadMax, slot-w)
	case lead > r.burst && w < t.firstW+r.burst && !t.fixed:
		// In its first MaxBurst, further ahead than MaxBurst: a backlog
		// at its start longer than MaxBurst (or a timestamp jump). The
		// leg moves earlier by the excess at once, so that its backlog
		// is placed once its on-time packets come (lateStart): its oldest
		// packets, more than MaxBurst before its first one, land before
		// the frontier and are late (counted), never slipped.
		t.shift(s, l, lead-r.burst)
		slot -= lead - r.burst
		t.lateRun = 0
		t.srOK = false
	case lead > r.burst:
		// Further ahead than any burst: a timestamp jump (or a clock so
		// fast that the slips below could not keep up). Re-align on the
		// burst limit (drop 20 ms if this packet follows a buffered one).
		n := w + r.burst
		t.anchorSlot += n - slot
		slot = n
		l.stats.Slips++
		t.slipPending = true
		t.lateRun = 0
		t.bias, t.srOK = 0, false
	case lead > driftAhead && t.leadMin > driftAhead && t.leadPrev > driftAhead:
		// Ahead for two whole periods, never back on time between bursts:
		// a fast clock. Drop 20 ms (this packet falls on its predecessor's
		// slot), until the leg is back at driftAhead.
		t.anchorSlot--
		slot--
		l.stats.Slips++
		t.slipPending = true
		t.lateRun = 0
		t.leadMin = min(t.leadMin, slot-w-t.bias)
	case lead < -driftBehind && t.leadMax < -driftBehind && t.leadMaxPrev < -driftBehind:
		// Behind for two whole periods, even its least delayed packets: a
		// slow clock (or a delay that grew for good; a stall, shorter than
		// a period, leaves on-time packets in each). Insert 20 ms (a
		// filler before this packet), until the leg is back at
		// driftBehind.
		t.anchorSlot++
		slot++
		l.stats.Slips++
		t.slipPending = true
		t.lateRun = 0
		t.leadMax = max(t.leadMax, slot-w-t.bias)
	default:
		t.lateRun = 0
	}
	// A burst: the ring grows to hold every slot up to this packet's (and
	// the two more a 60 ms packet fills); it shrinks back a period after
	// the last burst that needed it.
	lo := t.low(s)
	if need := slot + 3 - lo; need >= ringSize-1 {
		t.bigAt = w
		if need >= int64(len(t.ring))-1 {
			t.grow(slot+4, lo)
		}
	} else if len(t.ring) > ringSize && w > t.bigAt+r.period && !t.shrink(lo) {
		t.bigAt = w
	}
	if slot > t.hiSlot {
		t.hiSlot = slot
	}
	t.hiEnd = max(t.hiEnd, slot+1)
	if s.paused(slot) {
		// Never written; the pause extends over it (audio captured while
		// paused is never written, even if the leg's clock maps it later).
		s.pauseDropHi = max(s.pauseDropHi, slot+1)
		return
	}
	if n := t.store(s, l, p.Payload, slot, sub); newest {
		t.seqEnd = slot + n
		t.hiEnd = max(t.hiEnd, t.seqEnd)
	}
	if slot != s.next+1 && slot != s.next {
		return // the frontier's readiness did not change
	}
	// Write early what every leg has (no need to wait for the window),
	// never past the hold of a leg that may still be moved (see hold).
	end := w + r.burst
	if !s.settled {
		end = min(end, s.hold(w)-1)
	}
	n := s.next
	for s.next < end && s.ready(s.next) && s.ready(s.next+1) {
		s.emitPair(s.next)
		s.next += 2
	}
	if s.next != n {
		s.advanceTo(s.next, false)
	}
}

// frontier returns the slot up to which the slots may be written at wall
// slot w: those whose reorder window has passed, except that it waits for
// a leg that went silent (no packet at all, its newest packet no DTX frame)
// for up to MaxBurst: a sender stall, whose backlog is then written at its
// slots, not dropped as late; and, the same way, for the packets missing
// when a leg resumed after a silence (its backlog reordered).
//
// It also holds back while a leg has not started or may still be moved
// earlier (see hold), so that a backlog at its start is written at its
// slots, not dropped as late. Once every leg started (s.settled), that
// costs one compare.
//
// The cost is latency and memory, never audio: while a leg is waited for,
// the other leg's slots stay buffered (its ring grows to hold MaxBurst: 64
// slots, about 11 KiB, at the default 1 s), and pages reach storage up to
// MaxBurst later (a crash then loses up to FlushInterval plus MaxBurst).
func (s *session) frontier(w int64) int64 {
	r := s.r
	lim := w - r.window
	if !s.settled {
		lim = min(lim, s.hold(w))
	}
	for _, l := range r.legs {
		if l == nil || l.closed {
			continue
		}
		t := &l.tl
		if !t.anchored {
			continue
		}
		if !t.quiet && t.hiEnd < lim && w-t.hiEnd <= r.burst {
			lim = t.hiEnd
		}
		if t.holeOpen && t.holeSlot < lim && w-t.holeSlot <= r.burst {
			lim = t.holeSlot
		}
	}
	return lim
}

// onTimeFix is how many paced packets on time in a row, after its first,
// tell that a leg's first packets were not late (see lateStart): 100 ms.
const onTimeFix = 5

// hold returns the slot before which the frontier stays at wall slot w so
// that a leg's backlog at its start, of up to MaxBurst, lands on slots not
// yet written when the leg is moved earlier (shift): MaxBurst before its
// first slot while it is in its first MaxBurst and may still be moved
// earlier (until it is fixed, see lateStart: a leg that starts on time
// holds for 100 ms), and MaxBurst before the wall clock while
// a leg has not sent its first packet (its first packets may be late by up
// to MaxBurst) and another leg has (its backlog is to be aligned with that
// leg's audio) or the recording is in its first MaxBurst (both legs may
// start late). It sets s.settled once no leg can hold: every leg (closed
// ones aside) fixed or past its first MaxBurst; a leg's first packet
// clears it.
//
// The cost is latency and memory while a leg that may have started late
// is in its first MaxBurst, and before its first packet, never in steady
// state: pages reach storage up to twice MaxBurst later (a crash loses as
// much more), both legs' rings grow to hold the slots held (up to 128
// slots, about 18 KiB, at the default 1 s) and shrink back a period
// later, and a leg that ends by a fault (LegFault) meanwhile loses what it
// has buffered. Legs that start together and on time hold 100 ms and
// their rings do not grow. A leg added but silent while the other speaks
// holds the frontier MaxBurst back all that time.
func (s *session) hold(w int64) int64 {
	r := s.r
	lim, settled, waiting, started := w, true, false, false
	for _, l := range r.legs {
		if l == nil || l.closed {
			continue
		}
		t := &l.tl
		switch {
		case !t.anchored:
			waiting, settled = true, false
		case w < t.firstW+r.burst && !t.fixed:
			lim, settled, started = min(lim, t.firstSlot-r.burst), false, true
		default:
			started = true
		}
	}
	if waiting && (started || w < r.burst) {
		lim = min(lim, w-r.burst)
	}
	s.settled = settled
	return lim
}

// lateStart reports whether the leg's first packets were late (a backlog
// at the sender or in the network), judged from a packet that arrived in a
// later wall slot than the previous one (paced), in the leg's first
// MaxBurst, ahead of the wall clock by lead: aheadShift such packets in a
// row, ahead by more than the reorder window (more than jitter) and by
// about the same lead, are less delayed than the first packets were.
//
// A sender that bursts (ffmpeg -re sends 256 ms at once) looks the same
// when a burst reaches the recorder spread over several wall slots (a
// transcoder or reader slowed by CPU load): its tail arrives ahead, one
// packet a slot. Two signs tell it apart: a run whose lead still grows is
// a burst read out, not paced packets; and a leg whose lead falls back by
// more than the reorder window after running ahead (the next burst's
// first packet, on time) bursts, and its first packets were on time: it
// never moves. Moving such a leg would drop as late the packets whose
// slots it moves onto, and misplace the rest.
//
// Nor does a leg whose first packets came paced and on time (within the
// reorder window of the first one's delay) onTimeFix times in a row: a
// backlog arrives faster than paced (at once, several packets a slot)
// before the leg is ahead. Either way the leg is fixed: the writing no
// longer holds back for it (see hold).
func (t *timeline) lateStart(lead int64, r *Recorder) bool {
	switch {
	case t.fixed:
		return false
	case lead < t.leadMax-r.window:
		t.fixed, t.aheadRun = true, 0
		return false
	case lead >= -r.window && lead <= r.window:
		t.aheadRun = 0
		t.onTimeRun++
		t.fixed = t.onTimeRun >= onTimeFix
		return false
	case lead <= r.window || lead > r.burst:
		t.aheadRun, t.onTimeRun = 0, 0
		return false
	case t.aheadRun == 0 || lead > t.aheadLead+1:
		t.aheadRun, t.aheadLead, t.onTimeRun = 1, lead, 0 // a run starts (again)
	default:
		t.aheadRun++
	}
	if t.aheadRun < aheadShift {
		return false
	}
	t.aheadRun = 0
	return true
}

// shift moves the leg d slots earlier: its anchor and its buffered slots,
// those that land before the frontier are dropped (late).
func (t *timeline) shift(s *session, l *Leg, d int64) {
	next := s.next
	lo, hi := t.low(s), t.hiEnd
	// The ring must hold the slots' old and new places at once.
	if from := max(next, lo-d); hi-from >= int64(len(t.ring)) {
		t.grow(hi, from)
	}
	for k := lo; k < hi; k++ {
		src := t.buf(k)
		if src.kind == slotEmpty || src.slot != k {
			continue
		}
		if k-d < next {
			src.kind = slotEmpty
			l.stats.Late++
			continue
		}
		i := (k - d) & t.mask
		dst := &t.ring[i]
		data := dst.data
		if data == nil {
			data = t.region(i)
		}
		*dst = *src
		dst.slot = k - d
		dst.data = append(data[:0], src.data...)
		src.kind = slotEmpty
	}
	t.anchorSlot -= d
	t.firstSlot -= d
	t.hiSlot -= d
	t.hiEnd -= d
	t.seqEnd -= d
	t.dtxFrom -= d
	t.dtxTo -= d
	t.leadMin -= d
	t.leadPrev -= d
	t.leadMax -= d
	t.leadMaxPrev -= d
}

// region returns the arena region of ring index i (in the base ring; a
// larger ring's entries all have buffers). The arena is made on the leg's
// first packet. A packet larger than a region moves its slot out of the
// arena until a packet fits again (see room).
func (t *timeline) region(i int64) []byte {
	if t.arena == nil {
		t.arena = make([]byte, ringSize*slotArena)
	}
	i &= ringSize - 1
	return t.arena[i*slotArena : i*slotArena : (i+1)*slotArena]
}

// room returns the buffer of entry b (given its slot by slotFor),
// emptied, for a packet of n bytes. In the base ring, an entry holds its
// arena region or, after a packet larger than the region, a buffer of its
// own, which it keeps while its packets do not fit the region and drops
// (back to its region) at the first that fits: over a long call, a leg
// holds only the few larger buffers in use, not one per entry (a packet
// above slotArena costs one allocation after a smaller one in its entry).
// A larger ring (a burst) keeps the buffers of its entries as they are.
func (t *timeline) room(b *slotBuf, n int) []byte {
	if n <= slotArena && cap(b.data) > slotArena && len(t.ring) == ringSize {
		b.data = t.region(b.slot)
	}
	return b.data[:0]
}

// store validates payload and buffers it in its slot(s). It returns the
// number of slots from slot on that the packet reaches.
func (t *timeline) store(s *session, l *Leg, payload []byte, slot, sub int64) int64 {
	var op opusPacket // on the stack: hot in cache, unlike a per-leg scratch
	o := &op
	injectFault("store", l, nil)
	if err := parseOpus(payload, false, o); err != nil {
		l.stats.Invalid++
		return 1
	}
	fs := frameSamples48(o.toc)
	total := o.n * fs
	if fs == 480 && o.n == 1 {
		part := 0
		if sub >= 480 {
			part = 1
		}
		t.putHalf(s, l, slot, part, payload)
		return 1
	}
	n := int64(max(total/slotSamples, 1))
	if sub >= 480 {
		slot++ // round a misaligned timestamp to the nearest slot
		n++
	}
	switch {
	case total == slotSamples:
		if b := t.slotFor(s, l, slot); b != nil {
			b.kind, b.span = slotFull, 1
			b.hdr, b.last = int16(o.hdr), int16(o.size[o.n-1])
			b.data = append(t.room(b, len(payload)), payload...)
		}
	case fs == slotSamples: // several 20 ms frames: one slot each
		toc := o.toc &^ 3
		for i := 0; i < o.n; i++ {
			if b := t.slotFor(s, l, slot+int64(i)); b != nil {
				b.kind, b.span = slotFull, 1
				b.hdr, b.last = 1, int16(o.size[i])
				b.data = append(append(t.room(b, 1+int(o.size[i])), toc), payload[o.off[i]:o.off[i]+o.size[i]]...)
			}
		}
	case !s.r.dual && total%slotSamples == 0:
		if b := t.slotFor(s, l, slot); b != nil {
			b.kind, b.span = slotSpan, uint8(total/slotSamples)
			b.data = append(t.room(b, len(payload)), payload...)
		}
	default:
		// A 40/60 ms single frame cannot be split without transcoding, and
		// both channels of a dual-channel packet must last as long.
		l.stats.Unsupported++
		t.unsupported = true
	}
	return n
}

// slotFor returns the empty buffer of slot, or nil (counted) if the slot
// is out of the window or already filled.
func (t *timeline) slotFor(s *session, l *Leg, slot int64) *slotBuf {
	if lo := t.low(s); slot < lo || slot >= lo+int64(len(t.ring)) {
		l.stats.Late++
		return nil
	}
	i := slot & t.mask
	b := &t.ring[i]
	if b.kind != slotEmpty && b.slot == slot {
		l.stats.Duplicates++
		return nil
	}
	if b.data == nil {
		// Slots start in one arena per leg: one allocation, contiguous
		// memory; a larger packet moves its slot out (see room).
		b.data = t.region(i)
	}
	b.slot = slot
	b.kind = slotEmpty
	return b
}

func (t *timeline) putHalf(s *session, l *Leg, slot int64, part int, p []byte) {
	b := t.buf(slot)
	if b.kind != slotHalf || b.slot != slot {
		if b = t.slotFor(s, l, slot); b == nil {
			return
		}
		b.kind, b.span = slotHalf, 1
		b.h0, b.h1 = [2]int16{0, -1}, [2]int16{0, -1}
		b.data = b.data[:0]
	}
	h := &b.h0
	if part == 1 {
		h = &b.h1
	}
	if h[1] >= 0 {
		l.stats.Duplicates++
		return
	}
	h[0], h[1] = int16(len(b.data)), int16(len(p))
	b.data = append(b.data, p...)
}

// take returns what leg l contributes to slot k (samples 0: the slot is
// covered by a longer packet written before).
func (t *timeline) take(s *session, l *Leg, k int64) part {
	injectFault("take", l, nil)
	if k < t.coverUntil {
		return part{}
	}
	b := t.buf(k)
	if k < t.firstSlot && (b.kind == slotEmpty || b.slot != k) {
		s.legGap(l.idx, k, GapNotStarted)
		return silencePart
	}
	if b.kind == slotSpan && b.slot == k && s.pausedIn(k+1, k+int64(b.span)) {
		// A 40/60 ms packet reaching into a pause: its tail was spoken
		// while paused and cannot be cut without transcoding. It is never
		// written; its first slot becomes a filler ("unsupported").
		b.kind = slotEmpty
		l.stats.Unsupported++
		t.unsupported = true
	}
	if b.kind != slotEmpty && b.slot == k {
		t.closeGap(s, l, k)
		t.missRun = 0
		l.stats.Packets++
		kind := b.kind
		b.kind = slotEmpty
		switch kind {
		case slotSpan:
			t.coverUntil = k + int64(b.span)
			t.lastTOC, t.haveTOC = b.data[0], true
			return part{p: b.data, samples: int(b.span) * slotSamples}
		case slotHalf:
			return t.joinHalves(b, l, k)
		}
		t.lastTOC, t.haveTOC = b.data[0], true
		return part{p: b.data, hdr: int(b.hdr), last: int(b.last), samples: slotSamples}
	}
	if l.closed && k > t.hiSlot {
		if t.gapOpen && !t.gapEnded {
			t.closeGap(s, l, k)
		}
		if !t.gapOpen {
			t.gapOpen, t.gapEnded, t.gapStart = true, true, k
		}
		return silencePart
	}
	if !t.gapOpen {
		t.gapOpen, t.gapEnded, t.gapStart = true, false, k
	}
	t.missRun++
	if t.missRun <= plcSlots && t.haveTOC {
		j := appendLossFiller(t.join[k&1][:0], t.lastTOC, false)
		t.join[k&1] = j
		return part{p: j, hdr: 1, last: 0, samples: slotSamples}
	}
	return silencePart
}

// joinHalves builds one 20 ms packet from the 10 ms packets of a slot:
// code 1 or 2 when both halves share a configuration, else code 2 with an
// empty (concealed) frame for the missing or mismatched half.
func (t *timeline) joinHalves(b *slotBuf, l *Leg, k int64) part {
	f0, f1 := []byte(nil), []byte(nil)
	toc := byte(0)
	if b.h0[1] >= 0 {
		p := b.data[b.h0[0] : b.h0[0]+b.h0[1]]
		toc, f0 = p[0], p[1:]
	}
	if b.h1[1] >= 0 {
		p := b.data[b.h1[0] : b.h1[0]+b.h1[1]]
		if f0 == nil {
			toc, f1 = p[0], p[1:]
		} else if p[0]&^3 == toc&^3 {
			f1 = p[1:]
		} else {
			l.stats.Unsupported++
		}
	}
	t.lastTOC, t.haveTOC = toc&^3, true
	j := t.join[k&1][:0]
	pt := part{samples: slotSamples, last: len(f1)}
	if f0 != nil && f1 != nil && len(f0) == len(f1) {
		j = append(j, toc&^3|1)
		pt.hdr = 1
	} else {
		j = append(j, toc&^3|2)
		j = appendLen(j, len(f0))
		pt.hdr = len(j)
	}
	j = append(j, f0...)
	j = append(j, f1...)
	t.join[k&1] = j
	pt.p = j
	return pt
}

// closeGap ends the leg's open gap at slot k and records it.
func (t *timeline) closeGap(s *session, l *Leg, k int64) {
	t.missRun = 0
	if !t.gapOpen {
		return
	}
	t.gapOpen = false
	n := k - t.gapStart
	reason := GapLoss
	switch {
	case t.gapEnded:
		reason = GapEnded
	case t.slipPending:
		reason = GapSlip
	case t.unsupported:
		reason = GapUnsupported
	case t.dtxTo >= k && t.dtxFrom <= t.gapStart:
		reason = GapDTX
		l.stats.DTX += n
	default:
		l.stats.Lost += n
	}
	t.slipPending, t.unsupported = false, false
	s.addGap(Gap{Start: slotTime(t.gapStart), End: slotTime(k), Leg: l.cfg.Role, Reason: reason})
}

// finish closes the leg's open gap at the end of the recording: a leg
// silent until the end had stopped sending.
func (t *timeline) finish(s *session, l *Leg, end int64) {
	if !t.gapOpen {
		return
	}
	if !t.slipPending && !t.unsupported && !(t.dtxTo >= end && t.dtxFrom <= t.gapStart) {
		t.gapEnded = true
	}
	t.closeGap(s, l, end)
}
