package policy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Decider decides whether a call may be recorded.
//
// Decide must be safe for concurrent use. It returns a Decision even when
// the answer is "do not record"; an error means no decision could be made
// (e.g. the counter failed), and the host must then not record.
type Decider interface {
	Decide(ctx context.Context, call CallInfo) (Decision, error)
}

// DeciderFunc adapts a function to a Decider.
type DeciderFunc func(ctx context.Context, call CallInfo) (Decision, error)

// Decide calls f(ctx, call).
func (f DeciderFunc) Decide(ctx context.Context, call CallInfo) (Decision, error) {
	return f(ctx, call)
}

// CallInfo is what the host knows about a call when it begins. It carries no
// personal data: the caller's number stays with the host (use SubjectKey).
type CallInfo struct {
	ID      string    // the call id; the sampling draw is keyed on it
	Agent   string    // the agent's id (grids, protected lines)
	Line    string    // the line or queue (protected lines)
	Time    time.Time // when the call began; zero means now
	Profile Profile   // the caller's jurisdiction; empty: the policy's, else the strictest (R33)
	// Private marks a private call (R20); Internal a call between
	// employees. Both are never recorded.
	Private, Internal bool
	// InScope marks a call covered by a statute rule (e.g. a call about
	// client orders under MiFID II). Statute rules record only such calls.
	InScope bool
}

// Options configure an Engine. The zero value is valid for policies without
// sampling or grid rules.
type Options struct {
	// Key is the secret of the sampling draw (HMAC-SHA-256). Required, at
	// least 16 bytes, when a rule samples or uses a grid. Keep it from
	// agents; give it to auditors so they can re-check any decision.
	Key []byte
	// Counter keeps cap and grid counts. Nil means a new MemCounter.
	Counter Counter
	// Audit, when set, receives every decision the engine makes (Decide,
	// Begin, and each Call.Apply): call, agent, rule, rate, the keyed draw
	// and the policy version, so an auditor can re-check each one (R3).
	// Nil: decisions are not audited by the engine.
	Audit audit.Appender
	// AgentNoticeVersion is the version of the employee notice in force
	// (R19), e.g. the SHA-256 of its text. When set, a call whose agent
	// has not acknowledged this version (per AgentNotices) is not
	// recorded: its decision says ReasonAgentNotInformed, and a call
	// without an Agent is treated as such. Empty: agents are not checked.
	AgentNoticeVersion string
	// AgentNotices answers which notice version each agent acknowledged.
	// Required with AgentNoticeVersion (see OpenAgentNoticeFile).
	AgentNotices AgentNotices
}

// ErrNoKey: a sampling or grid rule without a draw key.
var ErrNoKey = errors.New("sampling key missing or shorter than 16 bytes")

// ErrNoAgentNotices: Options name an employee notice version without the
// AgentNotices to check it against, or the reverse.
var ErrNoAgentNotices = errors.New("agent notice version and agent notices must be set together")

// Engine applies a policy to calls. It is safe for concurrent use.
type Engine struct {
	p         Policy
	version   string
	counter   Counter
	aud       audit.Appender
	protected map[string]bool
	rules     []compiled
	loc       *time.Location // calendar of caps and grids
	drawers   sync.Pool      // *drawer
	notices   AgentNotices   // nil: agents not checked (R19)
	noticeVer string
}

type compiled struct {
	Rule
	lawful    string
	retention Period
	statute   string // the statute's ID, for legal-obligation rules
	threshold uint64 // sampling: draw < threshold selects
}

