package policy

import "time"

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
}
