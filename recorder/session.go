package recorder

import (
	"unsafe"

	"cmp"
	"context"
	"errors"
	"io/fs"
	"slices"
	"sync/atomic"
	"time"

	"github.com/consentrec/consentrec/internal/prefetch"
)

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

type pauseSpan struct {
	from, to int64 // slots; to < 0 while the pause lasts
	actor    string
	note     string
	recorded bool
}

// session is one recording: from Start to Stop.
type session struct {
	r       *Recorder
	next    int64 // the next slot to write
	settled bool  // no leg holds the frontier (every leg started and can no longer be moved earlier, see hold)
	// active is set by each packet and cleared by the Clock: a session
	// that got packets since its last flush was advanced by them, and the
	// Clock skips it (see Clock.run). It shares the session's first line
	// (which Leg.Prefetch loads) with the fields every packet reads: on
	// a line of its own, its load missed the cache on every packet (3 %
	// of the loadtest's CPU).
	active  atomic.Bool
	t0      time.Time
	streams []*oggStream
	pauses  []pauseSpan
	group   string
	ids     []string
	writers []Writer
	pool    *Writers // writes the pages
	q       wqueue   // the pages and checkpoints waiting for pool
	gaps    []Gap
	dropped int
	tick    *time.Timer // nil with a Config.Clock
	wheelAt int         // the Clock group it is flushed with
	// failed keeps the Clock from skipping a session whose error it must
	// report (OnError).
	failed atomic.Bool
	ticks  int // flushes run (tests)

	pauseTimer  *time.Timer
	pauseDropHi int64 // past the last slot whose packet was dropped for the pause
	err         error
	errReported bool
	detached    bool
	unwatch     func() bool // stops watching the grant's revocation
}

func (s *session) wallSlot(now time.Time) int64 {
	d := now.Sub(s.t0)
	if d < 0 {
		return 0
	}
	return int64(d / SlotDuration)
}

func (s *session) pausedNow() bool {
	return len(s.pauses) > 0 && s.pauses[len(s.pauses)-1].to < 0
}

// paused reports whether slot k is inside a pause.
func (s *session) paused(k int64) bool {
	for i := len(s.pauses) - 1; i >= 0; i-- {
		p := &s.pauses[i]
		if k >= p.from && (p.to < 0 || k < p.to) {
			return true
		}
		if p.to >= 0 && p.to <= k {
			return false
		}
	}
	return false
}

// pausedIn reports whether a slot of [from, to) is inside a pause.
func (s *session) pausedIn(from, to int64) bool {
	for _, p := range s.pauses {
		if p.from < to && (p.to < 0 || p.to > from) && (p.to < 0 || p.from < p.to) {
			return true
		}
	}
	return false
}

func (s *session) endPause(now time.Time) {
	p := &s.pauses[len(s.pauses)-1]
	p.to = max(s.wallSlot(now), s.next, p.from, s.pauseDropHi)
	if s.pauseTimer != nil {
		s.pauseTimer.Stop()
		s.pauseTimer = nil
	}
}

func (s *session) addGap(g Gap) {
	if g.End <= g.Start {
		return
	}
	if len(s.gaps) >= maxGaps {
		s.dropped++
		return
	}
	// Merge with the previous gap of the same leg and reason when adjacent.
	for i := len(s.gaps) - 1; i >= 0 && i >= len(s.gaps)-4; i-- {
		p := &s.gaps[i]
		if p.Leg == g.Leg && p.Reason == g.Reason && p.Actor == g.Actor && p.Note == g.Note && p.End == g.Start {
			p.End = g.End
			return
		}
	}
	s.gaps = append(s.gaps, g)
}

func slotTime(k int64) time.Duration { return time.Duration(k) * SlotDuration }

// onTick writes the slots whose reorder window has passed, so that pages
// reach storage at least every FlushInterval even when every leg is silent.
func (s *session) onTick() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess != s {
		return
	}
	defer s.recoverTick() // a panic ends every leg and the timer, never the process
	s.ticks++
	s.advanceTo(s.frontier(s.wallSlot(r.now())), false)
	if s.err != nil && r.cfg.OnError != nil && !s.errReported {
		// Stop returns it as well; OnError hosts learn it early.
		s.errReported = true
		go r.cfg.OnError(s.err)
	}
	if s.tick != nil {
		s.tick.Reset(tickEvery)
	}
}

// advanceTo writes every slot before to, by pairs (a pair of slots can
// become one 40 ms Ogg packet: half the lacing bytes); with all, a last odd
// slot is written alone, else it waits for its pair.
func (s *session) advanceTo(to int64, all bool) {
	for s.next+1 < to {
		s.emitPair(s.next)
		s.next += 2
	}
	if all && s.next < to {
		var p [2]part
		s.collect(s.next, &p)
		s.writeSlot(&p)
		s.next++
	}
	// Record the pauses whose end has been written.
	for i := range s.pauses {
		p := &s.pauses[i]
		if !p.recorded && p.to >= 0 && p.to <= s.next {
			p.recorded = true
			s.addGap(Gap{Start: slotTime(p.from), End: slotTime(p.to), Reason: GapPause, Actor: p.actor, Note: p.note})
		}
	}
}

