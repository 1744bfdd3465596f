package retention_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// fixture is a catalog, a store and an audit log with recordings in them.
type fixture struct {
	cat   *retention.MemCatalog
	store *retentiontest.Store
	log   *retentiontest.AuditLog
}

func newFixture() *fixture {
	return &fixture{cat: retention.NewMemCatalog(), store: &retentiontest.Store{}, log: &retentiontest.AuditLog{}}
}

// add catalogues and stores a recording created at created.
func (f *fixture) add(t *testing.T, id string, p policy.Purpose, created time.Time, subject string) retention.Recording {
	t.Helper()
	sum := f.store.Put(id, []byte("OggS audio of "+id))
	r, err := retention.New(retention.Entry{ID: id, CallID: "call-" + id, Purpose: p, Created: created, Subject: subject, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cat.Add(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) sweeper() *retention.Sweeper {
	return &retention.Sweeper{Catalog: f.cat, Store: f.store, Audit: f.log}
}

func (f *fixture) holds() *retention.Holds { return &retention.Holds{Catalog: f.cat, Audit: f.log} }

func ids(ds []retention.Deleted) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestSweepExactDeadline: a recording is kept one second before its
// deadline and deleted at it, with the fake clock of a synctest bubble.
func TestSweepExactDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		f := newFixture()
		r := f.add(t, "q1", policy.Quality, time.Now(), "")
		if want := policy.Days(30).AddTo(r.Created); !r.Deadline.Equal(want) {
			t.Fatalf("deadline %v, want created + 30 days %v", r.Deadline, want)
		}
		sw := f.sweeper()

		time.Sleep(time.Until(r.Deadline) - time.Second)
		rep, err := sw.Sweep(ctx, time.Time{})
		if err != nil || len(rep.Deleted) != 0 || !f.store.Has("q1") {
			t.Fatalf("one second before the deadline: deleted %v, err %v", ids(rep.Deleted), err)
		}

		time.Sleep(time.Second)
		if !time.Now().Equal(r.Deadline) {
			t.Fatalf("clock %v, deadline %v", time.Now(), r.Deadline)
		}
		rep, err = sw.Sweep(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(rep.Deleted), []string{"q1"}) || f.store.Has("q1") {
			t.Fatalf("at the deadline: deleted %v, still stored %v", ids(rep.Deleted), f.store.Has("q1"))
		}
		if _, err := f.cat.Get(ctx, "q1"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("catalog row left: %v", err)
		}
		evs := f.log.Kind(audit.KindRetentionDeleted)
		if len(evs) != 1 || evs[0].SHA256 != r.SHA256 || evs[0].RecordingID != "q1" || !evs[0].Time.Equal(r.Deadline) {
			t.Errorf("audit: %+v, want one deletion of q1 with its SHA-256 at the deadline", evs)
		}
		if len(rep.Overdue) != 0 || len(f.log.Kind(audit.KindRetentionOverdue)) != 0 {
			t.Errorf("an on-time deletion raised an alarm: %+v", rep.Overdue)
		}
	})
}

// TestRunSweepsPeriodically: Run deletes each recording at the first sweep
// after its deadline and stops when ctx is cancelled.
func TestRunSweepsPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture()
		start := time.Now()
		f.add(t, "a", policy.Training, start, "")
		f.add(t, "b", policy.Training, start.Add(90*time.Minute), "")
		f.add(t, "c", policy.ContractProof, start, "")
		type sweep struct {
			at      time.Time
			deleted []string
		}
		var sweeps []sweep
		sw := f.sweeper()
		sw.Interval = time.Hour
		sw.OnSweep = func(rep retention.Report, err error) {
			if err != nil {
				t.Errorf("sweep: %v", err)
			}
			if len(rep.Deleted) > 0 {
				sweeps = append(sweeps, sweep{rep.At, ids(rep.Deleted)})
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- sw.Run(ctx) }()
		// Cancelled between two sweeps: at a whole hour the sweep due at
		// the same instant may run first and see its ctx cancelled.
		time.Sleep(31*24*time.Hour + 30*time.Minute)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		deadlineA := policy.Days(30).AddTo(start)
		want := []sweep{{deadlineA, []string{"a"}}, {deadlineA.Add(2 * time.Hour), []string{"b"}}}
		if len(sweeps) != 2 || !sweeps[0].at.Equal(want[0].at) || !sweeps[1].at.Equal(want[1].at) ||
			!slices.Equal(sweeps[0].deleted, want[0].deleted) || !slices.Equal(sweeps[1].deleted, want[1].deleted) {
			t.Errorf("sweeps %+v, want %+v", sweeps, want)
		}
		if !f.store.Has("c") {
			t.Error("a contract proof (5 years) was deleted")
		}
	})
}

