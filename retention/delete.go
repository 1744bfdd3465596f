package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// systemActor is the audit actor of the sweeper's own actions.
const systemActor = "system"

func nowFunc(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}

// stopError marks a failure that must stop a whole operation, not just skip
// one recording: above all an audit append that failed, because nothing may
// happen untraced.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func appendEvent(ctx context.Context, log audit.Appender, e audit.Event) error {
	if _, err := log.Append(ctx, e); err != nil {
		return &stopError{fmt.Errorf("audit: %w", err)}
	}
	return nil
}

// finishDelete completes a deletion that BeginDelete marked: the file goes
// first, then the audit entry, then the catalog row. Killed at any point, a
// rerun redoes what is missing: the store's fs.ErrNotExist and the catalog's
// ErrNotFound count as done, so no orphan file and no orphan row remain. The
// audit entry is written at least once (twice if killed between the append
// and the removal; the second says resumed=true).
func finishDelete(ctx context.Context, cat Catalog, store Store, log audit.Appender, r Recording, e audit.Event) error {
	if err := store.Delete(ctx, r.ID); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", r.ID, err)
	}
	if err := appendEvent(ctx, log, e); err != nil {
		return fmt.Errorf("delete %s: %w", r.ID, err)
	}
	if err := cat.Remove(ctx, r.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete %s: %w", r.ID, err)
	}
	return nil
}

// deletedEvent is the audit entry of a completed deletion.
func deletedEvent(r Recording, at time.Time, actor, reason string, attrs ...audit.Attr) audit.Event {
	kind := audit.KindRetentionDeleted
	if r.Deletion == DeletionErasure {
		kind = audit.KindErasure
		attrs = append([]audit.Attr{{Key: "outcome", Value: "erased"}}, attrs...)
	}
	return audit.Event{
		Kind:        kind,
		Time:        at.UTC(),
		CallID:      r.CallID,
		RecordingID: r.ID,
		Actor:       actor,
		Reason:      reason,
		Subject:     r.Subject,
		Purpose:     string(r.Purpose),
		SHA256:      r.SHA256,
		Attrs: append([]audit.Attr{
			{Key: "cause", Value: string(r.Deletion)},
			{Key: "deadline", Value: r.Deadline.UTC().Format(time.RFC3339Nano)},
		}, attrs...),
	}
}
