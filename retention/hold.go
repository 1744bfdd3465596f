package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Holds sets and releases legal holds (GDPR Art. 17(3)(e), R13): each
// needs a case reference and a named approver, blocks both expiry and
// erasure, and is audited (KindLegalHoldSet, KindLegalHoldReleased). There is
// no cap on how many recordings are held, nor on how many cases hold one
// recording. Catalog and Audit are required. Safe for concurrent use.
type Holds struct {
	Catalog Catalog
	Audit   audit.Appender
	Now     func() time.Time // nil: time.Now
}

// Set places recording id under legal hold for case ref, approved by
// approver. The hold takes effect in the catalog before it is audited: if the
// audit append fails, the hold is in force and Set returns the error; calling
// Set again is safe and audits it. Errors: ErrInvalid (empty case or
// approver, or one longer than 1024 bytes), ErrNotFound, ErrPendingDeletion (the deletion already began and
// cannot be stopped), ErrNotConfigured.
func (h *Holds) Set(ctx context.Context, id, ref, approver string) (Recording, error) {
	if h.Catalog == nil || h.Audit == nil {
		return Recording{}, fmt.Errorf("hold set: catalog and audit log are required: %w", ErrNotConfigured)
	}
	ref, approver = strings.TrimSpace(ref), strings.TrimSpace(approver)
	if err := validHold(Hold{Case: ref, Approver: approver}); err != nil {
		return Recording{}, fmt.Errorf("hold set %s: %w", id, err)
	}
	now := nowFunc(h.Now)().UTC()
	r, err := h.Catalog.SetHold(ctx, id, Hold{Case: ref, Approver: approver, Since: now})
	if err != nil {
		return Recording{}, fmt.Errorf("hold set: %w", err)
	}
	hold, _ := r.HoldFor(ref)
	e := holdEvent(audit.KindLegalHoldSet, r, now, ref, approver)
	e.Attrs = append(e.Attrs, audit.Attr{Key: "since", Value: hold.Since.Format(time.RFC3339Nano)})
	if err := appendEvent(ctx, h.Audit, e); err != nil {
		return r, fmt.Errorf("hold set %s: hold in force but not audited: %w", id, err)
	}
	return r, nil
}

// Release lifts the hold of case ref on recording id, on approver's word.
// The release is audited before it takes effect: if the audit append fails,
// the recording stays held. Once no hold remains the recording expires as
// usual (at the next sweep if its deadline passed). Errors: ErrInvalid,
// ErrNotFound, ErrNoSuchHold, ErrNotConfigured.
func (h *Holds) Release(ctx context.Context, id, ref, approver string) (Recording, error) {
	if h.Catalog == nil || h.Audit == nil {
		return Recording{}, fmt.Errorf("hold release: catalog and audit log are required: %w", ErrNotConfigured)
	}
	ref, approver = strings.TrimSpace(ref), strings.TrimSpace(approver)
	// No length limit here: a hold set before Set had one must stay
	// releasable (its release still fits an audit entry, or fails safe).
	if err := namedHold(Hold{Case: ref, Approver: approver}); err != nil {
		return Recording{}, fmt.Errorf("hold release %s: %w", id, err)
	}
	r, err := h.Catalog.Get(ctx, id)
	if err != nil {
		return Recording{}, fmt.Errorf("hold release: %w", err)
	}
	if _, ok := r.HoldFor(ref); !ok {
		return Recording{}, fmt.Errorf("hold release %s case %q: %w", id, ref, ErrNoSuchHold)
	}
	now := nowFunc(h.Now)().UTC()
	if err := appendEvent(ctx, h.Audit, holdEvent(audit.KindLegalHoldReleased, r, now, ref, approver)); err != nil {
		return Recording{}, fmt.Errorf("hold release %s: %w", id, err)
	}
	r, err = h.Catalog.ReleaseHold(ctx, id, ref)
	if err != nil && !errors.Is(err, ErrNoSuchHold) { // released concurrently: done
		return Recording{}, fmt.Errorf("hold release: %w", err)
	}
	if err != nil {
		r, err = h.Catalog.Get(ctx, id)
	}
	return r, err
}

func holdEvent(k audit.Kind, r Recording, at time.Time, ref, approver string) audit.Event {
	return audit.Event{
		Kind:        k,
		Time:        at,
		CallID:      r.CallID,
		RecordingID: r.ID,
		Actor:       approver,
		Reason:      "case " + ref,
		Subject:     r.Subject,
		Purpose:     string(r.Purpose),
		SHA256:      r.SHA256,
		Attrs: []audit.Attr{
			{Key: "case", Value: ref},
			{Key: "approver", Value: approver},
			{Key: "deadline", Value: r.Deadline.UTC().Format(time.RFC3339Nano)},
		},
	}
}
