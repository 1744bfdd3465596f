package recorder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

// More sentinel errors.
var (
	// ErrConfig: a Config or LegConfig that cannot work (no store, no
	// audit appender, an unknown purpose, a bad role...).
	ErrConfig = errors.New("invalid recorder configuration")
	// ErrState: a control call that does not fit the recorder's state
	// (Start while recording, Pause while not recording, ...).
	ErrState = errors.New("invalid recorder state")
)

// Defaults of Config.
const (
	DefaultReorderWindow = 60 * time.Millisecond
	MaxReorderWindow     = 200 * time.Millisecond
	// DefaultMaxPause is how long a pause lasts at most by default (R22):
	// long enough to read out a card number and its code, short enough
	// that a forgotten pause does not silence the rest of the call.
	DefaultMaxPause = 3 * time.Minute
	// MaxMaxPause bounds Config.MaxPause: a pause always ends (R22).
	MaxMaxPause = 10 * time.Minute
	// DefaultMaxBurst is how far ahead of the wall clock a leg's packets
	// may arrive by default (see Config.MaxBurst): ffmpeg -re sends 256 ms
	// at once, SIP media servers and jittery networks up to about a second.
	DefaultMaxBurst = time.Second
	// MaxMaxBurst bounds Config.MaxBurst (a leg buffers that much audio
	// during a burst: about 80 KiB for 10 s at 51 kbit/s).
	MaxMaxBurst = 10 * time.Second
	// SlotDuration is the unit of the timeline: every file is a sequence
	// of 20 ms slots, each holding a leg's audio or a filler.
	SlotDuration = 20 * time.Millisecond
	// FlushInterval bounds the audio a crash can lose: pages are queued
	// for writing at least this often (plus the reorder window, plus up to
	// MaxBurst while a leg is silent without a sign of DTX; see Writers
	// for the queue).
	FlushInterval = time.Second
)

const (
	slotSamples    = 960
	ringSize       = 16  // per-leg slots buffered ahead of the write frontier at steady state (a burst or a stall of the other leg grows the ring)
	slotArena      = 128 // bytes per slot in a leg's arena (a 20 ms packet up to 51 kbit/s: the speech fixture's largest is 103 bytes)
	driftAhead     = 10  // a leg ahead of the wall clock by more than this for two lead periods is fast: it slips
	driftBehind    = 2   // a leg whose least delayed packets are behind by more than this for two lead periods is slow: it slips
	minPeriod      = 100 // slots: the shortest lead period (2 s); a period is at least twice the longest burst
	aheadShift     = 3   // paced packets ahead in a row that move a leg earlier in its first MaxBurst
	lateSlip       = 3   // consecutive packets after the frontier (which waited MaxBurst) that re-align the leg
	plcSlots       = 3   // missing slots filled with concealment before silence
	maxPacketSlots = 6   // the slots an Opus packet can span (120 ms)
	maxGaps        = 10000
	tickEvery      = 250 * time.Millisecond
)

