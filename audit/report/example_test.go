package report_test

import (
	"context"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// A month in which one caller objected and was recorded all the same: the
// report names the call.
func Example() {
	ctx := context.Background()
	log := audittest.NewLog("example.com/audit", nil)
	day := time.Date(2026, time.November, 3, 9, 0, 0, 0, time.UTC)
	for i, call := range []string{"call-1", "call-2", "call-3"} {
		d := policy.Decision{Mode: policy.ModeSampling, Reason: policy.ReasonNotSampled, PolicyVersion: "pv1:demo",
			OnObjection: policy.ObjectionStopAndPurge}
		if call == "call-2" {
			d.Record, d.Purpose, d.Reason = true, policy.Quality, policy.ReasonSampled
		}
		log.Append(ctx, d.AuditEvent(call, day.Add(time.Duration(i)*time.Hour)))
	}
	log.Append(ctx, audit.Event{Kind: audit.KindObjection, Time: day.Add(time.Hour + 5*time.Second), CallID: "call-2"})
	log.Append(ctx, audit.Event{Kind: audit.KindRecordingStarted, Time: day.Add(time.Hour + 9*time.Second),
		CallID: "call-2", RecordingID: "rec-2", Purpose: "quality"})

	rep, err := report.Build(ctx, report.Source{Log: log, Catalog: retention.NewMemCatalog()}, report.Options{
		From: time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC),
		Now:  time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", rep.Integrity.Verified, rep.Integrity.Entries, "entries")
	fmt.Println("recorded:", rep.Sampling.Share)
	for _, v := range rep.Violations {
		fmt.Println(v.Kind, v.Rule, v.CallID, v.RecordingID)
	}
	// Output:
	// verified: true 5 entries
	// recorded: 33.3 % [6.1–79.2] of 3
	// objection-not-purged R15 call-2 rec-2
}

// Is 11.8 % of 400 calls still a 10 % sampling rate? The 95 % interval says
// it may well be.
func ExampleWilson() {
	lo, hi := report.Wilson(47, 400)
	fmt.Printf("47/400 = 11.8 %%, 95 %% interval [%.1f %%, %.1f %%]\n", lo*100, hi*100)
	fmt.Println("consistent with 10 %:", report.NewShare(47, 400).Contains(0.10))
	// Output:
	// 47/400 = 11.8 %, 95 % interval [9.0 %, 15.3 %]
	// consistent with 10 %: true
}
