package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// A case reference or approver too long for an audit entry (64 KiB per
// field) was put in force first, then failed to be audited, on every retry:
// a legal hold no audit entry would ever account for. Holds now refuses
// such a hold before touching the catalog.
func TestHoldTooLongForTheAuditLogRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "a1", policy.Quality, t0, "")
	log := audittest.NewLog("example.com/audit", func() time.Time { return t0 })
	h := &retention.Holds{Catalog: f.cat, Audit: log, Now: func() time.Time { return t0 }}
	long := strings.Repeat("x", 70_000)
	for _, c := range []struct{ ref, approver string }{{long, "Ann"}, {"RG 1", long}} {
		if _, err := h.Set(ctx, "a1", c.ref, c.approver); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("Set with a %d-byte case and a %d-byte approver: %v, want ErrInvalid", len(c.ref), len(c.approver), err)
		}
		r, err := f.cat.Get(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if r.Held() {
			t.Fatalf("hold in force without an audit entry (log holds %d entries)", log.Size())
		}
	}
	// A normal hold still goes through, audited.
	if _, err := h.Set(ctx, "a1", "RG 1", "Ann"); err != nil {
		t.Fatal(err)
	}
	if e, err := log.Entry(ctx, log.Size()-1); err != nil || e.Event.Kind != audit.KindLegalHoldSet {
		t.Errorf("last entry %v, %v; want the hold", e.Event.Kind, err)
	}
}

// A hold with a long case reference catalogued before Set limited it (or
// imported with the recording) must stay releasable: the limit applies to
// new holds only.
func TestLongHoldStillReleasable(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	r := f.add(t, "a1", policy.Quality, t0, "")
	ref := strings.Repeat("c", 2000)
	// A catalog holding such a hold, as an import would build it.
	cat := retention.NewMemCatalog()
	r.Holds = []retention.Hold{{Case: ref, Approver: "Ann", Since: t0}}
	r.ID = "a2"
	if err := cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	h := &retention.Holds{Catalog: cat, Audit: f.log, Now: func() time.Time { return t0 }}
	got, err := h.Release(ctx, "a2", ref, "Ann")
	if err != nil || got.Held() {
		t.Fatalf("Release of a long hold: %v, held %v", err, got.Held())
	}
}