// ready reports whether every leg has audio buffered for slot k, so that it
// can be written before its reorder window ends.
func (s *session) ready(k int64) bool {
	n := 0
	for _, l := range s.r.legs {
		if l == nil || !l.tl.anchored {
			return false
		}
		if !l.tl.has(k) {
			return false
		}
		n++
	}
	return n > 0
}

// part is one leg's contribution to a slot: a packet, where the
// self-delimiting length goes (hdr) and its value (last), and its duration.
type part struct {
	p         []byte
	hdr, last int
	samples   int
	packet    bool // a packet the leg sent (counted in LegStats.Packets), not a filler
}

var silencePart = part{p: silence20, hdr: 1, last: 2, samples: slotSamples}

// collect takes every leg's part of slot k.
func (s *session) collect(k int64, parts *[2]part) {
	r := s.r
	paused := s.paused(k)
	for i := range 2 {
		l := r.legs[i]
		switch {
		case paused:
			parts[i] = silencePart
			if l != nil {
				l.tl.closeGap(s, l, k)
				l.tl.drop(k)
				if k < l.tl.coverUntil {
					parts[i] = part{} // covered by a longer packet written before the pause began
				}
			}
		case l == nil || !l.tl.anchored:
			parts[i] = silencePart
			if l != nil && l.closed {
				s.legGap(i, k, GapEnded)
			} else {
				s.legGap(i, k, GapNotStarted)
			}
		default:
			n := l.stats.Packets
			parts[i] = l.tl.take(s, l, k)
			parts[i].packet = l.stats.Packets != n
		}
	}
}

// emitPair writes slots k and k+1: as one 40 ms Ogg packet when every
// stream can join its two frames without transcoding (single 20 ms frames
// with the same TOC), else as two.
func (s *session) emitPair(k int64) {
	s.prefetchPair(k)
	var a, b [2]part
	s.collect(k, &a)
	s.collect(k+1, &b)
	if s.r.dual {
		if joinable(&a[0], &b[0]) && joinable(&a[1], &b[1]) {
			j0, j1 := joined(&a[0], &b[0]), joined(&a[1], &b[1])
			n := j0.size + lenSize(j0.last) + j1.size
			st := s.streams[0]
			if err := st.begin(n); err != nil {
				s.fail(err)
				return
			}
			st.buf = j0.append(st.buf, true)
			st.buf = j1.append(st.buf, false)
			st.end(n, 2*slotSamples)
			st.pk[0] += packets(&a[0], &b[0])
			st.pk[1] += packets(&a[1], &b[1])
			return
		}
		s.writeSlot(&a)
		s.writeSlot(&b)
		return
	}
	for i := range 2 {
		if joinable(&a[i], &b[i]) {
			j := joined(&a[i], &b[i])
			st := s.streams[i]
			if err := st.begin(j.size); err != nil {
				s.fail(err)
				return
			}
			st.buf = j.append(st.buf, false)
			st.end(j.size, 2*slotSamples)
			st.pk[i] += packets(&a[i], &b[i])
			continue
		}
		s.writeMono(i, &a[i])
		s.writeMono(i, &b[i])
	}
}

// prefetchPair starts loading, all at once, the buffers that writing
// slots k and k+1 copies (each leg's two packets, written up to a few
// slots ago and no longer cached at thousands of legs) and the end of the
// page they go to, instead of missing on each in turn.
func (s *session) prefetchPair(k int64) {
	for _, l := range s.r.legs {
		if l == nil {
			continue
		}
		for j := k; j < k+2; j++ {
			if b := l.tl.buf(j); b.slot == j && b.kind != slotEmpty && len(b.data) > 0 {
				prefetch.Line(uintptr(unsafe.Pointer(unsafe.SliceData(b.data))))
			}
		}
	}
	if len(s.streams) > 0 {
		if st := s.streams[0]; len(st.buf) < cap(st.buf) {
			prefetch.Line(uintptr(unsafe.Pointer(unsafe.SliceData(st.buf[len(st.buf):]))))
		}
	}
}

// prefetchEntries starts loading both legs' ring entries of the next two
// slots to write, which deciding whether they can be written reads.
func (s *session) prefetchEntries() {
	for _, l := range s.r.legs {
		if l != nil && len(l.tl.ring) > 0 {
			prefetch.Line(uintptr(unsafe.Pointer(l.tl.buf(s.next))))
			prefetch.Line(uintptr(unsafe.Pointer(l.tl.buf(s.next + 1))))
		}
	}
}

