package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/consentrec/consentrec/audit"
	"github.com/pion/rtp"
)

// ErrLegFailed: a leg was ended by an internal fault (a recovered panic in
// its packet processing or in its Source). The errors returned for it are
// *LegFault values wrapping ErrLegFailed.
var ErrLegFailed = errors.New("leg failed")

// LegFault describes the internal fault that ended a leg. No packet can
// panic the process: a panic while a leg's packet is processed (RTP and
// Opus parsing, telephone-events, the reorder buffer and timeline, the
// slots it makes the recorder write) or inside its Source's ReadRTP under
// Consume is recovered, and only that leg ends:
//
//   - the leg is closed, as if the party had hung up: from then on its
//     channel holds silence ("ended" in the gap index) and WriteRTP returns
//     ErrClosed; the slots it had buffered but not written are dropped;
//   - LegStats.Panics counts it;
//   - it is logged (slog.Default, level Error, with the stack) and audited
//     as an audit.KindIntegrityFailure event with the reason "leg-panic"
//     for each file of the recording in progress;
//   - the other leg keeps recording, and Stop finalizes the files as
//     usual: they hold everything written before the fault, and the page
//     being built is trimmed back to its last whole packet.
//
// WriteRTP and Consume return the *LegFault of the packet that failed.
// A panic in the recorder's timer (which writes the slots of every leg)
// ends every leg the same way and stops the timer; the files are
// finalized by Stop.
type LegFault struct {
	Role  Role
	Value string // the panic value, formatted
	Stack []byte // the goroutine's stack at the panic
}

func (f *LegFault) Error() string {
	return fmt.Sprintf("recorder: %s leg: %v: panic: %s", f.Role, ErrLegFailed, f.Value)
}

// Unwrap returns ErrLegFailed.
func (f *LegFault) Unwrap() error { return ErrLegFailed }

// faultHook, when set (by tests only), is called at the named points of a
// leg's packet path with the recorder's lock held: a panic it raises stands
// for a bug reached by a packet.
// It is atomic: the timer's goroutine reads it.
var faultHook atomic.Pointer[func(point string, l *Leg, p *rtp.Packet)]

// injectFault calls the test hook, if any.
func injectFault(point string, l *Leg, p *rtp.Packet) {
	if h := faultHook.Load(); h != nil {
		(*h)(point, l, p)
	}
}

// fault ends leg l after the panic v, with the recorder's lock held. It
// leaves the session in a state that can go on being written: the leg's
// timeline is emptied, and each stream's page trimmed back to its last
// whole packet (a panic may strike between a packet's bytes and its
// lacing).
func (l *Leg) fault(v any) *lockedFault {
	f := &LegFault{Role: l.cfg.Role, Value: fmt.Sprint(v), Stack: debug.Stack()}
	l.closed = true
	l.stats.Panics++
	lf := &lockedFault{LegFault: f}
	s := l.r.sess
	if s == nil {
		return lf
	}
	lf.ids = append(lf.ids, s.ids...)
	for _, st := range s.streams {
		st.repair()
	}
	// Keep only what says which slots the leg already covered: from the
	// frontier on, its channel is "ended".
	cover := max(l.tl.coverUntil, s.next)
	l.tl.reset()
	l.tl.anchored = true
	l.tl.coverUntil = cover
	l.tl.hiSlot = s.next - 1
	return lf
}

// lockedFault is a fault noted under the lock, reported after it.
type lockedFault struct {
	*LegFault
	ids []string
}

// report logs and audits a fault, without the recorder's lock.
func (r *Recorder) report(lf *lockedFault) {
	slog.Default().Error("recorder: leg ended by an internal fault",
		"call_id", r.cfg.CallID, "role", string(lf.Role), "panic", lf.Value, "stack", string(lf.Stack))
	for _, id := range lf.ids {
		e := r.event(audit.KindIntegrityFailure, id, "system", "leg-panic",
			audit.Attr{Key: "leg", Value: string(lf.Role)}, audit.Attr{Key: "panic", Value: lf.Value})
		if _, err := r.cfg.Audit.Append(context.Background(), e); err != nil {
			r.asyncErr(fmt.Errorf("recorder: leg fault: audit: %w", err))
		}
	}
}

// readGuarded reads src; a panic in ReadRTP ends the leg.
func (l *Leg) readGuarded(src Source) (p *rtp.Packet, err error) {
	defer func() {
		if v := recover(); v != nil {
			r := l.r
			r.mu.Lock()
			lf := l.fault(v)
			r.mu.Unlock()
			r.report(lf)
			p, err = nil, fmt.Errorf("recorder: consume: source: %w", lf.LegFault)
		}
	}()
	p, _, err = src.ReadRTP()
	return p, err
}

// recoverTick is deferred by the timer's slot writing (under the lock): a
// panic there cannot be told to one leg, so it ends every leg, and the
// timer stops (Stop writes the rest).
func (s *session) recoverTick() {
	v := recover()
	if v == nil {
		return
	}
	r := s.r
	var faults []*lockedFault
	for _, l := range r.legs {
		if l != nil {
			faults = append(faults, l.fault(v))
		}
	}
	if len(faults) == 0 {
		for _, st := range s.streams {
			st.repair()
		}
	}
	go func() {
		for _, lf := range faults {
			r.report(lf)
		}
	}()
}

// drainGuarded writes the slots up to end (or past it, to the end of a
// long packet already written) and detaches the session (Stop).
// A panic on the way ends every leg; the session is then written to its
// frontier with every leg silent, and detached.
func (s *session) drainGuarded(end int64) (finals []Final, faults []*lockedFault) {
	defer func() {
		if v := recover(); v != nil {
			for _, l := range s.r.legs {
				if l != nil {
					faults = append(faults, l.fault(v))
				}
			}
			finals = s.detach() // every leg is now silent: nothing left to fault
		}
	}()
	s.advanceTo(end, true)
	// A 40 or 60 ms packet written last (mono) covers slots past the
	// frontier: the recording ends after them, so that every file lasts
	// as long as its metadata says.
	for _, l := range s.r.legs {
		if l != nil && l.tl.coverUntil > s.next {
			s.advanceTo(l.tl.coverUntil, true)
		}
	}
	return s.detach(), nil
}

// repair trims the page being built back to its last whole packet: the
// bytes after the packets its lacing values describe are dropped.
func (s *oggStream) repair() {
	m := s.nseg
	for m > 0 && s.lacing[m-1] == 255 {
		m-- // a packet whose last lacing value was not written
	}
	body, npk := 0, 0
	for _, v := range s.lacing[:m] {
		body += int(v)
		if v < 255 {
			npk++
		}
	}
	if pageReserve+body > len(s.buf) {
		// Lacing ahead of the data: the page cannot be trusted; stop the
		// stream here (Stop reports the error, the file is not finalized).
		if s.err == nil {
			s.err = fmt.Errorf("recorder: ogg page inconsistent after a fault: %w", ErrLegFailed)
		}
		return
	}
	s.buf = s.buf[:pageReserve+body]
	s.nseg, s.npk = m, npk
}
