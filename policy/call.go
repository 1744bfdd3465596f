package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// EventKind is something that happens during a call and changes whether it
// may be recorded.
type EventKind uint8

// Call events.
const (
	EventNoticeCompleted   EventKind = iota + 1 // the notice was played to the end (R14)
	EventNoticeInterrupted                      // the notice was cut (hang-up, barge-in): still pending
	EventConsent                                // the caller's affirmative act (R16)
	EventObjection                              // the caller objects (R15)
	EventAgentStart                             // the agent starts recording (Purpose selects the rule)
	EventAgentStop                              // the agent stops recording; it may start again
	EventSupervisorStart                        // a supervisor requests recording on demand
	EventSupervisorStop                         // the supervisor ends the request
	EventPause                                  // pause for card data (R21, R22)
	EventResume                                 // resume after a pause
	EventConsentWithdrawn                       // the caller withdraws consent (Art. 7(3)): capture stops
)

var eventNames = [...]string{"", "notice-completed", "notice-interrupted", "consent", "objection",
	"agent-start", "agent-stop", "supervisor-start", "supervisor-stop", "pause", "resume", "consent-withdrawn"}

// Party is whose event it is: the caller's or the agent's. A notice heard by
// the agent (the employee notice, R19) never stands for the caller's, and
// only the caller consents for the caller.
type Party string

// Parties.
const (
	PartyCaller Party = "caller"
	PartyAgent  Party = "agent"
)

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k > 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one call event.
type Event struct {
	Kind    EventKind
	Actor   string    // who acted (agent id, supervisor id, "caller")
	Purpose Purpose   // for agent/supervisor start: the rule's purpose (empty: the first such rule)
	Time    time.Time // zero means now
	// Party is whose notice or consent it is. Required for
	// EventNoticeCompleted, EventNoticeInterrupted and EventConsent: only
	// PartyCaller satisfies the caller's notice and consent (an agent's
	// notice receipt is the employee notice). An objection counts
	// whoever reports it (an agent may relay the caller's spoken "no").
	Party Party
	// Evidence names what proves the event (e.g. "notice:<prompt version>"
	// for a notice receipt); a grant lists the evidence it rests on.
	Evidence string
}

// Call follows one call: it starts from the engine's decision and applies the
// call's events in order. It is safe for concurrent use.
type Call struct {
	e    *Engine
	info CallInfo

	mu                 sync.Mutex
	d                  Decision // the current decision, without Capture/Pending/Purge computed
	auto               bool     // selected by an automatic rule
	manual             Mode     // ModeAgent or ModeSupervisor while a manual recording is on
	notice, consent    bool
	objected, paused   bool
	candidates         []int // indices of manual rules
	excluded, statuted bool
	evidence           []string // receipts of the caller's notice and consent
	live               *grant   // the grant in force, if any
	ended              bool     // End was called: no more grants
	uninformed         bool     // the agent has not acknowledged the employee notice (R19)
	capTaken           []bool   // per rule: this call already counts in the agent's cap
}

// Begin decides for a new call and returns its state.
func (e *Engine) Begin(ctx context.Context, info CallInfo) (*Call, Decision, error) {
	if info.Time.IsZero() {
		info.Time = time.Now()
	}
	d, err := e.decide(ctx, info)
	if err != nil {
		return nil, d, err
	}
	if err := e.audit(ctx, info, d, ""); err != nil {
		return nil, Decision{Mode: ModeOff, Reason: ReasonPolicyOff, PolicyVersion: e.version}, err
	}
	c := &Call{e: e, info: info, d: d, auto: d.Record, excluded: d.Reason == ReasonExcluded, statuted: d.Mode == ModeStatute && d.Record,
		uninformed: d.Reason == ReasonAgentNotInformed}
	for i, r := range e.rules {
		if r.Mode == ModeAgent || r.Mode == ModeSupervisor {
			c.candidates = append(c.candidates, i)
		}
	}
	return c, c.current(), nil
}

// Info returns the call's CallInfo.
func (c *Call) Info() CallInfo { return c.info }

// Decision returns the current decision.
func (c *Call) Decision() Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current()
}

func (c *Call) current() Decision {
	d := c.d
	d.Pending = 0
	if d.Record {
		if d.Requires.Has(NeedNotice) && !c.notice {
			d.Pending |= NeedNotice
		}
		if d.Requires.Has(NeedConsent) && !c.consent {
			d.Pending |= NeedConsent
		}
	}
	if c.objected && d.OnObjection != ObjectionNotApplicable {
		d.Record, d.Reason, d.Purge = false, ReasonObjected, true
	}
	d.Capture = d.Record && d.Pending == 0 && !c.paused
	if c.paused && d.Record {
		d.Reason = ReasonPaused
	}
	if d.Record && d.Pending.Has(NeedConsent) && d.Reason != ReasonPaused {
		d.Reason = ReasonNoConsent
	}
	return d
}

