package policy

import (
	"context"
	"fmt"
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
)

var eventNames = [...]string{"", "notice-completed", "notice-interrupted", "consent", "objection",
	"agent-start", "agent-stop", "supervisor-start", "supervisor-stop", "pause", "resume"}

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
	uninformed         bool   // the agent has not acknowledged the employee notice (R19)
	capTaken           []bool // per rule: this call already counts in the agent's cap
}

// Begin decides for a new call and returns its state.
func (e *Engine) Begin(ctx context.Context, info CallInfo) (*Call, Decision, error) {
	if info.Time.IsZero() {
		info.Time = time.Now()
	}
	d, err := e.Decide(ctx, info)
	if err != nil {
		return nil, d, err
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
func (c *Call) Apply(ctx context.Context, ev Event) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return c.Decision(), err
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	notAllowed := func(why string) (Decision, error) {
		return c.current(), fmt.Errorf("policy %s on call %s: %s: %w", ev.Kind, c.info.ID, why, ErrNotAllowed)
	}
	switch ev.Kind {
	case EventNoticeCompleted:
		c.notice = true
	case EventNoticeInterrupted:
	case EventConsent:
		c.consent = true
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

func (c *Call) taken(i int) bool { return c.capTaken != nil && c.capTaken[i] }