// Config configures a Recorder: one call. The zero value is not usable:
// CallID, Store and Audit are required (a recording is never made without
// its audit trail). What a recording is for (purpose, lawful basis,
// retention, policy version) comes from the policy.Grant given to Start:
// nothing is recorded without one.
type Config struct {
	CallID string // the host's opaque call id (no personal data)
	// Purpose, when set, pins the recorder to one purpose: Start refuses
	// a grant for another. Zero: the grant's purpose.
	Purpose policy.Purpose
	// PolicyVersion is ignored: the grant carries the version of the
	// policy that allowed recording. Kept so older configurations compile.
	PolicyVersion string
	// Subject is the keyed hash of the caller (policy.SubjectKey), kept in
	// the recording's Meta so that a recording finalized by crash recovery
	// is still catalogued under its subject (erasure finds it). Empty:
	// unknown. Never a phone number: New refuses anything else.
	Subject string
	Layout  Layout         // zero: LayoutDual
	Store   Store          // where recordings go
	Audit   audit.Appender // where recording events go (started, paused, ...)

	// ReorderWindow is how long a 20 ms slot waits for late or reordered
	// packets before it is written. Zero: DefaultReorderWindow; at most
	// MaxReorderWindow.
	ReorderWindow time.Duration
	// MaxBurst is how far ahead of the wall clock a leg's packets may
	// arrive (a sender's burst: ffmpeg -re, a media server, a network
	// releasing queued packets) and still be placed by their timestamps,
	// buffered until their time comes; and how long the writing waits for
	// a leg that went silent without a sign of DTX (a sender stall), whose
	// backlog is then written at its slots: a stall of up to MaxBurst never
	// shifts a leg nor loses a packet. Zero: DefaultMaxBurst; at most
	// MaxMaxBurst. The wait costs latency (pages reach storage up to
	// MaxBurst later while a leg is silent) and memory (the other leg's
	// buffer grows to hold MaxBurst, about 11 KiB at 1 s, and shrinks back
	// a few seconds after), never audio. A packet further ahead (a
	// timestamp jump), or packets later than MaxBurst three times in a row,
	// re-align the leg at once (a slip). In a leg's first MaxBurst, packets
	// arriving paced and ahead by more than the reorder window three times
	// in a row, at a steady lead, move it earlier (its first packets were
	// late: a backlog); a leg whose lead fell back by more than the window
	// after running ahead bursts (ffmpeg -re) and never moves. So that such
	// a backlog, of up to MaxBurst, is written at its slots, aligned with
	// the other leg, and not dropped as late, the writing holds back by
	// MaxBurst before a leg's first packet (while the other leg speaks, or
	// in the recording's first MaxBurst) and at its start, until its
	// packets came paced and on time five times in a row (100 ms for a leg
	// that starts on time) or its first MaxBurst passed: pages reach
	// storage up to twice MaxBurst later then, and both legs' buffers may
	// grow (up to about 18 KiB at 1 s) until a few seconds after; a leg's
	// first packets later than MaxBurst lose their excess, counted as
	// late. Nothing of this is paid once every leg started.
	// Clock drift moves the least delay steadily: a leg that stays more
	// than 200 ms ahead for two periods of max(2 s, 2×MaxBurst) has a fast
	// clock and slips 20 ms at a time back to 200 ms ahead; one whose least
	// delayed packets stay more than 40 ms behind for two periods has a
	// slow clock and gains a 20 ms filler at a time.
	MaxBurst time.Duration
	// MaxPause is the longest pause (R22): past it the recording resumes
	// by itself (actor "system", reason "max-pause"). Zero:
	// DefaultMaxPause (3 minutes); at most MaxMaxPause (10 minutes). A
	// negative value (no limit) is refused with ErrConfig: a forgotten
	// pause must end.
	MaxPause time.Duration
	// OnDTMF receives the telephone-events of every leg. It is called
	// synchronously from WriteRTP, without the recorder's lock; it must not
	// block. Nil: events are counted and dropped. Events are masked
	// (DTMF.Masked, Event and Digit zero) unless ClearDTMF is set (R23).
	OnDTMF func(DTMF)
	// ClearDTMF is why the host needs the keys in clear, e.g. "ivr-menu",
	// or "objection-key" for a host that reads the caller's objection or
	// consent key from OnDTMF (R23: key presses may be card digits; PCI
	// DSS 3.4.1). Empty, the
	// default: OnDTMF only learns that a key was pressed, never which. Set:
	// keys pressed outside a pause reach OnDTMF in clear (keys pressed
	// during a pause stay masked), and the first key delivered in clear
	// appends one audit.KindDTMFClear event with this reason; if that
	// append fails, keys stay masked (and OnError is told) until one
	// succeeds. At most 64 printable characters.
	ClearDTMF string
	// OnError receives asynchronous errors (a failed write during a timer
	// flush, a failed audit append on an automatic resume). Nil: the error
	// is returned by the next Stop.
	OnError func(error)
	// Clock, when set, flushes this call's recordings from a timer shared
	// by every Recorder given the same Clock (NewClock) instead of a timer
	// of its own: for hosts recording thousands of calls. Nil: a timer per
	// Recorder.
	Clock *Clock
	// Writers, when set, writes this call's pages to Store, off the media
	// path, with the goroutines and the bounded queue it shares with every
	// Recorder given the same Writers. Nil: the Clock's Writers when Clock
	// is set, else the process's (both with the defaults of Writers).
	Writers *Writers
	// Now returns the current time; nil means time.Now. For simulations and
	// benchmarks; tests use testing/synctest instead.
	Now func() time.Time
}