// packets counts the parts that are packets.
func packets(a, b *part) int32 {
	n := int32(0)
	if a.packet {
		n++
	}
	if b.packet {
		n++
	}
	return n
}

// joinable reports whether two consecutive 20 ms parts can form one packet.
func joinable(a, b *part) bool {
	return a.samples == slotSamples && b.samples == slotSamples && len(a.p) > 0 && a.p[0]&3 == 0 && b.p[0] == a.p[0]
}

// join is two single-frame packets sharing a TOC, joined as code 1 (equal
// sizes) or code 2: the same bytes as the two packets, one packet less.
type join struct {
	toc      byte
	f0, f1   []byte
	size     int // undelimited
	last     int // the self-delimiting length
	cbr      bool
	lenBytes int
}

func joined(a, b *part) join {
	j := join{toc: a.p[0], f0: a.p[1:], f1: b.p[1:]}
	j.last = len(j.f1)
	j.cbr = len(j.f0) == len(j.f1)
	if !j.cbr {
		j.lenBytes = lenSize(len(j.f0))
	}
	j.size = 1 + j.lenBytes + len(j.f0) + len(j.f1)
	return j
}

func (j *join) append(dst []byte, sd bool) []byte {
	if j.cbr {
		dst = append(dst, j.toc|1)
	} else {
		dst = append(dst, j.toc|2)
		dst = appendLen(dst, len(j.f0))
	}
	if sd {
		dst = appendLen(dst, j.last)
	}
	dst = append(dst, j.f0...)
	return append(dst, j.f1...)
}

// writeSlot writes one 20 ms slot of every file.
func (s *session) writeSlot(parts *[2]part) {
	if s.r.dual {
		// selfdelimited(customer) || agent, built in the page buffer.
		p0, p1 := &parts[0], &parts[1]
		n := len(p0.p) + lenSize(p0.last) + len(p1.p)
		st := s.streams[0]
		if err := st.begin(n); err != nil {
			s.fail(err)
			return
		}
		st.buf = append(st.buf, p0.p[:p0.hdr]...)
		st.buf = appendLen(st.buf, p0.last)
		st.buf = append(st.buf, p0.p[p0.hdr:]...)
		st.buf = append(st.buf, p1.p...)
		st.end(n, slotSamples)
		if p0.packet {
			st.pk[0]++
		}
		if p1.packet {
			st.pk[1]++
		}
		return
	}
	for i := range parts {
		s.writeMono(i, &parts[i])
	}
}

func (s *session) writeMono(i int, p *part) {
	if p.samples == 0 { // covered by a longer packet
		return
	}
	st := s.streams[i]
	if err := st.add(p.p, p.samples); err != nil {
		s.fail(err)
		return
	}
	if p.packet {
		st.pk[i]++
	}
}

func (s *session) fail(err error) {
	if s.err == nil {
		s.err = err
		s.failed.Store(true)
	}
}

// failAsync fails the session from a writing goroutine.
func (s *session) failAsync(err error) {
	s.r.mu.Lock()
	s.fail(err)
	s.r.mu.Unlock()
}

// queuePage queues a copy of the page of st that starts at st.buf[start:]
// (its header filled but for the CRC) for the session's Writers; st builds
// the next page in its buffer. If the queue is full, the page is dropped:
// a silence run stands for it (see Writers), counted in the legs' stats
// and the gap index. Called with the recorder's lock held.
func (s *session) queuePage(st *oggStream, start int) {
	p, q, i := s.pool, &s.q, st.idx
	h := st.buf[start:]
	n := int64(qbufSize(len(h)))
	st.buf = st.buf[:pageReserve]
	p.mu.Lock()
	if q.err[i] != nil || q.cancelled {
		// The file failed (Stop reports it): its pages are no longer written.
		p.mu.Unlock()
		st.seq++
		return
	}
	if p.queued+n <= p.limit() && q.bytes+n <= p.recordingLimit() {
		op := p.newOp()
		op.kind, op.stream = opPage, i
		op.buf = append(p.getBuf(len(h)), h...)
		n = int64(cap(op.buf)) // what the workers subtract
		q.bytes += n
		p.queued += n
		p.stats.MaxQueued = max(p.stats.MaxQueued, p.queued)
		q.run[i] = nil // a page follows the run: it can no longer grow
		p.push(q, op)
		p.mu.Unlock()
		st.seq++
		return
	}
	run := q.run[i]
	if run == nil {
		run = p.newOp()
		run.kind, run.stream, run.seq, run.from = opSilence, i, st.seq, st.pageStart
		p.push(q, run)
		q.run[i] = run
	}
	run.to = st.granule
	st.seq = run.seq + uint32(silencePages(run.to-run.from))
	p.stats.Dropped++
	p.mu.Unlock()
	s.overloaded(st)
}

