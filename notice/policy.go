package notice

import (
	"time"

	"github.com/consentrec/consentrec/policy"
)

// PolicyEvent returns what the receipt tells a call's policy:
// EventNoticeCompleted when the caller heard the whole notice (recording
// that needs a notice may then start), EventNoticeInterrupted otherwise.
// An employee notice (Party agent) is not the caller's notice: feed it to
// the policy only if yours tracks the agent's notice.
func (r Receipt) PolicyEvent() policy.Event {
	k := policy.EventNoticeInterrupted
	if r.Completed() {
		k = policy.EventNoticeCompleted
	}
	return policy.Event{Kind: k, Actor: string(r.Party), Time: r.End, Party: policyParty(r.Party),
		Evidence: "notice:" + r.Version + "@" + r.Start.UTC().Format(time.RFC3339Nano)}
}

// PolicyEvent returns what the answer tells a call's policy:
// EventObjection or EventConsent (for ActionNone, the zero Event).
func (a Answer) PolicyEvent() policy.Event {
	var k policy.EventKind
	switch a.Action {
	case ActionObjection:
		k = policy.EventObjection
	case ActionConsent:
		k = policy.EventConsent
	default:
		return policy.Event{}
	}
	actor := a.Actor
	if a.Method != MethodSpoken {
		actor = string(a.Party)
	}
	return policy.Event{Kind: k, Actor: actor, Time: a.Time, Party: policyParty(a.Party),
		Evidence: a.Action.String() + ":" + string(a.Method) + ":" + a.Version + "@" + a.Time.UTC().Format(time.RFC3339Nano)}
}

// policyParty maps a notice party to the policy's: the zero Party is the
// caller (as for Player and Input).
func policyParty(p Party) policy.Party {
	if p == PartyAgent {
		return policy.PartyAgent
	}
	return policy.PartyCaller
}