// Recorder records one call: its legs (at most one customer and one agent)
// to one dual-channel file, or to one mono file per leg, each time recording
// is started. Every method may be called concurrently.
type Recorder struct {
	// Hot fields first: one cache line for the per-packet path (the
	// struct's size is a multiple of 64 bytes, so that the allocator
	// aligns it on a line: TestRecorderHotLine).
	mu     sync.Mutex
	dual   bool
	window int64 // slots
	burst  int64 // slots: Config.MaxBurst
	period int64 // slots: the lead period of fast-clock detection
	legs   [2]*Leg
	sess   *session
	now    func() time.Time

	ctl      sync.Mutex // serialises Start, Stop, Discard and Close (not the packet path)
	cfg      Config
	made     []string // ids of every file this recorder created (Discard removes them)
	closed   bool
	starting bool
	err      error        // sticky asynchronous error, returned by Stop
	grant    policy.Grant // the grant of the recording in progress (or the last one)

	clearMu      sync.Mutex  // serialises the KindDTMFClear append
	clearAudited atomic.Bool // the KindDTMFClear event is in the log (R23)

	_ [recorderPad]byte
}

// recorderPad pads Recorder to a multiple of 64 bytes on 64-bit platforms
// (TestRecorderHotLine says by how much when its fields change).
const recorderPad = 40

// ErrGrant: Start was given no grant, a revoked or spent one, one for
// another call, or one for another purpose than Config.Purpose. It wraps
// the policy's reason (policy.ErrNoGrant, policy.ErrRevoked,
// policy.ErrForeignGrant).
var ErrGrant = errors.New("recording not granted")