// overloaded accounts for the page of st dropped for overload (the page
// being built: pageStart to granule).
func (s *session) overloaded(st *oggStream) {
	from, to := st.pageStart/slotSamples, st.granule/slotSamples
	var leg Role // dual: every leg
	if !s.r.dual {
		leg = []Role{Customer, Agent}[st.idx]
	}
	for i, l := range s.r.legs {
		if l == nil || (!s.r.dual && i != int(st.idx)) {
			continue
		}
		l.stats.Overload += to - from
		l.stats.Packets -= int64(st.pk[i])
	}
	s.addGap(Gap{Start: slotTime(from), End: slotTime(to), Leg: leg, Reason: GapOverload,
		Note: "write queue full: the store could not keep up"})
}

func lenSize(n int) int {
	if n < 252 {
		return 1
	}
	return 2
}

// legGap records that leg i has no audio in slot k for reason (not-started
// or ended spans, which are known when written).
func (s *session) legGap(i int, k int64, reason GapReason) {
	role := Customer
	if i == 1 {
		role = Agent
	}
	s.addGap(Gap{Start: slotTime(k), End: slotTime(k + 1), Leg: role, Reason: reason})
}

// detach ends the session under the recorder's lock: it closes open gaps,
// stops timers and returns what each file's Finalize needs.
func (s *session) detach() []Final {
	r := s.r
	s.detached = true
	if s.unwatch != nil {
		s.unwatch()
	}
	if s.tick != nil {
		s.tick.Stop()
	}
	if r.cfg.Clock != nil {
		r.cfg.Clock.remove(s)
	}
	if s.pauseTimer != nil {
		s.pauseTimer.Stop()
	}
	if s.pausedNow() {
		s.pauses[len(s.pauses)-1].to = s.next
	}
	// Records pauses; a file holds at least one slot (a fault in the
	// first slot Stop wrote left none: its stream gets a slot of silence
	// when closed, which the duration must count).
	s.advanceTo(max(s.next, 1), true)
	var stats [2]LegStats
	for i, l := range r.legs {
		stats[i] = LegStats{Role: []Role{Customer, Agent}[i]}
		if l != nil {
			l.tl.finish(s, l, s.next)
			stats[i] = l.stats
		}
	}
	r.sess = nil
	slices.SortStableFunc(s.gaps, func(a, b Gap) int { return cmp.Compare(a.Start, b.Start) })
	dur := time.Duration(s.next*slotSamples-preSkip) * time.Second / 48000
	if r.cfg.Layout == LayoutDual {
		return []Final{{Duration: dur, Gaps: s.gaps, GapsDropped: s.dropped, Legs: stats[:]}}
	}
	var f [2]Final
	for i := range 2 {
		f[i] = Final{Duration: dur, Legs: []LegStats{stats[i]}}
		role := stats[i].Role
		for _, g := range s.gaps {
			if g.Leg == "" || g.Leg == role {
				f[i].Gaps = append(f[i].Gaps, g)
			}
		}
		f[i].GapsDropped = s.dropped
	}
	return f[:]
}

// abort removes the files of a session that failed to start.
func (s *session) abort(ctx context.Context) {
	for _, w := range s.writers {
		_ = w.Abort(ctx)
	}
}

// checkpoint queues a checkpoint of every file (Writer.Sync, then
// Checkpointer.Checkpoint where the store can): the pauses (ended or not)
// and the gaps so far become durable in each file's metadata once the pages
// queued before are written. Called under the recorder's lock. An error
// fails the recording (Stop and Config.OnError report it).
func (s *session) checkpoint() {
	can := false
	for _, w := range s.writers {
		if _, ok := w.(Checkpointer); ok {
			can = true
		}
	}
	if !can {
		return
	}
	var gaps []Gap
	for _, g := range s.gaps {
		if g.Reason == GapPause {
			continue
		}
		gaps = append(gaps, g)
	}
	for _, p := range s.pauses {
		g := Gap{Start: slotTime(p.from), Reason: GapPause, Actor: p.actor, Note: p.note}
		if p.to >= 0 {
			g.End = slotTime(p.to)
		}
		gaps = append(gaps, g) // End 0: still paused
	}
	fins := make([]Final, len(s.writers))
	for i := range s.writers {
		f := Final{Duration: slotTime(s.next), Gaps: gaps}
		if !s.r.dual {
			role := []Role{Customer, Agent}[i]
			f.Gaps = nil
			for _, g := range gaps {
				if g.Leg == "" || g.Leg == role {
					f.Gaps = append(f.Gaps, g)
				}
			}
		}
		fins[i] = f
	}
	p := s.pool
	p.mu.Lock()
	op := p.newOp()
	op.kind, op.fin = opCheckpoint, fins
	p.push(&s.q, op)
	p.mu.Unlock()
}
