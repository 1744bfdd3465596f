package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
)

// Demo values of the legal hold.
const (
	holdCase     = "RG-DEMO-001"
	holdApprover = "demo legal counsel"
)

// retentionStep places one recording under legal hold, opens it through the
// access gate as a lawyer (allowed: it is held) and as a trainer (refused,
// audited), then sweeps as of one second past the deadlines of the demo's
// calls (a five-year contract proof is not due): the expired recordings go,
// the held one stays. Every step is audited.
func retentionStep(ctx context.Context, svc *consentrec.Service, dir consentrec.DataDir, kept []*demoCall) error {
	cat, store, log := svc.Catalog(), svc.Store(), svc.Log()
	var recs []retention.Recording
	held := ""
	for _, c := range kept {
		for _, r := range c.res.Recordings {
			recs = append(recs, r)
			if held == "" && r.Purpose == policy.Quality {
				held = r.ID
			}
		}
	}
	if len(recs) == 0 || held == "" {
		return errors.New("quickstart: no quality recording was kept")
	}
	fmt.Printf("catalog %s: %d recording(s) catalogued at hang-up\n", dir.Catalog(), len(recs))
	first := recs[0].Deadline
	for _, r := range recs {
		if r.Deadline.Before(first) {
			first = r.Deadline
		}
	}
	at := first
	for _, r := range recs {
		if r.Deadline.After(at) && !r.Deadline.After(first.Add(24*time.Hour)) {
			at = r.Deadline
		}
	}
	at = at.Add(time.Second)

	holds := &retention.Holds{Catalog: cat, Audit: log}
	if _, err := holds.Set(ctx, held, holdCase, holdApprover); err != nil {
		return err
	}
	fmt.Printf("legal hold on %s: case %s, approved by %s\n", held, holdCase, holdApprover)
	// Who asks comes from the host's sessions (here a context value); the
	// roles from its access table (R25).
	table := retention.AccessTable{Roles: map[string][]policy.Role{"lawyer-01": {policy.RoleLegal}, "trainer-01": {policy.RoleTrainer}}}
	who := func(ctx context.Context) (string, error) { id, _ := ctx.Value(session{}).(string); return id, nil }
	gate := &retention.Gate{Catalog: cat, Store: store, Audit: log, Authorizer: table.Authorizer(who),
		IsIntegrity: func(err error) bool { return errors.Is(err, recorder.ErrIntegrity) }}
	rc, err := gate.Open(context.WithValue(ctx, session{}, "lawyer-01"), retention.Principal{Role: policy.RoleLegal}, held, retention.ActionListen, "case "+holdCase)
	if err != nil {
		return fmt.Errorf("quickstart: the lawyer could not open the held recording: %w", err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return err
	}
	fmt.Printf("gate: lawyer-01 (legal) listened to %s (%d bytes): allowed, it is under hold; audited\n", held, n)
	_, err = gate.Open(context.WithValue(ctx, session{}, "trainer-01"), retention.Principal{Role: policy.RoleTrainer}, held, retention.ActionDownload, "curious")
	var denied *retention.DeniedError
	if !errors.As(err, &denied) {
		return fmt.Errorf("quickstart: the gate let a trainer download a quality recording: %v", err)
	}
	fmt.Printf("gate: trainer-01 (trainer) download refused: %s; audited\n", denied.Why)

	sw := &retention.Sweeper{Catalog: cat, Store: store, Audit: log}
	forecast, err := sw.DryRun(ctx, at)
	if err != nil {
		return err
	}
	fmt.Printf("time moves to %s, past the deadlines of the demo's calls\n", at.Format(time.RFC3339))
	fmt.Printf("dry run: would delete %d, keep %d on hold\n", len(forecast.Deleted), len(forecast.Held))
	rep, err := sw.Sweep(ctx, at)
	if err != nil {
		return err
	}
	for _, d := range rep.Deleted {
		fmt.Printf("swept   %-34s sha256 %.16s...  deletion audited\n", d.ID, d.SHA256)
	}
	for _, r := range rep.Held {
		fmt.Printf("kept    %-34s legal hold %s\n", r.ID, r.Holds[0].Case)
	}
	for _, r := range recs {
		if !r.Expired(at) {
			fmt.Printf("kept    %-34s %s, not due until %s\n", r.ID, r.Purpose, r.Deadline.Format(time.DateOnly))
		}
	}
	left, err := cat.Count(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("catalog now holds %d recording(s); try: consentrec sweep --dry-run --data %s\n", left, dir.Root)
	return nil
}

// session is the context key of the quickstart's logged-in person.
type session struct{}