// New validates p and returns an Engine for it.
func New(p *Policy, opts Options) (*Engine, error) {
	if p == nil {
		p = &Policy{}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	loc, err := p.location()
	if err != nil {
		return nil, err // unreachable: Validate checked it
	}
	if (opts.AgentNoticeVersion == "") != (opts.AgentNotices == nil) {
		return nil, fmt.Errorf("policy engine: %w", ErrNoAgentNotices)
	}
	e := &Engine{p: *p, version: p.Version(), counter: opts.Counter, aud: opts.Audit, protected: map[string]bool{}, loc: loc,
		notices: opts.AgentNotices, noticeVer: opts.AgentNoticeVersion}
	if e.counter == nil {
		e.counter = &MemCounter{}
	}
	for _, l := range p.ProtectedLines {
		e.protected[l] = true
	}
	needKey := false
	for _, r := range p.Rules {
		rr := rules[r.Purpose]
		c := compiled{Rule: r, lawful: rr.LawfulBasis, retention: r.retention()}
		if st, ok := LookupStatute(r.Statute); ok {
			c.statute = st.ID
		}
		switch r.Mode {
		case ModeSampling:
			needKey = true
			t := r.Rate * math.Exp2(64)
			if t >= math.Exp2(64) {
				c.threshold = math.MaxUint64
			} else {
				c.threshold = uint64(t)
			}
		case ModeGrid:
			needKey = true
		}
		e.rules = append(e.rules, c)
	}
	if needKey && len(opts.Key) < 16 {
		return nil, fmt.Errorf("policy engine: %w", ErrNoKey)
	}
	key := append([]byte(nil), opts.Key...)
	e.drawers.New = func() any {
		return &drawer{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}
	return e, nil
}

// Version is the policy version every decision carries.
func (e *Engine) Version() string { return e.version }

// Policy returns a copy of the engine's policy.
func (e *Engine) Policy() Policy { return e.p }

type drawer struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// Draw returns the keyed sampling draw of a call for rule i: the first 8
// bytes of HMAC-SHA-256(key, "consentrec draw v1" || version || i || callID).
// Anyone holding the key and the policy can recompute it.
func (e *Engine) Draw(rule int, callID string) uint64 {
	d := e.drawers.Get().(*drawer)
	d.buf = append(d.buf[:0], "consentrec draw v1\x00"...)
	d.buf = append(d.buf, e.version...)
	d.buf = binary.BigEndian.AppendUint16(append(d.buf, 0), uint16(rule))
	d.buf = append(d.buf, callID...)
	d.mac.Reset()
	d.mac.Write(d.buf)
	s := d.mac.Sum(d.sum[:0])
	v := binary.BigEndian.Uint64(s)
	e.drawers.Put(d)
	return v
}

// DrawFraction maps a draw to [0, 1).
func DrawFraction(draw uint64) float64 { return float64(draw>>11) / (1 << 53) }

// profileOf resolves the call's profile: the call's, else the policy's, else
// ProfileUnknown, which applies the strictest rules (R33).
func (e *Engine) profileOf(c CallInfo) Profile {
	if c.Profile != ProfileUnknown {
		return c.Profile
	}
	return e.p.Profile
}

// Decide implements Decider: the decision at the start of the call, before
// any notice or consent. Use Begin to follow the call's later events. With
// Options.Audit set, the decision is appended to the audit log before it is
// returned; if it cannot be, Decide returns an error (and the host must not
// record).
func (e *Engine) Decide(ctx context.Context, c CallInfo) (Decision, error) {
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	d, err := e.decide(ctx, c)
	if err != nil {
		return d, err
	}
	if err := e.audit(ctx, c, d, ""); err != nil {
		return Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version}, err
	}
	return d, nil
}

// audit appends decision d for call c to the engine's audit log, if any;
// event names the call event that led to it ("" at the start of the call).
func (e *Engine) audit(ctx context.Context, c CallInfo, d Decision, event string) error {
	if e.aud == nil {
		return nil
	}
	ev := d.AuditEvent(c.ID, time.Now().UTC())
	if c.Agent != "" && !hasAttr(ev.Attrs, "agent") {
		ev.Attrs = append(ev.Attrs, audit.Attr{Key: "agent", Value: c.Agent})
	}
	if event != "" {
		ev.Attrs = append(ev.Attrs, audit.Attr{Key: "event", Value: event})
	}
	if _, err := e.aud.Append(ctx, ev); err != nil {
		return fmt.Errorf("policy audit decision %s: %w", c.ID, err)
	}
	return nil
}

func hasAttr(as []audit.Attr, k string) bool {
	for _, a := range as {
		if a.Key == k {
			return true
		}
	}
	return false
}

func (e *Engine) decide(ctx context.Context, c CallInfo) (Decision, error) {
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	d := Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version, Profile: e.profileOf(c), Agent: c.Agent}
	if c.Private || c.Internal || (c.Agent != "" && e.protected[c.Agent]) || (c.Line != "" && e.protected[c.Line]) {
		d.Reason = ReasonExcluded
		return d, nil
	}
	if e.notices != nil && len(e.rules) > 0 {
		informed, err := e.informed(ctx, c.Agent)
		if err != nil {
			return Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version, Agent: c.Agent}, fmt.Errorf("policy decide %s: %w", c.ID, err)
		}
		if !informed {
			d.Reason = ReasonAgentNotInformed
			return d, nil
		}
	}
	candidate, capped := -1, -1
	first := true
	for i := range e.rules {
		r := &e.rules[i]
		var ok bool
		var reason Reason
		var draw uint64
		var err error
		switch r.Mode {
		case ModeOff:
			continue
		case ModeAgent, ModeSupervisor:
			if candidate < 0 {
				full, err := e.agentCapReached(ctx, i, c)
				if err != nil {
					return Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version, Agent: c.Agent}, fmt.Errorf("policy decide %s: %w", c.ID, err)
				}
				if !full {
					candidate = i
				} else if capped < 0 {
					capped = i
				}
			}
			continue
		case ModeStatute:
			ok, reason = c.InScope, ReasonStatute
			if !ok {
				reason = ReasonOutOfScope
			}
		case ModeSampling:
			draw = e.Draw(i, c.ID)
			ok, reason, err = e.sample(ctx, i, r, draw, c.Time)
		case ModeGrid:
			draw = e.Draw(i, c.ID)
			ok, reason, err = e.grid(ctx, i, r, draw, c)
		}
		if err != nil {
			return Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version, Agent: c.Agent}, fmt.Errorf("policy decide %s: %w", c.ID, err)
		}
		if ok {
			e.fill(&d, i, c)
			d.Draw = draw
			d.Record, d.Reason = true, reason
			return d, nil
		}
		if first {
			e.describe(&d, i)
			d.Reason, d.Draw = reason, draw
			first = false
		}
	}
	switch {
	case candidate >= 0:
		r := &e.rules[candidate]
		if first {
			e.describe(&d, candidate)
			d.Reason = ReasonAwaitAgent
			if r.Mode == ModeSupervisor {
				d.Reason = ReasonAwaitSupervisor
			}
		}
		d.Candidate = true
		d.Requires, d.OnObjection = requirements(d.Profile, r.Purpose)
	case capped >= 0 && first:
		e.describe(&d, capped)
		d.Reason = ReasonAgentCapReached
	}
	return d, nil
}

