package notice

import "github.com/consentrec/consentrec/policy"

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
	return policy.Event{Kind: k, Actor: string(r.Party), Time: r.End}
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
	return policy.Event{Kind: k, Actor: actor, Time: a.Time}
}