func TestSweepHoldBlocksDeletion(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.add(t, "held", policy.Quality, t0, "")
	f.add(t, "free", policy.Quality, t0, "")
	if _, err := f.holds().Set(ctx, "held", "RG 26/001", "Ann Lawyer"); err != nil {
		t.Fatal(err)
	}
	at := t0.AddDate(0, 3, 0)
	rep, err := f.sweeper().Sweep(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.Deleted), []string{"free"}) || len(rep.Held) != 1 || rep.Held[0].ID != "held" {
		t.Fatalf("deleted %v held %v", ids(rep.Deleted), retentiontest.IDs(rep.Held))
	}
	if !f.store.Has("held") {
		t.Fatal("held recording deleted")
	}
	if _, err := f.holds().Release(ctx, "held", "RG 26/001", "Ann Lawyer"); err != nil {
		t.Fatal(err)
	}
	rep, err = f.sweeper().Sweep(ctx, at)
	if err != nil || !slices.Equal(ids(rep.Deleted), []string{"held"}) {
		t.Fatalf("after release: deleted %v, %v", ids(rep.Deleted), err)
	}
	set, rel := f.log.Kind(audit.KindLegalHoldSet), f.log.Kind(audit.KindLegalHoldReleased)
	if len(set) != 1 || len(rel) != 1 || retentiontest.Attr(set[0], "case") != "RG 26/001" ||
		set[0].Actor != "Ann Lawyer" || retentiontest.Attr(rel[0], "approver") != "Ann Lawyer" {
		t.Errorf("hold audit: set %+v released %+v", set, rel)
	}
}

func TestSweepOverdueAndFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.add(t, "late", policy.Quality, t0, "")
	f.add(t, "stuck", policy.Quality, t0.Add(time.Hour), "")
	broken := errors.New("disk on fire")
	f.store.BeforeDelete = func(id string) error {
		if id == "stuck" {
			return broken
		}
		return nil
	}
	at := policy.Days(30).AddTo(t0).Add(72 * time.Hour) // sweeper was down three days
	rep, err := f.sweeper().Sweep(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.Deleted), []string{"late"}) {
		t.Errorf("deleted %v, want [late]", ids(rep.Deleted))
	}
	if len(rep.Overdue) != 3 {
		t.Fatalf("overdue %+v, want late (deleted late) and stuck (late, then failed)", rep.Overdue)
	}
	var failed *retention.Overdue
	for i := range rep.Overdue {
		if rep.Overdue[i].Err != nil {
			failed = &rep.Overdue[i]
		}
	}
	if failed == nil || failed.ID != "stuck" || !errors.Is(failed.Err, broken) {
		t.Errorf("failure not reported: %+v", rep.Overdue)
	}
	alarms := f.log.Kind(audit.KindRetentionOverdue)
	if len(alarms) != 3 || retentiontest.Attr(alarms[2], "error") == "" {
		t.Errorf("alarms audited: %+v", alarms)
	}
	// The store recovers: the next sweep finishes the marked deletion.
	f.store.BeforeDelete = nil
	if _, err := f.holds().Set(ctx, "stuck", "C", "A"); !errors.Is(err, retention.ErrPendingDeletion) {
		t.Errorf("hold on a half-deleted recording = %v, want ErrPendingDeletion", err)
	}
	rep, err = f.sweeper().Sweep(ctx, at)
	if err != nil || !slices.Equal(ids(rep.Deleted), []string{"stuck"}) || rep.Resumed != 1 {
		t.Errorf("rerun: deleted %v resumed %d err %v", ids(rep.Deleted), rep.Resumed, err)
	}
	if f.store.Has("stuck") {
		t.Error("stuck still stored")
	}
}

