package policy

import (
	"fmt"
	"time"
)

// Mode is how recording is triggered, the less intrusive first (R2).
type Mode string

// Modes.
const (
	ModeOff        Mode = "off"        // never records (the default)
	ModeAgent      Mode = "agent"      // the agent starts/stops (and may start again)
	ModeSupervisor Mode = "supervisor" // a supervisor requests it on demand
	ModeSampling   Mode = "sampling"   // a keyed random draw selects a share of calls
	ModeGrid       Mode = "grid"       // K calls per agent per period, spread over it
	ModeStatute    Mode = "statute"    // every in-scope call, because a statute requires it
)

// Reason is a stable, machine-readable code explaining a decision.
type Reason string

// Reason codes.
const (
	ReasonPolicyOff       Reason = "policy-off"         // the policy records nothing
	ReasonExcluded        Reason = "excluded"           // private call, protected line or internal call (R20)
	ReasonSampled         Reason = "sampled"            // the draw fell under the rate
	ReasonNotSampled      Reason = "not-sampled"        // the draw fell above the rate
	ReasonCapReached      Reason = "cap-reached"        // sampled, but the period's cap is used up
	ReasonGridSelected    Reason = "grid-selected"      // selected by the agent's grid
	ReasonGridNotSelected Reason = "grid-not-selected"  // not selected by the grid (yet)
	ReasonGridFull        Reason = "grid-full"          // the agent's grid is full for the period
	ReasonAwaitAgent      Reason = "await-agent"        // recording only if the agent starts it
	ReasonAwaitSupervisor Reason = "await-supervisor"   // recording only on a supervisor's request
	ReasonAgentStarted    Reason = "agent-started"      // the agent started recording
	ReasonAgentStopped    Reason = "agent-stopped"      // the agent stopped recording
	ReasonSupervisor      Reason = "supervisor-request" // a supervisor asked for it
	ReasonStatute         Reason = "statute"            // a statute requires recording
	ReasonOutOfScope      Reason = "out-of-scope"       // statute mode, call not in scope
	ReasonObjected        Reason = "objected"           // the caller objected: stop and purge
	ReasonNoConsent       Reason = "no-consent"         // opt-in profile, no affirmative act (yet)
	ReasonPaused          Reason = "paused"             // paused (card data)
	// ReasonAgentCapReached: the agent's cap of an agent or supervisor
	// rule is used up for the period (R1): no manual start until the next.
	ReasonAgentCapReached Reason = "agent-cap-reached"
	// ReasonAgentNotInformed: the call's agent has not acknowledged the
	// employee notice in force (R19), so nothing of the call is recorded.
	ReasonAgentNotInformed Reason = "agent-not-informed"
)

// Requirement is what must happen before recording may start.
type Requirement uint8

// Requirements, combined as a bit set.
const (
	NeedNotice  Requirement = 1 << iota // a completed notice receipt (R14)
	NeedConsent                         // an affirmative act of the caller (R16)
)

// Has reports whether r includes q.
func (r Requirement) Has(q Requirement) bool { return r&q == q }

// ObjectionEffect says what a caller's objection does to the call.
type ObjectionEffect string

// Objection effects.
const (
	ObjectionStopAndPurge  ObjectionEffect = "stop-and-purge" // stop, delete what was captured (R15)
	ObjectionNotApplicable ObjectionEffect = "not-applicable" // statute: recording continues, caller informed
	ObjectionEndCall       ObjectionEffect = "end-call"       // FR insurance: refusal ends the call (R18)
)

// Decision is the explainable outcome for one call at one moment. It is a
// plain value: copying it is cheap and it holds no reference to the policy.
type Decision struct {
	Record        bool            // the call is selected for recording (purpose below)
	Capture       bool            // audio may be captured right now: Record, nothing Pending, not paused
	Purpose       Purpose         // the one purpose (empty when Record is false and none applies)
	Mode          Mode            // the policy's mode
	Reason        Reason          // why
	Profile       Profile         // the jurisdiction profile applied to this call
	PolicyVersion string          // hash of the canonical policy configuration
	Draw          uint64          // the keyed sampling draw (sampling and grid modes)
	Retention     Period          // the retention fixed by the purpose and policy
	Deadline      time.Time       // when a recording made now must be deleted
	LawfulBasis   string          // GDPR Art. 6 basis for this call (consent under opt-in profiles)
	Requires      Requirement     // what must happen before capture starts
	Pending       Requirement     // what of Requires has not happened yet
	Purge         bool            // the host must discard what was captured (objection)
	OnObjection   ObjectionEffect // what an objection does
	Candidate     bool            // recording may start later on an agent/supervisor action

	// What decided, for the audit trail (AuditEvent) and reports.
	Agent string // the call's agent (CallInfo.Agent)
	// Rule is 1 + the index in Policy.Rules of the rule that decided (the
	// one that selected the call, else the first that did not, else the
	// manual rule awaiting its trigger): the draw is Engine.Draw(Rule-1,
	// call id). 0 when no rule decided (policy off, excluded call).
	Rule    int
	Rate    float64 // the rule's sampling rate (ModeSampling)
	Cap     Cap     // the rule's cap (zero: none)
	Grid    Grid    // the rule's grid (ModeGrid)
	Statute string  // the statute requiring the recording (legal obligation)
}

// Signed returns d with its deadline moved to the retention counted from
// the contract's signature, for a recording whose statute counts from it
// (FR insurance canvassing, Code des assurances L.112-2-2: 2 years from the
// signature, R12; see also InsuranceDeadline). At the call the signature
// is not known, so the decision's deadline counts from the call: Signed
// moves it once the date is known. It returns an error wrapping
// ErrNotAllowed for any other decision, a zero time, or a signature
// that would bring the deadline before the one counted from the call.
func (d Decision) Signed(signed time.Time) (Decision, error) {
	st, ok := LookupStatute(d.Statute)
	switch {
	case !d.Record || !ok || !st.FromSignature:
		return d, fmt.Errorf("policy: signed: the retention of this recording (%s) does not run from a signature: %w", d.Statute, ErrNotAllowed)
	case signed.IsZero():
		return d, fmt.Errorf("policy: signed: no signature date: %w", ErrNotAllowed)
	}
	deadline := d.Retention.AddTo(signed.UTC())
	if deadline.Before(d.Deadline) {
		return d, fmt.Errorf("policy: signed: a signature on %s precedes the call: the deadline would come before %s (R12): %w",
			signed.UTC().Format(time.DateOnly), d.Deadline.Format(time.DateOnly), ErrNotAllowed)
	}
	d.Deadline = deadline
	return d, nil
}