func validSubject(s string) bool {
	const prefix = "sk1:"
	if len(s) != len(prefix)+64 || s[:len(prefix)] != prefix {
		return false
	}
	for _, c := range s[len(prefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MaxCallIDLen is the longest call id a recording may carry (the
// retention catalog's limit).
const MaxCallIDLen = 1024

// New returns a Recorder for one call. It records nothing until Start.
func New(cfg Config) (*Recorder, error) {
	switch {
	case cfg.CallID == "":
		return nil, fmt.Errorf("recorder: no call id: %w", ErrConfig)
	case len(cfg.CallID) > MaxCallIDLen:
		// A longer id could not be catalogued (retention refuses it), so the
		// recording would never expire: refuse it before anything is captured.
		return nil, fmt.Errorf("recorder: call id of %d bytes, at most %d: %w", len(cfg.CallID), MaxCallIDLen, ErrConfig)
	case cfg.Purpose != "" && !cfg.Purpose.Valid():
		return nil, fmt.Errorf("recorder: purpose %q: %w", cfg.Purpose, ErrConfig)
	case cfg.Subject != "" && !validSubject(cfg.Subject):
		return nil, fmt.Errorf("recorder: subject is not a keyed hash (policy.SubjectKey): %w", ErrConfig)
	case cfg.Store == nil:
		return nil, fmt.Errorf("recorder: no store: %w", ErrConfig)
	case cfg.Audit == nil:
		return nil, fmt.Errorf("recorder: no audit appender: %w", ErrConfig)
	case cfg.ReorderWindow < 0 || cfg.ReorderWindow > MaxReorderWindow:
		return nil, fmt.Errorf("recorder: reorder window %v: %w", cfg.ReorderWindow, ErrConfig)
	case cfg.MaxBurst < 0 || cfg.MaxBurst > MaxMaxBurst:
		return nil, fmt.Errorf("recorder: max burst %v: %w", cfg.MaxBurst, ErrConfig)
	case cfg.MaxPause < 0 || cfg.MaxPause > MaxMaxPause:
		return nil, fmt.Errorf("recorder: max pause %v: between 0 (the default, %v) and %v, a pause always ends (R22): %w", cfg.MaxPause, DefaultMaxPause, MaxMaxPause, ErrConfig)
	case len(cfg.ClearDTMF) > 64 || !utf8.ValidString(cfg.ClearDTMF) || strings.ContainsFunc(cfg.ClearDTMF, unicode.IsControl) ||
		(cfg.ClearDTMF != "" && strings.TrimSpace(cfg.ClearDTMF) == ""):
		return nil, fmt.Errorf("recorder: clear DTMF reason %q: a name of up to 64 printable characters, e.g. \"ivr-menu\" (R23): %w", cfg.ClearDTMF, ErrConfig)
	}
	if cfg.Layout == "" {
		cfg.Layout = LayoutDual
	}
	if cfg.Layout != LayoutDual && cfg.Layout != LayoutMono {
		return nil, fmt.Errorf("recorder: layout %q: %w", cfg.Layout, ErrConfig)
	}
	if cfg.ReorderWindow == 0 {
		cfg.ReorderWindow = DefaultReorderWindow
	}
	if cfg.MaxPause == 0 {
		cfg.MaxPause = DefaultMaxPause
	}
	if cfg.MaxBurst == 0 {
		cfg.MaxBurst = DefaultMaxBurst
	}
	r := &Recorder{cfg: cfg, now: cfg.Now, dual: cfg.Layout == LayoutDual}
	if r.now == nil {
		r.now = time.Now
	}
	r.window = int64((cfg.ReorderWindow + SlotDuration - 1) / SlotDuration)
	r.burst = int64((cfg.MaxBurst + SlotDuration - 1) / SlotDuration)
	r.period = max(2*r.burst, minPeriod)
	return r, nil
}

func roleIndex(r Role) int {
	if r == Agent {
		return 1
	}
	return 0
}

// AddLeg adds a leg to the call. A leg may be added before or during a
// recording; until its first packet its channel holds silence ("not-started"
// in the gap index).
func (r *Recorder) AddLeg(cfg LegConfig) (*Leg, error) {
	if !cfg.Role.Valid() {
		return nil, fmt.Errorf("recorder: add leg: role %q: %w", cfg.Role, ErrConfig)
	}
	if cfg.DTMFClockRate == 0 {
		cfg.DTMFClockRate = 8000
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("recorder: add leg: %w", ErrClosed)
	}
	i := roleIndex(cfg.Role)
	if r.legs[i] != nil {
		return nil, fmt.Errorf("recorder: add leg: a %s leg exists: %w", cfg.Role, ErrConfig)
	}
	l := &Leg{r: r, idx: i, cfg: cfg, opusPT: int(cfg.OpusPT), dtmfPT: cfg.DTMFPT}
	if cfg.OpusPT == 0 {
		l.opusPT = -1
	}
	r.legs[i] = l
	if r.sess != nil {
		l.tl.reset()
		l.stats = LegStats{Role: cfg.Role}
		// Its first packets may be a backlog: the writing holds back from
		// now on (see session.hold), not from its first packet only.
		r.sess.settled = false
	}
	return l, nil
}

// Recording returns the id of the recording in progress (for a mono layout,
// its group id), or "" when not recording.
func (r *Recorder) Recording() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess == nil {
		return ""
	}
	return r.sess.group
}

// Paused reports whether the recording in progress is paused.
func (r *Recorder) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sess != nil && r.sess.pausedNow()
}

func newGroupID(t time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "rec-" + t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// eventAt is an event stamped at t, an instant of the recording's timeline
// (its start, where a pause begins or ends, its end), so that the audit log
// and the gap index tell the same pause; the wall-clock instant the event
// was logged is kept in the "wall" attribute.
func (r *Recorder) eventAt(t time.Time, k audit.Kind, id, actor, reason string, attrs ...audit.Attr) audit.Event {
	e := r.event(k, id, actor, reason, attrs...)
	e.Attrs = append(e.Attrs, audit.Attr{Key: "wall", Value: e.Time.Format(time.RFC3339Nano)})
	e.Time = t.UTC()
	return e
}

func (r *Recorder) event(k audit.Kind, id, actor, reason string, attrs ...audit.Attr) audit.Event {
	r.mu.Lock()
	g := r.grant
	r.mu.Unlock()
	return audit.Event{
		Kind: k, Time: r.now().UTC(), CallID: r.cfg.CallID, RecordingID: id, Actor: actor, Reason: reason,
		Purpose: string(g.Purpose()), PolicyVersion: g.PolicyVersion(), Attrs: attrs,
	}
}

// Start starts a new recording under grant g and returns its id (for a
// mono layout, the group id shared by the legs' files). g must be valid for
// this call (policy.Call.Grant mints it once the caller was told and nothing
// stands in the way); a zero, revoked, spent or foreign grant is refused
// with an error wrapping ErrGrant, and nothing is recorded. The recording's
// purpose, lawful basis, retention, deadline and policy version come from g
// and are kept in its Meta. When g is revoked (the caller objects, consent
// is withdrawn, the agent stops, the call ends) the recording stops at once
// (actor "policy"), finalized with what it had; the host then discards it
// if the decision says Purge.
//
// The started event is appended to the audit log before any audio is
// written; if it cannot be, nothing is recorded. A call may be recorded
// again after Stop, with a grant that is still (or again) valid.
func (r *Recorder) Start(ctx context.Context, g policy.Grant, actor string) (string, error) {
	if err := g.Check(r.cfg.CallID); err != nil {
		return "", fmt.Errorf("recorder: start: %w: %w", ErrGrant, err)
	}
	if r.cfg.Purpose != "" && g.Purpose() != r.cfg.Purpose {
		return "", fmt.Errorf("recorder: start: grant for %s, recorder for %s: %w", g.Purpose(), r.cfg.Purpose, ErrGrant)
	}
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", fmt.Errorf("recorder: start: %w", ErrClosed)
	}
	if r.sess != nil || r.starting {
		r.mu.Unlock()
		return "", fmt.Errorf("recorder: start: already recording: %w", ErrState)
	}
	r.starting = true
	r.grant = g
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.starting = false
		r.mu.Unlock()
	}()

	group := newGroupID(r.now())
	s := &session{r: r, group: group}
	var roles [][]Role
	if r.cfg.Layout == LayoutDual {
		s.ids = []string{group}
		roles = [][]Role{{Customer, Agent}}
	} else {
		s.ids = []string{group + "-" + string(Customer), group + "-" + string(Agent)}
		roles = [][]Role{{Customer}, {Agent}}
	}
	// Slot 0 is the instant Start began, before the store and the audit
	// log are called (they may take hundreds of milliseconds): its Meta
	// carries it (Origin), so the host can turn gap offsets into wall times.
	// Packets arriving while Start runs are not recorded: their slots hold
	// silence ("not-started").
	t0 := r.now()
	for i, id := range s.ids {
		m := Meta{
			ID: id, Group: group, CallID: r.cfg.CallID, Purpose: g.Purpose(), Origin: t0.UTC(),
			PolicyVersion: g.PolicyVersion(), Layout: r.cfg.Layout, Channels: roles[i],
			LawfulBasis: g.LawfulBasis(), Retention: g.Retention(), Deadline: g.Deadline(),
			Subject: r.cfg.Subject, Evidence: g.Receipts(), KeepUntil: g.KeepUntil(), AccessRoles: g.AccessRoles(),
		}
		w, err := r.cfg.Store.Create(ctx, m)
		if err != nil {
			s.abort(ctx)
			return "", fmt.Errorf("recorder: start: %w", err)
		}
		s.writers = append(s.writers, w)
		st := newOggStream(w, serialOf(id), len(roles[i]), pageBodyCap(len(roles[i])))
		if err := st.writeHeader(opusHead(len(roles[i])), flagBOS); err != nil {
			s.abort(ctx)
			return "", fmt.Errorf("recorder: start: %w", err)
		}
		if err := st.writeHeader(opusTags("consentrec", r.tags(id, roles[i])), 0); err != nil {
			s.abort(ctx)
			return "", fmt.Errorf("recorder: start: %w", err)
		}
		s.streams = append(s.streams, st)
	}
	for _, id := range s.ids {
		e := r.eventAt(t0, audit.KindRecordingStarted, id, actor, "",
			audit.Attr{Key: "layout", Value: string(r.cfg.Layout)}, audit.Attr{Key: "group", Value: group})
		if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
			s.abort(ctx)
			return "", fmt.Errorf("recorder: start: audit: %w", err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		s.abort(ctx)
		return "", fmt.Errorf("recorder: start: %w", ErrClosed)
	}
	s.t0 = t0
	// From now on pages go through the queue: the packet path never
	// waits for the store.
	s.pool = r.writers()
	s.q.s = s
	for i, st := range s.streams {
		st.sess, st.idx = s, uint8(i)
	}
	for _, l := range r.legs {
		if l != nil {
			l.tl.reset()
			l.stats = LegStats{Role: l.cfg.Role}
		}
	}
	r.made = append(r.made, s.ids...)
	r.sess = s
	if r.cfg.Clock != nil {
		r.cfg.Clock.add(s)
	} else {
		s.tick = time.AfterFunc(tickEvery, s.onTick)
	}
	s.unwatch = g.AfterRevoke(func(cause error) { r.revoked(s, cause) })
	return group, nil
}

// writers returns the Writers of the recorder's pages.
func (r *Recorder) writers() *Writers {
	switch {
	case r.cfg.Writers != nil:
		return r.cfg.Writers
	case r.cfg.Clock != nil:
		return &r.cfg.Clock.writers
	}
	return &processWriters
}

// Files returns the ids of every file this recorder created and did not
// discard, in the order they were made (for a mono layout, one per leg of
// each Start): what a host catalogues once the call is over.
func (r *Recorder) Files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.made)
}

