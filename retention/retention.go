package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/consentrec/consentrec/policy"
)

// Sentinel errors. Check them with errors.Is; every method documents which
// it returns.
var (
	// ErrNotFound: no recording with that id in the catalog.
	ErrNotFound = errors.New("recording not found")
	// ErrExists: Add of an id already catalogued.
	ErrExists = errors.New("recording already catalogued")
	// ErrHeld: the recording is under legal hold; it cannot be deleted,
	// erased or marked for deletion.
	ErrHeld = errors.New("recording under legal hold")
	// ErrPendingDeletion: the recording is being deleted (a sweep or an
	// erasure began and will finish); it can no longer be held or opened.
	ErrPendingDeletion = errors.New("recording pending deletion")
	// ErrNoSuchHold: Release names a case the recording is not held for.
	ErrNoSuchHold = errors.New("no legal hold for that case")
	// ErrInvalid: a malformed argument (empty id, unknown purpose, zero
	// time, missing case reference or approver...). Wrapped in an
	// *InvalidError naming the field.
	ErrInvalid = errors.New("invalid argument")
	// ErrNotConfigured: a Sweeper, Gate, Holds or Subjects is missing a
	// required dependency (catalog, store or audit log).
	ErrNotConfigured = errors.New("not configured")
	// ErrDenied: the access gate refused an access. Wrapped in a
	// *DeniedError that says why.
	ErrDenied = errors.New("access denied")
	// ErrNotErasable: erasure refused for a recording kept under a legal
	// obligation (GDPR Art. 17(3)(b)).
	ErrNotErasable = errors.New("recording kept under a legal obligation: not erasable")
	// ErrIntegrity: a recording's bytes do not match the SHA-256 recorded
	// in the catalog. Stores return their own integrity error (for
	// recorder.Store, recorder.ErrIntegrity); see Gate.IsIntegrity.
	ErrIntegrity = errors.New("recording integrity check failed")
	// ErrIncomplete: a subject request could not be served for every
	// recording; the report lists which and why.
	ErrIncomplete = errors.New("request incomplete")
)

