package notice

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Action is what a caller's input means.
type Action uint8

// Actions.
const (
	ActionNone      Action = iota // an unmapped key, or a repeated answer
	ActionObjection               // the caller objects: stop and purge (or end the call, per policy)
	ActionConsent                 // the caller consents (opt-in profiles)
)

func (a Action) String() string {
	switch a {
	case ActionObjection:
		return "objection"
	case ActionConsent:
		return "consent"
	}
	return "none"
}

// Method is how an answer was given.
type Method string

// Methods.
const (
	MethodRFC4733 Method = "dtmf-rfc4733" // telephone-event packets
	MethodInBand  Method = "dtmf-inband"  // tones detected in the audio
	MethodSpoken  Method = "spoken"       // said aloud, reported by the agent
	MethodButton  Method = "button"       // a button of the application (e.g. the widget's "I object")
)

// Keys maps DTMF keys to answers. The zero value maps '9' to objection and
// nothing to consent: a consent key must be chosen explicitly, and said in
// the prompt, so that no stray key counts as a "yes".
type Keys struct {
	Object  Key // default '9'
	Consent Key // default none
}

func (k Keys) object() Key {
	if k.Object == 0 {
		return '9'
	}
	return k.Object
}

// Answer is one meaningful input of a caller.
type Answer struct {
	Action  Action
	Key     Key    // the key pressed, 0 for spoken or button answers
	Method  Method // how it was given
	Party   Party
	Time    time.Time
	Version string // the version of the prompt that asked (evidence, R16)
	Actor   string // who reported it ("system" for keys, the agent id for spoken answers)
}

// Handler receives the answers of a call. HandleAnswer is called
// synchronously, in order, after the answer is in the audit log; it must not
// block for long (start the policy's and recorder's work, do not wait on it).
type Handler interface {
	HandleAnswer(ctx context.Context, a Answer)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, a Answer)

// HandleAnswer calls f(ctx, a).
func (f HandlerFunc) HandleAnswer(ctx context.Context, a Answer) { f(ctx, a) }

// Input turns a call's key presses and reported objections into answers:
// it logs each answer to the audit log (an objection never carries audio)
// and then tells the Handler. The first objection wins: later keys, and
// consent after an objection, are ignored. Repeated consents are logged once.
// Its methods are safe for concurrent use (an RTP reader and the host).
type Input struct {
	CallID  string
	Party   Party          // default PartyCaller
	Keys    Keys           // key map
	Log     audit.Appender // required: where answers are appended
	Handler Handler        // optional: told of every answer, after the log
	Now     func() time.Time

	mu        sync.Mutex
	version   string
	objected  bool
	consented bool
}

// ErrNoLog: an Input has no audit log, so it cannot keep proof of answers.
var ErrNoLog = errors.New("notice: input has no audit log")

// SetPrompt records the version of the prompt being played, kept with every
// later answer as the evidence of what the caller was asked.
func (in *Input) SetPrompt(version string) {
	in.mu.Lock()
	in.version = version
	in.mu.Unlock()
}

// Objected reports whether the caller objected.
func (in *Input) Objected() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.objected
}

// Consented reports whether the caller consented and has not objected since.
func (in *Input) Consented() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.consented && !in.objected
}

// Key handles a key press. It returns the answer's action (ActionNone for
// unmapped or repeated keys, which are not logged). An error means the
// answer could not be logged; the Handler is still told of an objection,
// since honouring it must never depend on the log.
func (in *Input) Key(ctx context.Context, k Key, m Method) (Action, error) {
	var act Action
	switch {
	case k == in.Keys.object():
		act = ActionObjection
	case in.Keys.Consent != 0 && k == in.Keys.Consent:
		act = ActionConsent
	default:
		return ActionNone, nil
	}
	return in.answer(ctx, Answer{Action: act, Key: k, Method: m, Actor: "system"})
}

// Object reports an objection not made with a key: said aloud to the agent
// (MethodSpoken, actor the agent's id) or with an application button.
func (in *Input) Object(ctx context.Context, m Method, actor string) (Action, error) {
	return in.answer(ctx, Answer{Action: ActionObjection, Method: m, Actor: actor})
}

// Consent reports a consent not made with a key (e.g. a spoken "yes" the
// agent confirms).
func (in *Input) Consent(ctx context.Context, m Method, actor string) (Action, error) {
	return in.answer(ctx, Answer{Action: ActionConsent, Method: m, Actor: actor})
}

func (in *Input) answer(ctx context.Context, a Answer) (Action, error) {
	in.mu.Lock()
	if in.objected || a.Action == ActionConsent && in.consented {
		in.mu.Unlock()
		return ActionNone, nil
	}
	if a.Action == ActionObjection {
		in.objected = true
	} else {
		in.consented = true
	}
	a.Version = in.version
	in.mu.Unlock()

	a.Party = in.Party
	if a.Party == "" {
		a.Party = PartyCaller
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	a.Time = now().UTC()

	var err error
	if in.Log == nil {
		err = ErrNoLog
	} else if _, lerr := in.Log.Append(ctx, a.Event(in.CallID)); lerr != nil {
		err = fmt.Errorf("notice: log %s: %w", a.Action, lerr)
	}
	if err != nil && a.Action == ActionConsent {
		// A consent without proof is no consent (R16): undo it.
		in.mu.Lock()
		in.consented = false
		in.mu.Unlock()
		return ActionNone, err
	}
	if in.Handler != nil {
		in.Handler.HandleAnswer(ctx, a)
	}
	return a.Action, err
}

// Event returns the answer as an audit event: KindObjection or
// KindConsentGiven, with Attrs method, party, key (if any) and prompt
// version. It never carries audio.
func (a Answer) Event(callID string) audit.Event {
	kind := audit.KindConsentGiven
	if a.Action == ActionObjection {
		kind = audit.KindObjection
	}
	attrs := []audit.Attr{
		{Key: "method", Value: string(a.Method)},
		{Key: "party", Value: string(a.Party)},
	}
	if a.Key != 0 {
		attrs = append(attrs, audit.Attr{Key: "key", Value: a.Key.String()})
	}
	attrs = append(attrs, audit.Attr{Key: "prompt_version", Value: a.Version})
	return audit.Event{Kind: kind, Time: a.Time, CallID: callID, Actor: a.Actor, Attrs: attrs}
}