// informed reports whether agent acknowledged the notice in force (R19).
func (e *Engine) informed(ctx context.Context, agent string) (bool, error) {
	if agent == "" {
		return false, nil
	}
	ack, err := e.notices.Acknowledged(ctx, agent)
	if err != nil {
		return false, fmt.Errorf("agent notice of %s: %w", agent, err)
	}
	return ack.Version == e.noticeVer, nil
}

// agentCapReached reports whether the agent's cap of manual rule i is used
// up for the period of c.Time.
func (e *Engine) agentCapReached(ctx context.Context, i int, c CallInfo) (bool, error) {
	r := &e.rules[i]
	if r.Cap == nil {
		return false, nil
	}
	n, err := e.counter.Count(ctx, e.agentCapKey(i, c))
	if err != nil {
		return false, err
	}
	return n >= int64(r.Cap.Max), nil
}

func (e *Engine) agentCapKey(i int, c CallInfo) CounterKey {
	start, _ := e.rules[i].Cap.Per.bounds(c.Time, e.loc)
	return CounterKey{Policy: e.version, Rule: i, Agent: c.Agent, Period: start.Unix()}
}

// describe sets on d what rule i is, without selecting the call.
func (e *Engine) describe(d *Decision, i int) {
	r := &e.rules[i]
	d.Mode, d.Rule = r.Mode, i+1
	d.Rate, d.Cap, d.Grid = 0, Cap{}, Grid{}
	if r.Mode == ModeSampling {
		d.Rate = r.Rate
	}
	if r.Cap != nil {
		d.Cap = *r.Cap
	}
	if r.Grid != nil {
		d.Grid = *r.Grid
	}
}

