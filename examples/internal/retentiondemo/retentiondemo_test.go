package retentiondemo_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/examples/internal/retentiondemo"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	st := &retentiontest.Store{}
	log := &retentiontest.AuditLog{}
	now := time.Now()
	var entries []retention.Entry
	for _, e := range []struct {
		id string
		p  policy.Purpose
	}{{"rec-1", policy.Quality}, {"rec-2", policy.Quality}, {"rec-3", policy.ContractProof}} {
		entries = append(entries, retention.Entry{ID: e.id, CallID: "call-" + e.id, Purpose: e.p, Created: now,
			Subject: retentiontest.SubjectOf(e.id), SHA256: st.Put(e.id, []byte("audio "+e.id))})
	}
	var out bytes.Buffer
	cfg := retentiondemo.Config{Data: consentrec.DataDir{Root: t.TempDir()}, Store: st, Audit: log,
		Recordings: entries, Hold: "rec-2", Out: &out}
	res, err := retentiondemo.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var deleted []string
	for _, d := range res.Sweep.Deleted {
		deleted = append(deleted, d.ID)
	}
	if !slices.Equal(deleted, []string{"rec-1"}) || !slices.Equal(st.IDs(), []string{"rec-2", "rec-3"}) {
		t.Errorf("deleted %v, stored %v; want rec-1 gone, rec-2 (held) and rec-3 (five years) kept", deleted, st.IDs())
	}
	if len(res.Sweep.Overdue) != 0 {
		t.Errorf("alarms: %+v", res.Sweep.Overdue)
	}
	for _, k := range []audit.Kind{audit.KindLegalHoldSet, audit.KindAccess, audit.KindAccessDenied} {
		if len(log.Kind(k)) != 1 {
			t.Errorf("audit kind %d: %d events, want 1", k, len(log.Kind(k)))
		}
	}
	if n := len(log.Kind(audit.KindRetentionDeleted)); n != 1 {
		t.Errorf("%d deletions audited, want 1", n)
	}
	if !strings.Contains(out.String(), "kept    rec-2") || !strings.Contains(out.String(), "kept    rec-3") {
		t.Errorf("output:\n%s", out.String())
	}
	// A rerun on the same directory works (nothing left to delete).
	res, err = retentiondemo.Run(ctx, retentiondemo.Config{Data: cfg.Data, Store: st, Audit: log, Recordings: entries[1:2], Out: &out})
	if err != nil || len(res.Sweep.Deleted) != 0 || len(res.Sweep.Held) != 1 {
		t.Errorf("rerun: %+v, %v", res.Sweep, err)
	}
}