// CallID returns the call id the recorder was configured with.
func (r *Recorder) CallID() string { return r.cfg.CallID }

// Purpose returns Config.Purpose: the purpose the recorder is pinned to, or
// "" when it takes the grant's.
func (r *Recorder) Purpose() policy.Purpose { return r.cfg.Purpose }

// revoked stops recording session s because its grant was revoked.
func (r *Recorder) revoked(s *session, cause error) {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	current := r.sess == s
	r.mu.Unlock()
	if !current {
		return
	}
	if _, err := r.stop(context.Background(), "policy"); err != nil {
		r.asyncErr(fmt.Errorf("recorder: grant revoked (%v): %w", cause, err))
	}
}

func serialOf(id string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return h
}

// tags are the OpusTags comments: ids and the layout, never personal data.
func (r *Recorder) tags(id string, roles []Role) []string {
	t := []string{
		"CONSENTREC_RECORDING_ID=" + id,
		"CONSENTREC_CALL_ID=" + r.cfg.CallID,
		"CONSENTREC_PURPOSE=" + string(r.grant.Purpose()),
		"CONSENTREC_POLICY_VERSION=" + r.grant.PolicyVersion(),
		"CONSENTREC_LAYOUT=" + string(r.cfg.Layout),
	}
	if len(roles) == 2 {
		return append(t, "LEFT="+string(roles[0]), "RIGHT="+string(roles[1]))
	}
	return append(t, "LEG="+string(roles[0]))
}