// fill sets what the selected rule i fixes on d.
func (e *Engine) fill(d *Decision, i int, c CallInfo) {
	r := &e.rules[i]
	e.describe(d, i)
	d.Statute = r.statute
	d.Purpose, d.Mode, d.Retention = r.Purpose, r.Mode, r.retention
	d.Deadline = r.retention.AddTo(c.Time.UTC())
	d.LawfulBasis = r.lawful
	d.Requires, d.OnObjection = requirements(d.Profile, r.Purpose)
	if d.Requires.Has(NeedConsent) {
		d.LawfulBasis = "6(1)(a) consent"
	}
	d.Pending = d.Requires
}

// requirements gives what must happen before recording and what an
// objection does, for a profile and a purpose.
func requirements(p Profile, purpose Purpose) (Requirement, ObjectionEffect) {
	req := NeedNotice // every profile informs first (R14; UK IPA s.46; US implied consent)
	if (p == ProfileDE || p == ProfileUnknown) && purpose != LegalObligation {
		req |= NeedConsent // opt-in (R16); unknown location: the strictest (R33)
	}
	switch {
	case p == ProfileFRInsurance:
		return req, ObjectionEndCall // R18
	case purpose == LegalObligation:
		return req, ObjectionNotApplicable // Art. 21 does not apply to 6(1)(c)
	}
	return req, ObjectionStopAndPurge // R15
}

func (e *Engine) sample(ctx context.Context, i int, r *compiled, draw uint64, t time.Time) (bool, Reason, error) {
	if draw >= r.threshold {
		return false, ReasonNotSampled, nil
	}
	if r.Cap == nil {
		return true, ReasonSampled, nil
	}
	start, _ := r.Cap.Per.bounds(t, e.loc)
	ok, err := e.counter.Take(ctx, CounterKey{Policy: e.version, Rule: i, Period: start.Unix()}, int64(r.Cap.Max))
	if err != nil {
		return false, "", err
	}
	if !ok {
		return false, ReasonCapReached, nil
	}
	return true, ReasonSampled, nil
}

// grid spreads PerAgent recordings over the period: the period is cut into
// PerAgent slots and by the end of slot k at most k+1 calls are recorded. In
// a slot, a call is selected when its draw falls under the elapsed share of
// the slot (so agents cannot tell which call will be), or under one half when
// an earlier slot was missed (catch-up).
func (e *Engine) grid(ctx context.Context, i int, r *compiled, draw uint64, c CallInfo) (bool, Reason, error) {
	if c.Agent == "" {
		return false, ReasonGridNotSelected, nil
	}
	start, end := r.Grid.Per.bounds(c.Time, e.loc)
	k := float64(r.Grid.PerAgent)
	pos := float64(c.Time.Sub(start)) / float64(end.Sub(start)) * k
	slot := math.Floor(pos)
	allowed := int64(slot) + 1
	key := CounterKey{Policy: e.version, Rule: i, Agent: c.Agent, Period: start.Unix()}
	n, err := e.counter.Count(ctx, key)
	if err != nil {
		return false, "", err
	}
	if n >= int64(r.Grid.PerAgent) {
		return false, ReasonGridFull, nil
	}
	if n >= allowed {
		return false, ReasonGridNotSelected, nil
	}
	q := pos - slot
	if n < allowed-1 {
		q = max(q, 0.5)
	}
	if DrawFraction(draw) >= q {
		return false, ReasonGridNotSelected, nil
	}
	ok, err := e.counter.Take(ctx, key, allowed)
	if err != nil {
		return false, "", err
	}
	if !ok {
		return false, ReasonGridNotSelected, nil
	}
	return true, ReasonGridSelected, nil
}

// bounds returns the calendar period of w, in loc, that contains t.
func (w Window) bounds(t time.Time, loc *time.Location) (start, end time.Time) {
	t = t.In(loc)
	y, m, d := t.Date()
	switch w {
	case Day:
		start = time.Date(y, m, d, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 1)
	case Week:
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		start = time.Date(y, m, d-wd, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 0, 7)
	default:
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 1, 0)
	}
}