// InvalidError is a bad argument: it names the field and says what is wrong.
// It wraps ErrInvalid.
type InvalidError struct {
	Field string
	Msg   string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Store is the audio storage the retention package deletes from and reads
// through. recorder.Store satisfies it as is.
//
// Open returns a reader on a finalized recording. It verifies the recording's
// integrity before returning and returns an error (recorder.ErrIntegrity for
// the recorder's store) on mismatch, never a reader on corrupted bytes.
// Delete removes a recording and its metadata; deleting an unknown id returns
// an error wrapping fs.ErrNotExist, which this package treats as "already
// deleted" so that every operation can be retried. Both may be called
// concurrently and honour ctx.
type Store interface {
	Open(ctx context.Context, id string) (io.ReadCloser, error)
	Delete(ctx context.Context, id string) error
}

// DecodingStore is an optional interface of a Store whose Open returns other
// bytes than those it stores and whose digest is catalogued: it decrypts
// (recorder/agestore). Such a store checks the stored bytes against their
// digest itself before Open returns and authenticates what it decodes, so
// the Gate and exports do not re-hash the decoded stream against the
// catalogued SHA-256 (it would never match).
type DecodingStore interface {
	Store
	OpenDecodes() bool
}

// decodes reports whether s opens decoded bytes (see DecodingStore).
func decodes(s Store) bool {
	d, ok := s.(DecodingStore)
	return ok && d.OpenDecodes()
}

// Hold is one legal hold on a recording: it blocks expiry and erasure until
// released. A recording may be held for several cases at once; it stays held
// until every case is released. There is no cap on the number of holds.
type Hold struct {
	Case     string    // case reference, e.g. "RG 24/01234"
	Approver string    // the named person who approved the hold
	Since    time.Time // when the hold was set (UTC)
}

// Gap is a stretch of a recording where audio was not captured (pause for
// card data, loss), as offsets from the start of the recording.
type Gap struct {
	Start  time.Duration
	End    time.Duration
	Reason string
	Actor  string // who paused (pauses); empty otherwise
	Note   string // the reason the actor gave (e.g. "card-data"), or details
}

// Deletion says why a recording is being deleted. Once a deletion began, it
// is finished by the next sweep even if the process dies in between.
type Deletion string

// Deletion causes.
const (
	DeletionNone    Deletion = ""
	DeletionExpiry  Deletion = "expiry"  // its retention deadline passed
	DeletionErasure Deletion = "erasure" // the data subject asked (GDPR Art. 17)
)

// Recording is one catalogued recording. It holds no personal data in clear:
// Subject is a keyed hash (policy.SubjectKey).
type Recording struct {
	ID          string
	CallID      string
	Purpose     policy.Purpose
	LawfulBasis string    // GDPR Art. 6 basis, fixed by the purpose
	Created     time.Time // UTC
	Deadline    time.Time // fixed at creation from the purpose; never moves
	Subject     string    // policy.SubjectKey of the caller; empty if unknown
	SHA256      string    // hex digest of the finalized file
	Gaps        []Gap
	Holds       []Hold   // legal holds, in the order they were set
	Deletion    Deletion // non-empty once a deletion began
	// KeepUntil is the statute's minimum for a recording kept under a
	// legal obligation (R11, R12): before it the recording cannot be
	// deleted, shredded or erased, hold or no hold. Zero: no minimum
	// beyond the purpose's own rule (see CheckDestroy).
	KeepUntil time.Time
	// AccessRoles narrows the roles the purpose allows (the policy rule's
	// access_roles, R25); empty: every role of the purpose.
	AccessRoles []policy.Role
}

// Held reports whether r is under at least one legal hold.
func (r Recording) Held() bool { return len(r.Holds) > 0 }

// Expired reports whether r's deadline is at or before t: a recording is
// due at its deadline exactly, not a nanosecond later.
func (r Recording) Expired(t time.Time) bool { return !r.Deadline.After(t) }

// Clone returns a deep copy of r.
func (r Recording) Clone() Recording {
	r.Gaps = slices.Clone(r.Gaps)
	r.Holds = slices.Clone(r.Holds)
	r.AccessRoles = slices.Clone(r.AccessRoles)
	return r
}

// HoldFor returns the hold for case ref, if any.
func (r Recording) HoldFor(ref string) (Hold, bool) {
	for _, h := range r.Holds {
		if h.Case == ref {
			return h, true
		}
	}
	return Hold{}, false
}

// ConsentBasis is the lawful basis of recordings made with the caller's
// consent (opt-in profiles such as DE): GDPR Art. 6(1)(a).
const ConsentBasis = "6(1)(a) consent"

// Entry is what a host knows when a recording is finalized; New turns it into
// a Recording. A host holding the policy's decision (the call session) passes
// its lawful basis, deadline, statutory minimum and access roles; the others
// leave them zero and get the purpose's.
type Entry struct {
	ID        string
	CallID    string
	Purpose   policy.Purpose
	Created   time.Time
	Retention policy.Period // zero: the purpose's default retention
	Subject   string        // policy.SubjectKey(secret, caller id)
	SHA256    string
	Gaps      []Gap
	// LawfulBasis is the basis the policy decided (a policy.Grant's, e.g.
	// consent under an opt-in profile, R8): the purpose's or ConsentBasis.
	// Empty: the purpose's.
	LawfulBasis string
	// Deadline is the deadline the policy fixed (a policy.Grant's). Zero:
	// Created plus Retention. A deadline before Created, beyond the
	// purpose's maximum retention from Created (R9-R11) or before
	// KeepUntil (R11) is refused.
	Deadline time.Time
	// KeepUntil is the statute's minimum (legal obligation only, R11,
	// R12): no deletion, shredding or erasure before it. Zero: none.
	KeepUntil time.Time
	// AccessRoles are the policy rule's access_roles: they narrow the
	// purpose's roles and may never widen them (R25). Empty: the purpose's.
	AccessRoles []policy.Role
}

// New returns the catalog record of e: the lawful basis comes from the
// entry, else from the purpose, and the deadline is the entry's, else
// Created plus the retention (calendar arithmetic). It refuses an unknown
// purpose, a retention or deadline beyond the purpose's maximum (R9-R11), a
// deadline before the statute's minimum (R11), a subject that is not a keyed
// hash (a clear phone number must never reach the catalog), a malformed
// SHA-256, a call id over 1024 bytes and a creation or deadline outside
// 1678-2262, with an error wrapping ErrInvalid (an *InvalidError naming the
// field and the rule).
func New(e Entry) (Recording, error) {
	if err := validID(e.ID); err != nil {
		return Recording{}, err
	}
	if err := validCallID(e.CallID); err != nil {
		return Recording{}, err
	}
	rules, err := e.Purpose.Rules()
	if err != nil {
		return Recording{}, invalid("purpose", "%v", err)
	}
	if e.Created.IsZero() {
		return Recording{}, invalid("created", "zero time")
	}
	period := e.Retention
	if period.IsZero() {
		period = rules.DefaultRetention
	}
	if !rules.MaxRetention.IsZero() && period.Exceeds(rules.MaxRetention) {
		return Recording{}, invalid("retention", "%s exceeds the maximum %s for purpose %s (%s)", period, rules.MaxRetention, e.Purpose, retentionRule(e.Purpose))
	}
	if err := validSubject(e.Subject); err != nil {
		return Recording{}, err
	}
	if err := validSHA(e.SHA256); err != nil {
		return Recording{}, err
	}
	created := e.Created.UTC().Round(0)
	if err := validInstant("created", created); err != nil {
		return Recording{}, err
	}
	deadline := period.AddTo(created)
	if !e.Deadline.IsZero() {
		deadline = e.Deadline.UTC().Round(0)
		if deadline.Before(created) {
			return Recording{}, invalid("deadline", "%s is before the recording was made (%s)", deadline.Format(time.RFC3339), created.Format(time.RFC3339))
		}
	}
	if err := validInstant("deadline", deadline); err != nil {
		return Recording{}, err
	}
	basis := rules.LawfulBasis
	if e.LawfulBasis != "" {
		if e.LawfulBasis != basis && e.LawfulBasis != ConsentBasis {
			return Recording{}, invalid("lawful_basis", "%q is neither the basis of purpose %s (%q) nor consent (%q) (R8)", e.LawfulBasis, e.Purpose, basis, ConsentBasis)
		}
		basis = e.LawfulBasis
	}
	// The deadline's bounds (R9-R11) are checked by Validate, naming the rule.
	r := Recording{
		ID:          e.ID,
		CallID:      e.CallID,
		Purpose:     e.Purpose,
		LawfulBasis: basis,
		Created:     created,
		Deadline:    deadline,
		Subject:     e.Subject,
		SHA256:      strings.ToLower(e.SHA256),
		Gaps:        slices.Clone(e.Gaps),
		AccessRoles: slices.Clone(e.AccessRoles),
	}
	if !e.KeepUntil.IsZero() {
		r.KeepUntil = e.KeepUntil.UTC().Round(0)
	}
	if err := r.Validate(); err != nil {
		return Recording{}, err
	}
	return r, nil
}

// retentionRule names the rule that bounds the retention of purpose p.
func retentionRule(p policy.Purpose) string {
	switch p {
	case policy.ContractProof:
		return "R10"
	case policy.LegalObligation:
		return "R11"
	}
	return "R9"
}

// validBasis checks a lawful basis names one of GDPR Art. 6(1) (a)-(f).
func validBasis(b string) error {
	if len(b) < 7 || !strings.HasPrefix(b, "6(1)(") || b[6] != ')' || b[5] < 'a' || b[5] > 'f' {
		return invalid("lawful basis", "%q is not a GDPR Art. 6(1)(a)-(f) basis, e.g. \"6(1)(f) legitimate interests\" (R8)", b)
	}
	return nil
}

// Validate checks r before it is catalogued: backends call it in Add.
func (r Recording) Validate() error {
	if err := validID(r.ID); err != nil {
		return err
	}
	if err := validCallID(r.CallID); err != nil {
		return err
	}
	if !r.Purpose.Valid() {
		return invalid("purpose", "unknown purpose %q", r.Purpose)
	}
	if r.Created.IsZero() || r.Deadline.IsZero() {
		return invalid("deadline", "created and deadline must be set")
	}
	if err := validInstant("created", r.Created); err != nil {
		return err
	}
	if err := validInstant("deadline", r.Deadline); err != nil {
		return err
	}
	if r.Deadline.Before(r.Created) {
		return invalid("deadline", "before creation")
	}
	rules, _ := r.Purpose.Rules()
	if r.LawfulBasis != "" { // catalogues before R8 stored the purpose's
		if err := validBasis(r.LawfulBasis); err != nil {
			return err
		}
		if r.Purpose == policy.LegalObligation && r.LawfulBasis[5] != 'c' && r.LawfulBasis[5] != 'e' {
			return invalid("lawful basis", "%q for a recording kept under a legal obligation: want 6(1)(c) or 6(1)(e) (R8)", r.LawfulBasis)
		}
	}
	if !rules.MaxRetention.IsZero() {
		if max := rules.MaxRetention.AddTo(r.Created); r.Deadline.After(max) {
			return invalid("deadline", "%s is beyond the maximum retention %s of purpose %s (at most %s) (%s)",
				r.Deadline.Format(time.RFC3339), rules.MaxRetention, r.Purpose, max.Format(time.RFC3339), retentionRule(r.Purpose))
		}
	}
	if !r.KeepUntil.IsZero() {
		if err := validInstant("keep until", r.KeepUntil); err != nil {
			return err
		}
		switch {
		case rules.Erasable:
			return invalid("keep until", "a statutory minimum applies only to recordings kept under a legal obligation, not purpose %s (R11, R30)", r.Purpose)
		case r.KeepUntil.Before(r.Created):
			return invalid("keep until", "before creation")
		case r.Deadline.Before(r.KeepUntil):
			return invalid("deadline", "%s is before the statute's minimum %s: a recording kept under a legal obligation may not go early (R11)",
				r.Deadline.Format(time.RFC3339), r.KeepUntil.Format(time.RFC3339))
		}
	}
	for _, role := range r.AccessRoles {
		if !r.Purpose.Allows(role) {
			return invalid("access roles", "role %q is not one of purpose %s's (%s): access_roles narrow, never widen (R25)",
				role, r.Purpose, joinRoles(rules.AccessRoles))
		}
	}
	if err := validSubject(r.Subject); err != nil {
		return err
	}
	if err := validSHA(r.SHA256); err != nil {
		return err
	}
	if r.Deletion != DeletionNone {
		return invalid("deletion", "a new recording cannot be pending deletion")
	}
	for _, h := range r.Holds {
		if err := namedHold(h); err != nil {
			return err
		}
	}
	return nil
}

func joinRoles(rs []policy.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func validID(id string) error {
	switch {
	case id == "":
		return invalid("id", "empty")
	case len(id) > 256:
		return invalid("id", "longer than 256 bytes")
	case strings.ContainsAny(id, "/\\\x00") || id == "." || id == "..":
		return invalid("id", "%q is not a plain name", id)
	}
	return nil
}

// Catalogs keep instants as Unix nanoseconds (an int64): a time outside
// that range would wrap around, and a deadline in 2265 would come back in
// 1680, expired at once.
var (
	minInstant = time.Unix(0, math.MinInt64).UTC()
	maxInstant = time.Unix(0, math.MaxInt64).UTC()
)

func validInstant(field string, t time.Time) error {
	if t.Before(minInstant) || t.After(maxInstant) {
		return invalid(field, "%s is outside the representable range (%d to %d)", t.UTC().Format(time.RFC3339), minInstant.Year(), maxInstant.Year())
	}
	return nil
}

// validCallID bounds the call id: it is in every audit entry about the
// recording, and an entry that cannot be appended blocks its deletion (and
// so every sweep after it).
func validCallID(id string) error {
	if len(id) > 1024 {
		return invalid("call id", "longer than 1024 bytes")
	}
	return nil
}

func validSubject(s string) error {
	if s == "" {
		return nil
	}
	const prefix = "sk1:"
	if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+64 || !isHex(s[len(prefix):]) {
		return invalid("subject", "not a keyed hash (policy.SubjectKey): never catalogue a clear identifier")
	}
	return nil
}

func validSHA(s string) error {
	if s == "" {
		return nil
	}
	if len(s) != 64 || !isHex(s) {
		return invalid("sha256", "not 64 hex digits")
	}
	return nil
}

// namedHold checks a hold names its case and approver.
func namedHold(h Hold) error {
	if strings.TrimSpace(h.Case) == "" {
		return invalid("case", "a legal hold needs a case reference")
	}
	if strings.TrimSpace(h.Approver) == "" {
		return invalid("approver", "a legal hold needs a named approver")
	}
	return nil
}

// maxHoldField bounds a hold's case reference and approver: each is audited
// (twice for the case), and a hold must never be in force without its entry.
const maxHoldField = 1024

func validHold(h Hold) error {
	if err := namedHold(h); err != nil {
		return err
	}
	if len(h.Case) > maxHoldField || len(h.Approver) > maxHoldField {
		return invalid("hold", "case reference and approver are limited to %d bytes each", maxHoldField)
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
