package audit_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// Open the audit log of a data directory (created with its signing key on
// first use), append events, close (which signs a final checkpoint), and
// verify the whole log with the public key kept beside it.
func ExampleOpenDir() {
	ctx := context.Background()
	data, _ := os.MkdirTemp("", "consentrec-example-")
	defer os.RemoveAll(data)

	l, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var log audit.Appender = l // what other packages are given
	log.Append(ctx, audit.Event{Kind: audit.KindPolicyDecision, CallID: "call-1", Actor: "system",
		Purpose: "quality", PolicyVersion: "pv1:9f2c", Attrs: []audit.Attr{{Key: "mode", Value: "sampling"}, {Key: "draw", Value: "0.0731"}}})
	log.Append(ctx, audit.Event{Kind: audit.KindAccess, RecordingID: "rec-1", Actor: "op-12", Role: "quality",
		Reason: "complaint 5531", Attrs: []audit.Attr{{Key: "action", Value: "listen"}}})
	if err := l.Close(); err != nil {
		fmt.Println(err)
		return
	}

	rep, err := audit.VerifyDir(ctx, data, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ok: %d entries, %d signed\n", rep.Entries, rep.Checkpoint.Size)
	// Output: ok: 2 entries, 2 signed
}

// A receipt shows an auditor one entry, and nothing of the others: they
// check it offline with the log's public key.
func ExampleCheckReceipt() {
	ctx := context.Background()
	l := audittest.NewLog("example.org/audit", nil)
	for i := range 10 {
		l.Append(ctx, audit.Event{Kind: audit.KindAccess, Time: time.Date(2026, 5, 1, 9, i, 0, 0, time.UTC),
			RecordingID: fmt.Sprintf("rec-%d", i), Actor: "op-12", Role: "quality", Reason: "review"})
	}
	r, _ := l.Receipt(ctx, 7)
	text, _ := r.MarshalText()

	entry, cp, err := audit.CheckReceipt(text, l.VerifierKey())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(entry.Index, entry.Event.Kind, entry.Event.RecordingID, entry.Event.Time.Format(time.Kitchen), "in", cp.Size)
	// Output: 7 access rec-7 9:07AM in 10
}

// Crypto-shredding honours an erasure request: the subject's openings are
// deleted, the entries stay, and every checkpoint and proof stays valid.
func ExampleLog_shred() {
	ctx := context.Background()
	l := audittest.NewLog("example.org/audit", nil)
	for i := range 4 {
		l.Append(ctx, audit.Event{Kind: audit.KindRecordingStarted, CallID: fmt.Sprint("call-", i),
			Subject: fmt.Sprint("sk1:caller-", i%2)})
	}
	n, _ := l.Shred(ctx, "sk1:caller-1")
	e, _ := l.Entry(ctx, 1)
	fmt.Println(n, e.Shredded, e.Event.CallID, e.Event.Subject == "")
	// Output: 2 true call-1 true
}

// The audit log's own retention keeps the evidence a host still needs: a
// prune with a Keep predicate leaves the entries of a recording still
// catalogued, and says why. The prune is itself a signed event first.
func ExamplePruneWith() {
	ctx := context.Background()
	l := audittest.NewLog("example.org/audit", nil)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 9, 0, 0, 0, time.UTC) }
	l.Append(ctx, audit.Event{Kind: audit.KindNoticePlayed, Time: day(1), RecordingID: "rec-kept"})
	l.Append(ctx, audit.Event{Kind: audit.KindNoticePlayed, Time: day(2), RecordingID: "rec-gone"})
	l.Append(ctx, audit.Event{Kind: audit.KindAccess, Time: day(3), RecordingID: "rec-kept", Actor: "op-12", Reason: "review"})

	catalogued := map[string]bool{"rec-kept": true}
	res, err := audit.PruneWith(ctx, l, audit.PruneOptions{
		Before: day(10),
		Actor:  "dpo",
		Keep: func(e audit.Event) string {
			if e.Kind != audit.KindAccess && catalogued[e.RecordingID] {
				return "recording still catalogued"
			}
			return ""
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := l.Entry(ctx, res.Event)
	fmt.Println("pruned", res.Pruned, "kept", res.Kept, "event", ev.Event.Kind, "by", ev.Event.Actor)
	// Output: pruned 2 kept map[recording still catalogued:1] event audit-pruned by dpo
}
