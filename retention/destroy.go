package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// DeletionDestroyed: a person destroyed the recording before its deadline
// (an early deletion, a key shredding) through a Destroyer.
const DeletionDestroyed Deletion = "destroyed"

// KeptError is a destruction refused because the recording must be kept:
// it is under legal hold (Err is ErrHeld) or kept under a legal obligation
// whose minimum has not passed (Err is ErrNotErasable). Rule names the rules
// (R11, R13, R30).
type KeptError struct {
	ID   string
	Rule string
	Why  string
	Err  error
}

func (e *KeptError) Error() string {
	return fmt.Sprintf("recording %s may not be destroyed: %s (%s)", e.ID, e.Why, e.Rule)
}

// Unwrap returns ErrHeld or ErrNotErasable.
func (e *KeptError) Unwrap() error { return e.Err }

// Minimum returns the earliest instant a person may destroy r: for a
// recording kept under a legal obligation (its purpose is not erasable),
// the statute's minimum KeepUntil or, when none is catalogued, its deadline;
// the zero time for the others.
func (r Recording) Minimum() time.Time {
	if rules, err := r.Purpose.Rules(); err == nil && rules.Erasable {
		return time.Time{}
	}
	if !r.KeepUntil.IsZero() {
		return r.KeepUntil
	}
	return r.Deadline
}

// CheckDestroy reports whether a person may destroy r at t (erase it for its
// subject, shred its key, delete it early): nil if so, else a *KeptError
// saying why. A hold always keeps it (R13, GDPR Art. 17(3)(e)); a recording
// kept under a legal obligation is kept until its Minimum, hold or no hold
// (R11, Art. 17(3)(b)).
func (r Recording) CheckDestroy(t time.Time) error {
	if r.Held() {
		return &KeptError{ID: r.ID, Rule: "R13, R30", Why: holdReason(r), Err: ErrHeld}
	}
	if m := r.Minimum(); !m.IsZero() && t.Before(m) {
		return &KeptError{ID: r.ID, Rule: "R11, R30", Err: ErrNotErasable,
			Why: fmt.Sprintf("kept under a legal obligation (GDPR Art. 17(3)(b)): purpose %s, not before %s",
				r.Purpose, m.UTC().Format("2006-01-02"))}
	}
	return nil
}

// Destroyer destroys one catalogued recording before its deadline on a
// person's word: an operator's early deletion, a key shredding. Hosts call
// it instead of Store.Delete, which knows nothing of holds or statutes: it
// asks the catalog first and refuses, with the reason, a recording under
// legal hold or kept under a legal obligation (see Recording.CheckDestroy);
// every refusal is audited (KindAccessDenied, action "destroy", with the
// rule) and so is every destruction (Kind). Like a sweep, a destruction
// killed half-way is finished by the next sweep.
//
// Who destroys is authenticated by the Authorizer and must hold RoleDPO
// (R25).
//
// Catalog, Store, Audit and Authorizer are required. Safe for concurrent
// use.
type Destroyer struct {
	Catalog    Catalog
	Store      Store
	Audit      audit.Appender
	Authorizer Authorizer
	Now        func() time.Time // nil: time.Now
	// Kind is the audit event of a completed destruction; zero means
	// audit.KindRetentionDeleted (a key shredding passes KindKeyShredded).
	Kind audit.Kind
}

// ActionDestroy is the audited action of a Destroyer.
const ActionDestroy Action = "destroy"

// Destroy destroys recording id for whom the Authorizer names, who must
// hold RoleDPO and give a reason. Errors: a *KeptError (ErrHeld,
// ErrNotErasable) when the recording must be kept, ErrNotFound (audited as
// a refusal too: an uncatalogued recording's holds cannot be checked),
// ErrUnauthenticated or ErrDenied (audited), ErrInvalid for an empty
// reason, ErrNotConfigured, or the audit log's error (then nothing was
// destroyed, or the deletion is left marked for the next sweep to finish).
// A deletion already begun is finished.
func (d *Destroyer) Destroy(ctx context.Context, id, reason string) (Deleted, error) {
	if d.Catalog == nil || d.Store == nil || d.Audit == nil || d.Authorizer == nil {
		return Deleted{}, fmt.Errorf("destroy: catalog, store, audit log and authorizer are required: %w", ErrNotConfigured)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Deleted{}, fmt.Errorf("destroy %s: %w", id, invalid("reason", "a destruction needs a reason (R26)"))
	}
	p, why, aerr := authenticate(ctx, d.Authorizer, AccessRequest{Principal: Principal{Role: RoleDPO}, RecordingID: id, Action: ActionDestroy, Reason: reason})
	if aerr == nil && !slices.Contains(p.granted(), RoleDPO) {
		why = fmt.Sprintf("%s does not hold role %s, which may destroy a recording early (R25); granted: %s", p.ID, RoleDPO, orNone(p.granted()))
		aerr = ErrDenied
	}
	actor := p.ID
	now := nowFunc(d.Now)
	refuse := func(r Recording, rule, why string, cause error) error {
		e := accessEvent(audit.KindAccessDenied, r, now(), Principal{ID: actor}, ActionDestroy, reason)
		e.Attrs = append(e.Attrs, audit.Attr{Key: "denied", Value: why}, audit.Attr{Key: "rule", Value: rule})
		if err := appendEvent(ctx, d.Audit, e); err != nil {
			return fmt.Errorf("destroy %s: %w", id, errors.Join(cause, err))
		}
		return fmt.Errorf("destroy: %w", cause)
	}
	r, err := d.Catalog.Get(ctx, id)
	if aerr != nil {
		if err != nil {
			r = Recording{ID: UnknownID(id)}
		}
		return Deleted{}, refuse(r, "R25", why, errors.Join(aerr, &DeniedError{RecordingID: id, Principal: p, Action: ActionDestroy, Why: why}))
	}
	if errors.Is(err, ErrNotFound) {
		why := "not in the catalog: its holds and retention cannot be checked"
		return Deleted{}, refuse(Recording{ID: UnknownID(id)}, "R13", why, fmt.Errorf("%s: %s (R13): %w", id, why, ErrNotFound))
	}
	if err != nil {
		return Deleted{}, fmt.Errorf("destroy: %w", err)
	}
	if r.Deletion == DeletionNone {
		if err := r.CheckDestroy(now()); err != nil {
			var k *KeptError
			errors.As(err, &k)
			return Deleted{}, refuse(r, k.Rule, k.Why, err)
		}
		m, err := d.Catalog.BeginDelete(ctx, id, DeletionDestroyed)
		switch {
		case errors.Is(err, ErrHeld): // held since it was read
			if r, err = d.Catalog.Get(ctx, id); err != nil {
				return Deleted{}, fmt.Errorf("destroy: %w", err)
			}
			k := &KeptError{ID: id, Rule: "R13, R30", Why: holdReason(r), Err: ErrHeld}
			return Deleted{}, refuse(r, k.Rule, k.Why, k)
		case err != nil:
			return Deleted{}, fmt.Errorf("destroy: %w", err)
		}
		r = m
	}
	e := deletedEvent(r, now(), actor, reason)
	if d.Kind != 0 && r.Deletion == DeletionDestroyed {
		e.Kind = d.Kind
	}
	if err := finishDelete(ctx, d.Catalog, d.Store, d.Audit, r, e); err != nil {
		return Deleted{}, err
	}
	return Deleted{ID: r.ID, SHA256: r.SHA256, Deadline: r.Deadline, Cause: r.Deletion}, nil
}