// Pause stops capturing audio, for example while card data is spoken. It
// returns only once no audio captured from now on can be written: the
// following slots become silence, kept in the file so the timeline keeps
// its length, and the gap index records the pause with reason and actor.
// Packets for slots before the pause that are still in the reorder window
// may still be written (they were spoken before the pause). The pause lasts
// until Resume, or Config.MaxPause. The paused event is appended after the
// pause took effect; an audit error is returned but the pause stays.
func (r *Recorder) Pause(ctx context.Context, reason, actor string) error {
	r.mu.Lock()
	s := r.sess
	if s == nil || s.pausedNow() {
		r.mu.Unlock()
		if s == nil {
			return fmt.Errorf("recorder: pause: not recording: %w", ErrState)
		}
		return fmt.Errorf("recorder: pause: already paused: %w", ErrState)
	}
	from := max(s.wallSlot(r.now()), s.next)
	s.pauseDropHi = from
	s.pauses = append(s.pauses, pauseSpan{from: from, to: -1, actor: actor, note: reason})
	if r.cfg.MaxPause > 0 {
		pauseIdx := len(s.pauses) - 1
		s.pauseTimer = time.AfterFunc(r.cfg.MaxPause, func() { r.autoResume(s, pauseIdx) })
	}
	s.checkpoint()
	id := s.group
	at := s.t0.Add(slotTime(from))
	r.mu.Unlock()
	e := r.eventAt(at, audit.KindRecordingPaused, id, actor, reason)
	if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
		return fmt.Errorf("recorder: pause: audit: %w", err)
	}
	return nil
}