// Apply applies ev and returns the new decision. It returns an error
// wrapping ErrNotAllowed when ev is not allowed in the call's state (the
// decision is then unchanged, except for an agent or supervisor start past
// the agent's cap: its Reason is then ReasonAgentCapReached), and ErrRecordingRefused when the caller
// objects under the FR insurance profile: the host must end the call (R18).
//
// When the new decision no longer allows recording (an objection, consent
// withdrawn, the agent stopping), the grant in force is revoked (see
// Grant); a pause does not revoke it. With Options.Audit set, the new
// decision is appended to the audit log; an audit error is returned (joined)
// but the event still took effect: an objection is honoured even when it
// cannot be logged.
func (c *Call) Apply(ctx context.Context, ev Event) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return c.Decision(), err
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	c.mu.Lock()
	d, err := c.apply(ctx, ev)
	if err != nil && !errors.Is(err, ErrRecordingRefused) {
		c.mu.Unlock()
		return d, err
	}
	c.revokeIfNeeded(d, ev)
	c.mu.Unlock()
	if aerr := c.e.audit(ctx, c.info, d, ev.Kind.String()); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return d, err
}

func (c *Call) apply(ctx context.Context, ev Event) (Decision, error) {
	notAllowed := func(why string) (Decision, error) {
		return c.current(), fmt.Errorf("policy %s on call %s: %s: %w", ev.Kind, c.info.ID, why, ErrNotAllowed)
	}
	if c.ended {
		return notAllowed("the call ended")
	}
	switch ev.Kind {
	case EventNoticeCompleted, EventNoticeInterrupted, EventConsent, EventConsentWithdrawn:
		switch ev.Party {
		case PartyCaller:
		case PartyAgent:
			if ev.Kind == EventConsent || ev.Kind == EventConsentWithdrawn {
				return notAllowed("only the caller consents for the caller (R16)")
			}
		default:
			return notAllowed(fmt.Sprintf("whose %s is it? Event.Party must be %q or %q", ev.Kind, PartyCaller, PartyAgent))
		}
	}
	switch ev.Kind {
	case EventNoticeCompleted:
		if ev.Party == PartyAgent {
			break // the employee notice (R19): never the caller's
		}
		c.notice = true
		c.evidence = append(c.evidence, evidence(ev, "notice"))
	case EventNoticeInterrupted:
	case EventConsent:
		c.consent = true
		c.evidence = append(c.evidence, evidence(ev, "consent"))
	case EventConsentWithdrawn:
		c.consent = false
	case EventObjection:
		c.objected = true
		if c.d.OnObjection == ObjectionEndCall && c.d.Record {
			c.d.Record = false
			return c.current(), fmt.Errorf("policy objection on call %s: %w", c.info.ID, ErrRecordingRefused)
		}
	case EventAgentStart, EventSupervisorStart:
		mode := ModeAgent
		if ev.Kind == EventSupervisorStart {
			mode = ModeSupervisor
		}
		switch {
		case c.excluded:
			return notAllowed("the call is excluded (R20)")
		case c.uninformed:
			return notAllowed(fmt.Sprintf("agent %q has not acknowledged the employee notice in force (R19)", c.info.Agent))
		case c.objected:
			return notAllowed("the caller objected (R15)")
		case c.d.Record:
			return notAllowed(fmt.Sprintf("already recording for %s: one purpose per recording (R6)", c.d.Purpose))
		}
		ri := -1
		for _, i := range c.candidates {
			if c.e.rules[i].Mode == mode && (ev.Purpose == "" || ev.Purpose == c.e.rules[i].Purpose) {
				ri = i
				break
			}
		}
		if ri < 0 {
			return notAllowed(fmt.Sprintf("no %s rule for purpose %q", mode, ev.Purpose))
		}
		at := c.info
		at.Time = ev.Time
		if r := &c.e.rules[ri]; r.Cap != nil && !c.taken(ri) {
			// A call counts once in its agent's cap, however often the
			// agent starts again (R1).
			ok, err := c.e.counter.Take(ctx, c.e.agentCapKey(ri, at), int64(r.Cap.Max))
			if err != nil {
				return c.current(), fmt.Errorf("policy %s on call %s: cap count: %w", ev.Kind, c.info.ID, err)
			}
			if !ok {
				c.e.describe(&c.d, ri)
				c.d.Reason = ReasonAgentCapReached
				return notAllowed(fmt.Sprintf("agent %q reached the cap of %d recordings per %s of rule %d (R1)", c.info.Agent, r.Cap.Max, r.Cap.Per, ri))
			}
			if c.capTaken == nil {
				c.capTaken = make([]bool, len(c.e.rules))
			}
			c.capTaken[ri] = true
		}
		c.e.fill(&c.d, ri, at)
		c.d.Record, c.d.Candidate, c.manual = true, false, mode
		c.d.Reason = ReasonAgentStarted
		if mode == ModeSupervisor {
			c.d.Reason = ReasonSupervisor
		}
	case EventAgentStop, EventSupervisorStop:
		if !c.d.Record {
			return notAllowed("not recording")
		}
		if c.statuted {
			return notAllowed("a statute requires this recording (R1)")
		}
		if ev.Kind == EventSupervisorStop && c.manual != ModeSupervisor {
			return notAllowed("not a supervisor request")
		}
		c.d.Record, c.auto, c.manual = false, false, ""
		c.d.Reason = ReasonAgentStopped
		c.d.Candidate = len(c.candidates) > 0
	case EventPause:
		c.paused = true
	case EventResume:
		c.paused = false
	default:
		return notAllowed("unknown event")
	}
	return c.current(), nil
}

