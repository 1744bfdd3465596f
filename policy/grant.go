package policy

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Grant errors. Check them with errors.Is.
var (
	// ErrNoGrant: a zero Grant (never minted by a Call).
	ErrNoGrant = errors.New("no recording grant")
	// ErrRevoked: the grant was revoked (objection, consent withdrawn,
	// recording stopped) or spent (the call ended). A revoked grant never
	// becomes valid again: a new one must be asked of the Call.
	ErrRevoked = errors.New("recording grant revoked")
	// ErrForeignGrant: the grant was minted for another call.
	ErrForeignGrant = errors.New("recording grant for another call")
)

// Grant is the policy's permission to capture the audio of one call, for
// one purpose: a capability, not a flag. Only a Call mints one (Call.Grant),
// and only when the call's decision allows capture: the call is selected,
// the caller was told (and consented, under opt-in profiles), nobody
// objected. The recorder refuses to start without a valid grant for its
// call (recorder.Recorder.Start).
//
// A Grant is a small value holding a pointer to state only this package
// fills: copies share it, so a revoked grant stays revoked in every copy,
// and the zero Grant is never valid. The Call revokes its grant when the
// decision no longer allows recording (an objection, consent withdrawn, the
// agent stopping, the end of the call); a pause does not revoke it. Every
// method is safe for concurrent use and safe on the zero Grant.
type Grant struct{ g *grant }

type grant struct {
	callID    string
	agent     string
	purpose   Purpose
	mode      Mode
	reason    Reason
	profile   Profile
	basis     string
	retention Period
	deadline  time.Time
	version   string
	draw      uint64
	receipts  []string
	issued    time.Time
	keepUntil time.Time // the statute's minimum (legal obligation)
	roles     []Role    // the rule's access roles (narrowing the purpose's)

	mu      sync.Mutex
	revoked error
	next    int
	watch   map[int]func(error)
}

// IsZero reports whether g is the zero Grant.
func (g Grant) IsZero() bool { return g.g == nil }

// Err returns nil while g allows capture, ErrNoGrant for the zero Grant, and
// an error wrapping ErrRevoked (with the reason) once it was revoked.
func (g Grant) Err() error {
	if g.g == nil {
		return ErrNoGrant
	}
	g.g.mu.Lock()
	defer g.g.mu.Unlock()
	return g.g.revoked
}

// Check returns nil if g allows capturing call callID now: it is not zero,
// not revoked, and was minted for that call (else an error wrapping
// ErrNoGrant, ErrRevoked or ErrForeignGrant).
func (g Grant) Check(callID string) error {
	if err := g.Err(); err != nil {
		return err
	}
	if g.g.callID != callID {
		return fmt.Errorf("grant for call %q used on call %q: %w", g.g.callID, callID, ErrForeignGrant)
	}
	return nil
}

// AfterRevoke arranges for f to be called, on its own goroutine, once g is
// revoked, with the cause (wrapping ErrRevoked); at once if it already is.
// Like context.AfterFunc, stop unregisters f and reports whether it did so
// before f was started. It costs no goroutine while waiting. On the zero
// Grant f is called at once with ErrNoGrant.
func (g Grant) AfterRevoke(f func(cause error)) (stop func() bool) {
	if g.g == nil {
		go f(ErrNoGrant)
		return func() bool { return false }
	}
	s := g.g
	s.mu.Lock()
	if s.revoked != nil {
		err := s.revoked
		s.mu.Unlock()
		go f(err)
		return func() bool { return false }
	}
	id := s.next
	s.next++
	if s.watch == nil {
		s.watch = map[int]func(error){}
	}
	s.watch[id] = f
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.watch[id]
		delete(s.watch, id)
		return ok
	}
}

func (g *grant) revoke(cause error) {
	g.mu.Lock()
	if g.revoked != nil {
		g.mu.Unlock()
		return
	}
	g.revoked = cause
	fs := g.watch
	g.watch = nil
	g.mu.Unlock()
	for _, f := range fs {
		go f(cause)
	}
}

// CallID is the call the grant allows recording. Empty on the zero Grant.
func (g Grant) CallID() string { return g.field(func(s *grant) string { return s.callID }) }

// Agent is the agent of the call (as in CallInfo).
func (g Grant) Agent() string { return g.field(func(s *grant) string { return s.agent }) }

// Purpose is the one purpose of the recording (R6).
func (g Grant) Purpose() Purpose {
	return Purpose(g.field(func(s *grant) string { return string(s.purpose) }))
}

// Mode is the rule's mode that selected the call (sampling, agent...).
func (g Grant) Mode() Mode { return Mode(g.field(func(s *grant) string { return string(s.mode) })) }

// Reason is why the call is recorded (sampled, agent-started...).
func (g Grant) Reason() Reason {
	return Reason(g.field(func(s *grant) string { return string(s.reason) }))
}

// Profile is the jurisdiction profile the decision applied.
func (g Grant) Profile() Profile {
	return Profile(g.field(func(s *grant) string { return string(s.profile) }))
}

// LawfulBasis is the GDPR Art. 6 basis of the recording (consent under
// opt-in profiles), to be catalogued as is (R8).
func (g Grant) LawfulBasis() string { return g.field(func(s *grant) string { return s.basis }) }

// PolicyVersion is the version of the policy that decided.
func (g Grant) PolicyVersion() string { return g.field(func(s *grant) string { return s.version }) }

// Retention is the retention the purpose and the rule fix (R9).
func (g Grant) Retention() Period {
	if g.g == nil {
		return Period{}
	}
	return g.g.retention
}

// Deadline is when a recording made under g must be deleted: the start of
// the recording plus the retention. It is counted from when the grant was
// minted; a recording started later keeps this deadline (never later).
func (g Grant) Deadline() time.Time {
	if g.g == nil {
		return time.Time{}
	}
	return g.g.deadline
}

// KeepUntil is the earliest a recording made under g may be destroyed: the
// statute's minimum retention for a legal obligation (R11, R12), zero
// otherwise.
func (g Grant) KeepUntil() time.Time {
	if g.g == nil {
		return time.Time{}
	}
	return g.g.keepUntil
}

// AccessRoles are the roles the policy's rule lets open the recording (they
// narrow the purpose's; empty: the purpose's own, R25).
func (g Grant) AccessRoles() []Role {
	if g.g == nil {
		return nil
	}
	return slices.Clone(g.g.roles)
}

// Issued is when the Call minted g.
func (g Grant) Issued() time.Time {
	if g.g == nil {
		return time.Time{}
	}
	return g.g.issued
}

// Draw is the keyed sampling draw (sampling and grid modes).
func (g Grant) Draw() uint64 {
	if g.g == nil {
		return 0
	}
	return g.g.draw
}

// Receipts lists the evidence the grant rests on, in the order it
// happened: the notice receipts and consents that satisfied the decision's
// requirements (their Event.Evidence, e.g. "notice:<prompt version>").
func (g Grant) Receipts() []string {
	if g.g == nil {
		return nil
	}
	return slices.Clone(g.g.receipts)
}

// String describes g in one line.
func (g Grant) String() string {
	if g.g == nil {
		return "grant(none)"
	}
	state := "valid"
	if err := g.Err(); err != nil {
		state = err.Error()
	}
	return fmt.Sprintf("grant(call %s, %s, %s, basis %s, delete by %s: %s)", g.g.callID, g.g.purpose, g.g.reason,
		g.g.basis, g.g.deadline.UTC().Format(time.DateOnly), state)
}

func (g Grant) field(f func(*grant) string) string {
	if g.g == nil {
		return ""
	}
	return f(g.g)
}
