// Package retentiondemo is the retention step of the quickstart: after the
// simulated calls it catalogues their recordings, places one under legal
// hold, shows the access gate at work, then moves time past the deadlines
// and sweeps: the expired recordings go, the held one stays.
package retentiondemo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// Demo values.
const (
	Case     = "RG-DEMO-001"
	Approver = "demo legal counsel"
)

// Config is what the quickstart hands over.
type Config struct {
	Data       consentrec.DataDir // the catalog goes to Data.Catalog()
	Store      retention.Store    // the recordings (recorder.Store)
	Audit      audit.Appender     // the audit log
	Recordings []retention.Entry  // finalized recordings (see fromrecorder.Entry)
	Hold       string             // id to place under legal hold; "" means the first
	// IsIntegrity recognises the store's integrity error (see Gate).
	IsIntegrity func(error) bool
	Out         io.Writer // where to print; nil means io.Discard
}

// Result is what happened.
type Result struct {
	Catalogued []retention.Recording
	Held       string           // the id placed under hold
	At         time.Time        // the instant the sweep ran "as of"
	Forecast   retention.Report // the dry run at At
	Sweep      retention.Report // the sweep at At
}

// Run catalogues cfg.Recordings in the SQLite catalog of cfg.Data, holds
// one, opens it through the gate as a lawyer (allowed: it is held) and as
// a trainer (refused, audited), then sweeps as of one second past the
// deadlines of the demo's calls (those within a day of the earliest; a
// five-year contract proof is not due). Every step is audited in cfg.Audit.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	if len(cfg.Recordings) == 0 {
		return res, errors.New("retentiondemo: no recordings to catalogue")
	}
	cat, err := sqlitecatalog.Open(ctx, cfg.Data.Catalog())
	if err != nil {
		return res, err
	}
	defer cat.Close()

	fmt.Fprintf(out, "catalog %s\n", cfg.Data.Catalog())
	for _, e := range cfg.Recordings {
		r, err := retention.New(e)
		if err != nil {
			return res, err
		}
		if err = cat.Add(ctx, r); errors.Is(err, retention.ErrExists) {
			r, err = cat.Get(ctx, e.ID) // a rerun on the same data directory
		}
		if err != nil {
			return res, err
		}
		res.Catalogued = append(res.Catalogued, r)
		fmt.Fprintf(out, "catalogued %-34s %-15s %-34s delete by %s\n", r.ID, r.Purpose, r.LawfulBasis, r.Deadline.Format(time.RFC3339))
	}
	// Time moves one second past the first batch of deadlines: those
	// within a day of the earliest (the demo's calls, minutes apart).
	// Longer retentions (contract proof, five years) are not due yet.
	first := res.Catalogued[0].Deadline
	for _, r := range res.Catalogued {
		if r.Deadline.Before(first) {
			first = r.Deadline
		}
	}
	res.At = first
	for _, r := range res.Catalogued {
		if r.Deadline.After(res.At) && !r.Deadline.After(first.Add(24*time.Hour)) {
			res.At = r.Deadline
		}
	}
	res.At = res.At.Add(time.Second)

	res.Held = cfg.Hold
	if res.Held == "" {
		res.Held = res.Catalogued[0].ID
	}
	holds := &retention.Holds{Catalog: cat, Audit: cfg.Audit}
	if _, err := holds.Set(ctx, res.Held, Case, Approver); err != nil && !errors.Is(err, retention.ErrPendingDeletion) {
		return res, err
	}
	fmt.Fprintf(out, "legal hold on %s: case %s, approved by %s\n", res.Held, Case, Approver)

	// Who asks comes from the host's sessions (here a context value); the
	// roles from its access table (R25).
	table := retention.AccessTable{Roles: map[string][]policy.Role{"lawyer-01": {policy.RoleLegal}, "trainer-01": {policy.RoleTrainer}}}
	who := func(ctx context.Context) (string, error) { id, _ := ctx.Value(demoSession{}).(string); return id, nil }
	gate := &retention.Gate{Catalog: cat, Store: cfg.Store, Audit: cfg.Audit, IsIntegrity: cfg.IsIntegrity, Authorizer: table.Authorizer(who)}
	rc, err := gate.Open(context.WithValue(ctx, demoSession{}, "lawyer-01"), retention.Principal{Role: policy.RoleLegal}, res.Held, retention.ActionListen, "case "+Case)
	if err != nil {
		return res, fmt.Errorf("retentiondemo: the lawyer could not open the held recording: %w", err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "gate: lawyer-01 (legal) listened to %s (%d bytes): allowed, it is under hold; audited\n", res.Held, n)
	_, err = gate.Open(context.WithValue(ctx, demoSession{}, "trainer-01"), retention.Principal{Role: policy.RoleTrainer}, res.Held, retention.ActionDownload, "curious")
	var denied *retention.DeniedError
	if !errors.As(err, &denied) {
		return res, fmt.Errorf("retentiondemo: the gate let a trainer download a %s recording: %v", res.Catalogued[0].Purpose, err)
	}
	fmt.Fprintf(out, "gate: trainer-01 (trainer) download refused: %s; audited\n", denied.Why)

	sw := &retention.Sweeper{Catalog: cat, Store: cfg.Store, Audit: cfg.Audit}
	if res.Forecast, err = sw.DryRun(ctx, res.At); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "time moves to %s, past the deadlines of the demo's calls\n", res.At.Format(time.RFC3339))
	fmt.Fprintf(out, "dry run: would delete %d, keep %d on hold\n", len(res.Forecast.Deleted), len(res.Forecast.Held))
	if res.Sweep, err = sw.Sweep(ctx, res.At); err != nil {
		return res, err
	}
	for _, d := range res.Sweep.Deleted {
		fmt.Fprintf(out, "swept   %-34s sha256 %.16s...  deletion audited\n", d.ID, d.SHA256)
	}
	for _, r := range res.Sweep.Held {
		fmt.Fprintf(out, "kept    %-34s legal hold %s\n", r.ID, r.Holds[0].Case)
	}
	for _, r := range res.Catalogued {
		if !r.Expired(res.At) {
			fmt.Fprintf(out, "kept    %-34s not due until %s\n", r.ID, r.Deadline.Format(time.RFC3339))
		}
	}
	left, err := cat.Count(ctx)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "catalog now holds %d recording(s); try: consentrec sweep --dry-run --data %s\n", left, cfg.Data.Root)
	return res, nil
}

// demoSession is the context key of the demo's logged-in person.
type demoSession struct{}