// Resume resumes a paused recording.
func (r *Recorder) Resume(ctx context.Context, actor string) error {
	r.mu.Lock()
	s := r.sess
	if s == nil || !s.pausedNow() {
		r.mu.Unlock()
		return fmt.Errorf("recorder: resume: not paused: %w", ErrState)
	}
	s.endPause(r.now())
	at := s.t0.Add(slotTime(s.pauses[len(s.pauses)-1].to))
	s.checkpoint()
	id := s.group
	r.mu.Unlock()
	e := r.eventAt(at, audit.KindRecordingResumed, id, actor, "")
	if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
		return fmt.Errorf("recorder: resume: audit: %w", err)
	}
	return nil
}

func (r *Recorder) autoResume(s *session, pauseIdx int) {
	r.mu.Lock()
	if r.sess != s || len(s.pauses) != pauseIdx+1 || s.pauses[pauseIdx].to >= 0 {
		r.mu.Unlock()
		return
	}
	s.endPause(r.now())
	at := s.t0.Add(slotTime(s.pauses[pauseIdx].to))
	s.checkpoint()
	id := s.group
	r.mu.Unlock()
	e := r.eventAt(at, audit.KindRecordingResumed, id, "system", "max-pause",
		audit.Attr{Key: "max_pause", Value: r.cfg.MaxPause.String()})
	if _, err := r.cfg.Audit.Append(context.Background(), e); err != nil {
		r.asyncErr(fmt.Errorf("recorder: automatic resume: audit: %w", err))
	}
}

