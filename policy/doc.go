// Package policy decides, for every call, whether it may be recorded, for
// which purpose, for how long, and what the caller must be told first.
//
// # Privacy by default
//
// The zero [Policy] records nothing (GDPR Art. 25(2)). Systematic recording
// (every call: a sampling rate of 1, a mode "always", rates that add up to 1)
// and quasi-systematic recording (a rate above [MaxSamplingRate], rates
// adding up above it, a rate above [CapRequiredAbove] without a cap, a grid
// above [MaxGridPerAgent] of its period or half an agent's expected calls)
// are refused as configuration errors unless the purpose is
// [LegalObligation] and the policy names a statute of the closed list
// ([Statutes]), which fixes the retention (CNIL: "ponctuel et aléatoire";
// sanctions KG COM, Cosmospace, BlueLink). Contract proof starts only on an
// agent's action; agent and supervisor rules may cap each agent's
// recordings per period ([ReasonAgentCapReached]).
//
// # Employees
//
// With [Options.AgentNoticeVersion] and [AgentNotices] (e.g.
// [AgentNoticeFile] in the data directory), a call whose agent has not
// acknowledged the employee notice in force is not recorded
// ([ReasonAgentNotInformed], R19). Acknowledgements are audited.
//
// # Purposes
//
// Each recording has one [Purpose] from a closed list. The purpose fixes the
// lawful basis, the maximum retention (a [Period] in calendar arithmetic) and
// the [Role]s that may access the recording ([Purpose.Rules]).
//
// # Deciding
//
// An [Engine] applies a validated policy. [Engine.Decide] is the decision at
// the start of a call: 0 allocations and well under a microsecond. The
// sampling draw is HMAC-SHA-256 of the call id under a secret key and the
// policy version, so decisions are reproducible and auditable but agents
// cannot predict them. Caps and grids count through a [Counter]
// ([MemCounter], or [FileCounter] to survive restarts).
//
// [Engine.Begin] returns a [Call] that follows the call's events: notice
// completed, consent, objection, agent or supervisor start and stop, pause
// and resume. Its [Decision] says whether the call is selected (Record),
// whether audio may be captured right now (Capture), what is still pending
// (notice, consent), and whether captured audio must be purged.
//
// # Jurisdictions
//
// A [Profile] per call sets what must happen first and what an objection
// does: FR, UK and the US profiles need the notice; DE needs the caller's
// consent; an unknown location gets the strictest rules; MiFID recordings
// continue after an objection; FR insurance canvassing ends the call
// ([ErrRecordingRefused]).
package policy