func TestSweepAuditFailureStops(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		f.add(t, fmt.Sprintf("r%d", i), policy.Quality, t0, "")
	}
	down := errors.New("audit log unreachable")
	f.log.Fail = func(audit.Event) error { return down }
	at := policy.Days(30).AddTo(t0).Add(time.Hour)
	rep, err := f.sweeper().Sweep(ctx, at)
	if !errors.Is(err, down) || len(rep.Deleted) != 0 {
		t.Fatalf("Sweep = %v, deleted %v; want the audit error and nothing reported deleted", err, ids(rep.Deleted))
	}
	// One file went before the audit failed; its row stays pending.
	p, _ := f.cat.Pending(ctx, 0)
	if len(p) != 1 || len(f.store.IDs()) != 2 {
		t.Fatalf("pending %v stored %v", retentiontest.IDs(p), f.store.IDs())
	}
	f.log.Fail = nil
	rep, err = f.sweeper().Sweep(ctx, at)
	if err != nil || len(rep.Deleted) != 3 || rep.Resumed != 1 || len(f.log.Kind(audit.KindRetentionDeleted)) != 3 {
		t.Fatalf("recovery: deleted %v resumed %d err %v", ids(rep.Deleted), rep.Resumed, err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.add(t, "q", policy.Quality, t0, "")
	f.add(t, "c", policy.ContractProof, t0, "")
	f.add(t, "h", policy.Training, t0, "")
	if _, err := f.holds().Set(ctx, "h", "C-1", "Ann"); err != nil {
		t.Fatal(err)
	}
	before := len(f.log.Events())
	sw := &retention.Sweeper{Catalog: f.cat, Now: func() time.Time { return t0 }} // no store, no audit
	rep, err := sw.DryRun(ctx, policy.Years(5).AddTo(t0))                         // forecast five years ahead
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || !slices.Equal(ids(rep.Deleted), []string{"q", "c"}) || len(rep.Held) != 1 {
		t.Errorf("forecast: would delete %v, held %v", ids(rep.Deleted), retentiontest.IDs(rep.Held))
	}
	if len(rep.Overdue) != 0 {
		t.Errorf("a forecast raised alarms: %+v", rep.Overdue)
	}
	if n, _ := f.cat.Count(ctx); n != 3 || len(f.store.IDs()) != 3 || len(f.log.Events()) != before {
		t.Error("dry run changed something")
	}
	if _, err := (&retention.Sweeper{Catalog: f.cat}).Sweep(ctx, t0); !errors.Is(err, retention.ErrNotConfigured) {
		t.Errorf("Sweep without store and audit = %v, want ErrNotConfigured", err)
	}
}

func TestSweepProgress(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		f.add(t, fmt.Sprintf("r%02d", i), policy.Quality, t0.Add(time.Duration(i)*time.Second), "")
	}
	var got []retention.Progress
	sw := f.sweeper()
	sw.BatchSize = 10
	sw.Progress = func(p retention.Progress) { got = append(got, p) }
	rep, err := sw.Sweep(ctx, t0.AddDate(1, 0, 0))
	if err != nil || len(rep.Deleted) != 25 {
		t.Fatalf("deleted %d, %v", len(rep.Deleted), err)
	}
	if len(got) != 3 || got[0].Scanned != 10 || got[2].Deleted != 25 {
		t.Errorf("progress %+v", got)
	}
}

// TestSweepAuditsHeldOnce (R13): a deletion a legal hold refuses is
// audited with the reason, once: by the sweep that finds the recording due
// within an Interval of its deadline, not by every sweep of a years-long
// hold.
func TestSweepAuditsHeldOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	r := f.add(t, "held", policy.Quality, t0, "")
	if _, err := f.holds().Set(ctx, "held", "RG 5", "Judge Ann"); err != nil {
		t.Fatal(err)
	}
	sw := f.sweeper()
	for _, at := range []time.Time{r.Deadline, r.Deadline.Add(30 * time.Minute), r.Deadline.Add(2 * time.Hour), r.Deadline.AddDate(1, 0, 0)} {
		if _, err := sw.Sweep(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	ev := f.log.Kind(audit.KindAccessDenied)
	if len(ev) != 2 {
		t.Fatalf("%d refusals audited over four sweeps, want 2 (those within an hour of the deadline)", len(ev))
	}
	if retentiontest.Attr(ev[0], "rule") != "R13" || !strings.Contains(retentiontest.Attr(ev[0], "denied"), "RG 5") || ev[0].RecordingID != "held" {
		t.Errorf("refusal audited as %+v", ev[0])
	}
	if _, err := sw.DryRun(ctx, r.Deadline); err != nil || len(f.log.Kind(audit.KindAccessDenied)) != 2 {
		t.Errorf("a dry run audited: %v", err)
	}
}
