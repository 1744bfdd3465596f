package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Sweeper deletes recordings past their retention deadline unless they are
// under legal hold, audits each deletion with the file's SHA-256, and raises
// an alarm (an audit entry and a report line) for any recording found still
// there well after its deadline or that could not be deleted.
//
// A sweep is crash-safe and idempotent: each deletion is marked in the
// catalog before the file goes, and a sweep first finishes every deletion an
// earlier, interrupted one began. Killed anywhere, the next sweep deletes
// exactly the expired, unheld set and leaves no orphan file or row; a hold set
// at any time wins over a deletion not yet begun.
//
// The zero value of each tuning field is the default. Catalog, Store and
// Audit are required (DryRun needs only Catalog). Sweep and DryRun may be
// called concurrently with each other and with the other users of the
// catalog.
type Sweeper struct {
	Catalog Catalog
	Store   Store
	Audit   audit.Appender

	// Interval between two sweeps of Run; zero means one hour. A held
	// recording is audited as kept by the sweeps that find it due less
	// than an Interval after its deadline.
	Interval time.Duration
	// Grace: a recording still present more than Grace after its deadline
	// is reported overdue (it is deleted all the same); zero means 24 hours.
	Grace time.Duration
	// BatchSize: catalog page size; zero means 1000.
	BatchSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, if set, is called after each batch of a sweep.
	Progress func(Progress)
	// OnSweep, if set, is called by Run after each sweep.
	OnSweep func(Report, error)
}

// Progress is how far a sweep has gone.
type Progress struct {
	Scanned int // expired recordings examined so far
	Deleted int // deleted (dry run: would be deleted)
	Held    int // kept because of a legal hold
	Failed  int // could not be deleted (see Report.Overdue)
}

// Report is the outcome of one sweep.
type Report struct {
	At      time.Time // the instant the sweep compared deadlines with
	DryRun  bool
	Scanned int       // expired recordings examined, held ones included
	Deleted []Deleted // deleted; for a dry run, what would be deleted
	Resumed int       // of Deleted, deletions an interrupted run began
	Held    []Recording
	Overdue []Overdue // alarms: late or failed deletions
}

// Deleted is one deletion of a sweep.
type Deleted struct {
	ID       string
	SHA256   string
	Deadline time.Time
	Cause    Deletion
}

// Overdue is an alarm: a recording found past its deadline by more than the
// grace period (it was deleted late), or one the sweep could not delete (Err
// says why; it is still there).
type Overdue struct {
	ID       string
	Deadline time.Time
	Late     time.Duration // how long past its deadline when found
	Err      error         // nil if it was deleted (late)
}

func (s *Sweeper) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return 24 * time.Hour
}

func (s *Sweeper) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return time.Hour
}

// auditKept audits that a legal hold kept r past its deadline (R13): the
// deletion is refused with the reason. Only sweeps finding r due less than
// an Interval after its deadline do (one, when sweeps run every Interval as
// Run does), so that a hold lasting years does not add an entry to every
// sweep; a dry run audits nothing.
func (s *Sweeper) auditKept(ctx context.Context, r Recording, at time.Time, now func() time.Time, dry bool) error {
	if dry || at.Sub(r.Deadline) >= s.interval() {
		return nil
	}
	e := accessEvent(audit.KindAccessDenied, r, now(), Principal{ID: systemActor}, "expire", "retention deadline passed")
	e.Attrs = append(e.Attrs, audit.Attr{Key: "denied", Value: holdReason(r) + ": kept past its deadline"},
		audit.Attr{Key: "rule", Value: "R13"}, audit.Attr{Key: "deadline", Value: r.Deadline.UTC().Format(time.RFC3339Nano)})
	return appendEvent(ctx, s.Audit, e)
}

func (s *Sweeper) batch() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return 1000
}

// Sweep deletes every recording whose deadline is at or before at (zero: now)
// and that is not held. It returns what it did; on error (ctx done, audit log
// failing, catalog failing) the report covers what was done before. A store
// that fails to delete one recording does not stop the sweep: the recording
// is reported overdue with the error, audited as an alarm, and retried by the
// next sweep.
func (s *Sweeper) Sweep(ctx context.Context, at time.Time) (Report, error) {
	return s.sweep(ctx, at, false)
}

// DryRun reports what Sweep would do at at (zero: now), changing nothing and
// auditing nothing. A date in the future forecasts what will go by then.
func (s *Sweeper) DryRun(ctx context.Context, at time.Time) (Report, error) {
	return s.sweep(ctx, at, true)
}

// Run sweeps now and then every Interval until ctx is done; it returns
// ctx.Err(). Each sweep's outcome goes to OnSweep; a failed sweep does not
// stop Run.
func (s *Sweeper) Run(ctx context.Context) error {
	interval := s.interval()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep, err := s.Sweep(ctx, time.Time{})
		if s.OnSweep != nil {
			s.OnSweep(rep, err)
		}
		t.Reset(interval)
	}
}