func evidence(ev Event, kind string) string {
	if ev.Evidence != "" {
		return ev.Evidence
	}
	return kind + ":" + string(ev.Party) + "@" + ev.Time.UTC().Format(time.RFC3339Nano)
}

// revokeIfNeeded revokes the grant in force when d no longer allows
// recording (anything but a pause). Called with c.mu held.
func (c *Call) revokeIfNeeded(d Decision, ev Event) {
	if c.live == nil {
		return
	}
	if d.Record && d.Pending == 0 && !c.ended {
		return // still allowed (perhaps paused)
	}
	why := string(d.Reason)
	if c.ended {
		why = "call ended"
	}
	c.live.revoke(fmt.Errorf("call %s: %s after %s: %w", c.info.ID, why, ev.Kind, ErrRevoked))
	c.live = nil
}

// Grant returns the grant that lets a recorder capture this call now. It
// mints one when the decision allows capture (Decision.Capture: selected,
// told, consented where needed, not objected, not paused) and no grant is in
// force, and returns the one in force otherwise (copies share it). When
// capture is not allowed it returns an error wrapping ErrNotAllowed that
// says why (e.g. the caller has not heard the notice).
func (c *Call) Grant() (Grant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return Grant{}, fmt.Errorf("policy grant on call %s: the call ended: %w", c.info.ID, ErrRevoked)
	}
	if c.live != nil {
		return Grant{c.live}, nil
	}
	d := c.current()
	if !d.Capture {
		return Grant{}, fmt.Errorf("policy grant on call %s: %s: %w", c.info.ID, whyNot(d), ErrNotAllowed)
	}
	c.live = &grant{callID: c.info.ID, agent: c.info.Agent, purpose: d.Purpose, mode: d.Mode, reason: d.Reason,
		profile: d.Profile, basis: d.LawfulBasis, retention: d.Retention, deadline: d.Deadline,
		version: d.PolicyVersion, draw: d.Draw, receipts: slices.Clone(c.evidence), issued: time.Now()}
	if d.Rule > 0 && d.Rule <= len(c.e.rules) {
		c.live.roles = slices.Clone(c.e.rules[d.Rule-1].AccessRoles)
	}
	if st, ok := LookupStatute(d.Statute); ok && d.Statute != "" {
		c.live.keepUntil = st.MinRetention.AddTo(c.info.Time.UTC())
	}
	return Grant{c.live}, nil
}

func whyNot(d Decision) string {
	switch {
	case d.Purge:
		return "the caller objected (R15)"
	case !d.Record:
		return "not selected (" + string(d.Reason) + ")"
	case d.Pending.Has(NeedNotice):
		return "the caller has not heard the notice to the end (R14)"
	case d.Pending.Has(NeedConsent):
		return "the caller has not consented (opt-in, R16)"
	case d.Reason == ReasonPaused:
		return "paused"
	}
	return string(d.Reason)
}

// End ends the call: the grant in force is revoked (spent) and no other is
// minted. It is idempotent.
func (c *Call) End() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	if c.live != nil {
		c.live.revoke(fmt.Errorf("call %s: call ended: %w", c.info.ID, ErrRevoked))
		c.live = nil
	}
}

func (c *Call) taken(i int) bool { return c.capTaken != nil && c.capTaken[i] }