func (r *Recorder) asyncErr(err error) {
	if r.cfg.OnError != nil {
		r.cfg.OnError(err)
		return
	}
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Stop ends the recording in progress: it writes every slot up to now,
// finalizes each file (SHA-256, duration, gap index) and appends the
// stopped and finalized events. It returns the metadata of the files.
func (r *Recorder) Stop(ctx context.Context, actor string) ([]Meta, error) {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	return r.stop(ctx, actor)
}

func (r *Recorder) stop(ctx context.Context, actor string) ([]Meta, error) {
	r.mu.Lock()
	s := r.sess
	if s == nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("recorder: stop: not recording: %w", ErrState)
	}
	end := max(s.wallSlot(r.now()), s.next)
	if s.next == 0 && end == 0 {
		end = 1 // a file holds at least one slot
	}
	finals, faults := s.drainGuarded(end) // a panic ends the legs, not the process
	stopAt := s.t0.Add(slotTime(max(end, s.next)))
	asyncErr := r.err
	r.err = nil
	r.mu.Unlock()
	for _, lf := range faults {
		r.report(lf)
	}

	// The pages queued before are written first; a store error among
	// them fails its file as a synchronous one did.
	werr := s.pool.wait(ctx, &s.q)
	var metas []Meta
	errs := []error{asyncErr}
	r.mu.Lock()
	if s.err != nil { // set by the writing goroutines too
		errs = append(errs, s.err)
	}
	r.mu.Unlock()
	for _, id := range s.ids {
		e := r.eventAt(stopAt, audit.KindRecordingStopped, id, actor, "")
		if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("audit: %w", err))
		}
	}
	if werr != nil {
		// Pages are still being written: the files cannot be finalized
		// now. They stay in the store unfinalized, for Recover.
		errs = append(errs, werr)
		return nil, fmt.Errorf("recorder: stop: %w", errors.Join(errs...))
	}
	for i, w := range s.writers {
		st := s.streams[i]
		st.sess = nil // the last page is written here
		if err := s.pool.fileErr(&s.q, i); err != nil && st.err == nil {
			st.err = err
		}
		if err := st.close(); err != nil {
			errs = append(errs, err)
			continue
		}
		m, err := w.Finalize(ctx, finals[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		metas = append(metas, m)
		e := r.event(audit.KindRecordingFinalized, m.ID, actor, "",
			audit.Attr{Key: "layout", Value: string(m.Layout)},
			audit.Attr{Key: "duration", Value: m.Duration.String()},
			audit.Attr{Key: "gaps", Value: strconv.Itoa(len(m.Gaps))})
		e.SHA256 = m.SHA256
		if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("audit: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return metas, fmt.Errorf("recorder: stop: %w", err)
	}
	return metas, nil
}

// Discard stops the recording in progress, if any, and removes everything
// this Recorder captured for the call: every file of every Start, partial
// files included, with their metadata. Use it when the caller objects. A
// purged event is appended for each file. If a file cannot be deleted, the
// error is returned and a new Discard tries that file again.
func (r *Recorder) Discard(ctx context.Context, reason, actor string) error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.mu.Lock()
	s := r.sess
	if s != nil {
		s.detach()
	}
	ids := r.made
	r.made = nil
	r.mu.Unlock()

	var errs []error
	var kept []string // not deleted: a retried Discard tries them again
	defer func() {
		if len(kept) > 0 {
			r.mu.Lock()
			r.made = append(kept, r.made...)
			r.mu.Unlock()
		}
	}()
	if s != nil {
		// Queued pages are dropped; one being written is waited for (a
		// Writer is not safe for concurrent use).
		s.pool.cancel(&s.q)
		if err := s.pool.wait(ctx, &s.q); err != nil {
			errs = append(errs, err)
		} else {
			for _, w := range s.writers {
				if err := w.Abort(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, id := range ids {
		var sum string
		if m, err := r.cfg.Store.Stat(ctx, id); err == nil {
			sum = m.SHA256
		}
		if err := r.cfg.Store.Delete(ctx, id); err != nil && !isNotExist(err) {
			errs = append(errs, err)
			kept = append(kept, id)
			continue
		}
		e := r.event(audit.KindRecordingPurged, id, actor, reason)
		e.SHA256 = sum
		if _, err := r.cfg.Audit.Append(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("audit: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recorder: discard: %w", err)
	}
	return nil
}

// Close stops the recording in progress (finalizing it) and closes the
// recorder; its legs then refuse packets.
func (r *Recorder) Close(ctx context.Context) error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	var err error
	if r.Recording() != "" {
		_, err = r.stop(ctx, "system")
	}
	r.mu.Lock()
	r.closed = true
	for _, l := range r.legs {
		if l != nil {
			l.closed = true
		}
	}
	r.mu.Unlock()
	return err
}