func (s *Sweeper) sweep(ctx context.Context, at time.Time, dry bool) (rep Report, err error) {
	now := nowFunc(s.Now)
	if at.IsZero() {
		at = now()
	}
	at = at.UTC().Round(0)
	if at.After(maxInstant) { // catalogs compare Unix nanoseconds: no wrap-around
		at = maxInstant
	}
	rep = Report{At: at, DryRun: dry}
	op := "sweep"
	if dry {
		op = "sweep dry run"
	}
	if s.Catalog == nil || !dry && (s.Store == nil || s.Audit == nil) {
		return rep, fmt.Errorf("%s: catalog, store and audit log are required: %w", op, ErrNotConfigured)
	}
	var prog Progress
	report := func() {
		if s.Progress != nil {
			s.Progress(prog)
		}
	}
	// Lateness is measured against the real clock, so that a dry run
	// forecasting a future date raises no alarm about the future.
	lateAt := at
	if n := now().UTC(); dry && n.Before(at) {
		lateAt = n
	}

	// 1. Finish what an interrupted sweep or erasure began.
	pending, err := s.Catalog.Pending(ctx, 0)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", op, err)
	}
	for _, r := range pending {
		if err := s.remove(ctx, &rep, &prog, r, now, dry, true); err != nil {
			return rep, fmt.Errorf("%s: %w", op, err)
		}
	}

	// 2. Page through the expired set in deadline order.
	var cur Cursor
	for {
		page, err := s.Catalog.Expired(ctx, at, cur, s.batch())
		if err != nil {
			return rep, fmt.Errorf("%s: %w", op, err)
		}
		for _, r := range page {
			rep.Scanned++
			prog.Scanned++
			switch {
			case r.Deletion != DeletionNone:
				// Pending: finished above, or begun concurrently by
				// another sweep or an erasure that will finish it.
				continue
			case r.Held():
				rep.Held = append(rep.Held, r)
				prog.Held++
				if err := s.auditKept(ctx, r, lateAt, now, dry); err != nil {
					return rep, fmt.Errorf("%s: %w", op, err)
				}
				continue
			}
			late := lateAt.Sub(r.Deadline)
			if !dry {
				m, err := s.Catalog.BeginDelete(ctx, r.ID, DeletionExpiry)
				switch {
				case errors.Is(err, ErrHeld): // held since the page was read
					if r, err = s.Catalog.Get(ctx, r.ID); err == nil {
						rep.Held = append(rep.Held, r)
						prog.Held++
						if err := s.auditKept(ctx, r, lateAt, now, dry); err != nil {
							return rep, fmt.Errorf("%s: %w", op, err)
						}
					}
					continue
				case errors.Is(err, ErrNotFound): // removed concurrently
					continue
				case err != nil:
					return rep, fmt.Errorf("%s: %w", op, err)
				}
				if m.Deletion != DeletionExpiry { // an erasure got there first
					continue
				}
				r = m
			} else {
				r.Deletion = DeletionExpiry
			}
			if late > s.grace() {
				rep.Overdue = append(rep.Overdue, Overdue{ID: r.ID, Deadline: r.Deadline, Late: late})
				if !dry {
					if err := appendEvent(ctx, s.Audit, overdueEvent(r, now(), late, nil)); err != nil {
						return rep, fmt.Errorf("%s: %w", op, err)
					}
				}
			}
			if err := s.remove(ctx, &rep, &prog, r, now, dry, false); err != nil {
				return rep, fmt.Errorf("%s: %w", op, err)
			}
		}
		report()
		if len(page) < s.batch() {
			return rep, nil
		}
		cur = After(page[len(page)-1])
	}
}

// remove finishes the deletion of r (marked) and records it in rep. Only
// errors that must stop the sweep are returned.
func (s *Sweeper) remove(ctx context.Context, rep *Report, prog *Progress, r Recording, now func() time.Time, dry, resumed bool) error {
	d := Deleted{ID: r.ID, SHA256: r.SHA256, Deadline: r.Deadline, Cause: r.Deletion}
	if dry {
		rep.Deleted = append(rep.Deleted, d)
		prog.Deleted++
		if resumed {
			rep.Resumed++
		}
		return nil
	}
	reason := "retention deadline passed"
	var attrs []audit.Attr
	if resumed {
		attrs = append(attrs, audit.Attr{Key: "resumed", Value: "true"})
		switch r.Deletion {
		case DeletionErasure:
			reason = "erasure requested by the data subject (resumed)"
		case DeletionDestroyed:
			reason = "destroyed before its deadline (resumed)"
		}
	}
	err := finishDelete(ctx, s.Catalog, s.Store, s.Audit, r, deletedEvent(r, now(), systemActor, reason, attrs...))
	var ae *stopError
	switch {
	case err == nil:
		rep.Deleted = append(rep.Deleted, d)
		prog.Deleted++
		if resumed {
			rep.Resumed++
		}
		return nil
	case errors.As(err, &ae), ctx.Err() != nil:
		return err
	}
	// The file could not be deleted: alarm, and retry next sweep (the
	// recording stays marked, so no hold can be set on a half-deleted one).
	late := now().Sub(r.Deadline)
	rep.Overdue = append(rep.Overdue, Overdue{ID: r.ID, Deadline: r.Deadline, Late: late, Err: err})
	prog.Failed++
	return appendEvent(ctx, s.Audit, overdueEvent(r, now(), late, err))
}

func overdueEvent(r Recording, at time.Time, late time.Duration, cause error) audit.Event {
	e := audit.Event{
		Kind:        audit.KindRetentionOverdue,
		Time:        at.UTC(),
		CallID:      r.CallID,
		RecordingID: r.ID,
		Actor:       systemActor,
		Reason:      "found past its retention deadline",
		Subject:     r.Subject,
		Purpose:     string(r.Purpose),
		SHA256:      r.SHA256,
		Attrs: []audit.Attr{
			{Key: "deadline", Value: r.Deadline.UTC().Format(time.RFC3339Nano)},
			{Key: "late", Value: late.Round(time.Second).String()},
		},
	}
	if cause != nil {
		e.Reason = "past its retention deadline and could not be deleted"
		e.Attrs = append(e.Attrs, audit.Attr{Key: "error", Value: cause.Error()})
	}
	return e
}
