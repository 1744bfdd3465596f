package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

func attrOf(e audit.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// TestDestroyAsksTheCatalog: a person's destruction of a held recording,
// or of one kept under a legal obligation before its minimum, is refused
// with the reason and the rule, audited, and deletes nothing (R11, R13, R30).
func TestDestroyAsksTheCatalog(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	now := t0.Add(time.Hour)
	who := "intern"
	d := &retention.Destroyer{Catalog: f.cat, Store: f.store, Audit: f.log, Now: func() time.Time { return now },
		Kind: audit.KindKeyShredded, Authorizer: retention.AccessTable{Roles: map[string][]policy.Role{
			"intern": {retention.RoleDPO}, "dpo": {retention.RoleDPO}, "qa": {policy.RoleQuality}}}.Authorizer(
			func(context.Context) (string, error) { return who, nil })}
	f.add(t, "held", policy.Quality, t0, "")
	f.add(t, "lo", policy.LegalObligation, t0, "")
	f.add(t, "free", policy.Quality, t0, "")
	if _, err := f.holds().Set(ctx, "held", "RG 1", "Judge Ann"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, rule string
		want     error
	}{{"held", "R13", retention.ErrHeld}, {"lo", "R11", retention.ErrNotErasable}, {"nope", "R13", retention.ErrNotFound}} {
		_, err := d.Destroy(ctx, tc.id, "no reason really")
		var k *retention.KeptError
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.rule) || tc.want != retention.ErrNotFound && !errors.As(err, &k) {
			t.Errorf("Destroy(%s) = %v, want %v naming %s", tc.id, err, tc.want, tc.rule)
		}
		denied := f.log.Kind(audit.KindAccessDenied)
		if len(denied) == 0 || attrOf(denied[len(denied)-1], "action") != "destroy" || !strings.Contains(attrOf(denied[len(denied)-1], "rule"), tc.rule) ||
			denied[len(denied)-1].Actor != "intern" {
			t.Errorf("Destroy(%s): refusal not audited: %+v", tc.id, denied)
		}
		if tc.id != "nope" && !f.store.Has(tc.id) {
			t.Errorf("%s deleted though refused", tc.id)
		}
	}
	if len(f.log.Kind(audit.KindKeyShredded)) != 0 {
		t.Error("a refused destruction was audited as done")
	}
	// Without the dpo role: refused, audited.
	who = "qa"
	if _, err := d.Destroy(ctx, "free", "tidying up"); !errors.Is(err, retention.ErrDenied) || !strings.Contains(err.Error(), "R25") || !f.store.Has("free") {
		t.Errorf("Destroy by qa = %v", err)
	}
	// Free to go: deleted, audited with the given kind, gone from the catalog.
	who = "dpo"
	del, err := d.Destroy(ctx, "free", "subject asked by letter")
	if err != nil || del.ID != "free" || f.store.Has("free") {
		t.Fatalf("Destroy(free) = %+v, %v", del, err)
	}
	if ev := f.log.Kind(audit.KindKeyShredded); len(ev) != 1 || ev[0].Actor != "dpo" || ev[0].RecordingID != "free" {
		t.Errorf("destruction audit %+v", ev)
	}
	if _, err := f.cat.Get(ctx, "free"); !errors.Is(err, retention.ErrNotFound) {
		t.Errorf("catalog still has it: %v", err)
	}
	if _, err := d.Destroy(ctx, "lo", " "); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("no reason: %v", err)
	}
}

// TestLegalObligationMinimum: a legal-obligation recording with a
// statutory minimum cannot be erased before it, and can after (R11, R30).
func TestLegalObligationMinimum(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	sub := "sk1:" + strings.Repeat("ab", 32)
	sum := f.store.Put("mifid", []byte("OggS mifid"))
	r, err := retention.New(retention.Entry{ID: "mifid", Purpose: policy.LegalObligation, Created: t0, Subject: sub, SHA256: sum,
		Deadline: t0.AddDate(7, 0, 0), KeepUntil: t0.AddDate(5, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	req := retention.Request{Subject: sub, Handler: "dpo"}
	rep, err := f.subjects(t0.AddDate(4, 11, 0)).Erase(ctx, req)
	if err != nil || len(rep.Refused) != 1 || !errors.Is(rep.Refused[0].Err, retention.ErrNotErasable) || !strings.Contains(rep.Refused[0].Reason, "R11") {
		t.Fatalf("erase before the minimum: %+v, %v", rep, err)
	}
	rep, err = f.subjects(t0.AddDate(5, 0, 1)).Erase(ctx, req)
	if err != nil || len(rep.Erased) != 1 || f.store.Has("mifid") {
		t.Errorf("erase after the minimum: %+v, %v", rep, err)
	}
}
