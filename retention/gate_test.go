package retention_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func (f *fixture) gate() *retention.Gate {
	return &retention.Gate{Catalog: f.cat, Store: f.store, Audit: f.log, Authorizer: &retentiontest.Authorizer{}, Now: func() time.Time { return t0 }}
}

func TestGateAllowsPurposeRoles(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	for i, a := range []retention.Action{retention.ActionListen, retention.ActionDownload, retention.ActionExport} {
		rc, err := f.gate().Open(ctx, retention.Principal{ID: "agent-7", Role: policy.RoleQuality}, "q", a, "monthly quality review")
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != "OggS audio of q" {
			t.Fatalf("%s: read %q, %v", a, b, err)
		}
		evs := f.log.Kind(audit.KindAccess)
		if len(evs) != i+1 {
			t.Fatalf("%d access events, want %d", len(evs), i+1)
		}
		e := evs[i]
		if retentiontest.Attr(e, "action") != string(a) || e.Actor != "agent-7" || e.Role != "quality" ||
			e.Reason != "monthly quality review" || e.RecordingID != "q" || e.Purpose != "quality" {
			t.Errorf("%s audited as %+v", a, e)
		}
	}
}

// TestGateRefusesRoleNotAllowed: deny by default, each refusal audited.
func TestGateRefusesRoleNotAllowed(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	f.add(t, "law", policy.LegalObligation, t0, "")
	cases := []struct {
		name   string
		p      retention.Principal
		id     string
		a      retention.Action
		reason string
	}{
		{"trainer on quality", retention.Principal{ID: "u1", Role: policy.RoleTrainer}, "q", retention.ActionListen, "training"},
		{"supervisor on legal obligation", retention.Principal{ID: "u2", Role: policy.RoleSupervisor}, "law", retention.ActionDownload, "curious"},
		{"legal without hold", retention.Principal{ID: "u3", Role: policy.RoleLegal}, "q", retention.ActionExport, "case"},
		{"unknown role", retention.Principal{ID: "u4", Role: "admin"}, "q", retention.ActionListen, "admin"},
		{"no role", retention.Principal{ID: "u5"}, "q", retention.ActionListen, "x"},
		{"no reason", retention.Principal{ID: "u6", Role: policy.RoleQuality}, "q", retention.ActionListen, "  "},
		{"no principal", retention.Principal{Role: policy.RoleQuality}, "q", retention.ActionListen, "x"},
		{"bad action", retention.Principal{ID: "u7", Role: policy.RoleQuality}, "q", "share", "x"},
		{"unknown recording", retention.Principal{ID: "u8", Role: policy.RoleQuality}, "nope", retention.ActionListen, "x"},
	}
	for i, c := range cases {
		rc, err := f.gate().Open(ctx, c.p, c.id, c.a, c.reason)
		var de *retention.DeniedError
		if rc != nil || !errors.Is(err, retention.ErrDenied) || !errors.As(err, &de) || de.Why == "" {
			t.Errorf("%s: Open = %v, %v; want a DeniedError and no reader", c.name, rc, err)
		}
		denied := f.log.Kind(audit.KindAccessDenied)
		if len(denied) != i+1 {
			t.Fatalf("%s: %d refusals audited, want %d", c.name, len(denied), i+1)
		}
		wantID := c.id
		if c.id == "nope" {
			wantID = retention.UnknownID("nope") // never what was typed, in clear
		}
		wantActor := c.p.ID
		if wantActor == "" {
			wantActor = "unauthenticated"
		}
		if e := denied[i]; e.RecordingID != wantID || e.Actor != wantActor || retentiontest.Attr(e, "denied") == "" {
			t.Errorf("%s: audited as %+v", c.name, e)
		}
	}
	if n := len(f.log.Kind(audit.KindAccess)); n != 0 {
		t.Errorf("%d accesses audited as granted", n)
	}
	if _, err := f.gate().Open(ctx, retention.Principal{ID: "x", Role: policy.RoleQuality}, "nope", retention.ActionListen, "x"); !errors.Is(err, retention.ErrNotFound) {
		t.Errorf("unknown recording: %v, want ErrNotFound too", err)
	}
}

// TestGateLegalRoleOnlyUnderHold: R25.
func TestGateLegalRoleOnlyUnderHold(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	lawyer := retention.Principal{ID: "lawyer-1", Role: policy.RoleLegal}
	if _, err := f.gate().Open(ctx, lawyer, "q", retention.ActionListen, "case RG 1"); !errors.Is(err, retention.ErrDenied) {
		t.Fatalf("legal without hold: %v", err)
	}
	if _, err := f.holds().Set(ctx, "q", "RG 1", "Head of legal"); err != nil {
		t.Fatal(err)
	}
	rc, err := f.gate().Open(ctx, lawyer, "q", retention.ActionListen, "case RG 1")
	if err != nil {
		t.Fatalf("legal under hold: %v", err)
	}
	rc.Close()
	if _, err := f.holds().Release(ctx, "q", "RG 1", "Head of legal"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.gate().Open(ctx, lawyer, "q", retention.ActionListen, "case RG 1"); !errors.Is(err, retention.ErrDenied) {
		t.Fatalf("legal after release: %v", err)
	}
}

func TestGateIntegrity(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	f.add(t, "swapped", policy.Quality, t0, "")
	p := retention.Principal{ID: "qa", Role: policy.RoleQuality}

	// The store detects the corruption: no reader, audited.
	f.store.Corrupt("q")
	rc, err := f.gate().Open(ctx, p, "q", retention.ActionListen, "review")
	if rc != nil || !errors.Is(err, retention.ErrIntegrity) {
		t.Fatalf("corrupted: %v, %v", rc, err)
	}
	if evs := f.log.Kind(audit.KindIntegrityFailure); len(evs) != 1 || evs[0].RecordingID != "q" {
		t.Fatalf("integrity failure audited as %+v", evs)
	}

	// A store whose own digest was replaced: the catalogued SHA-256 catches it.
	f.store.Replace("swapped", []byte("other audio"))
	rc, err = f.gate().Open(ctx, p, "swapped", retention.ActionListen, "review")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, retention.ErrIntegrity) {
		t.Fatalf("reading a swapped file: %v, want ErrIntegrity", err)
	}
	if evs := f.log.Kind(audit.KindIntegrityFailure); len(evs) != 2 || evs[1].RecordingID != "swapped" {
		t.Fatalf("integrity failures audited: %+v", evs)
	}

	// A host's own integrity error, recognised through IsIntegrity.
	errHost := errors.New("host integrity error")
	g := f.gate()
	g.Store = storeFunc(func(string) error { return errHost })
	g.IsIntegrity = func(err error) bool { return errors.Is(err, errHost) }
	if _, err := g.Open(ctx, p, "swapped", retention.ActionListen, "x"); !errors.Is(err, retention.ErrIntegrity) || !errors.Is(err, errHost) {
		t.Fatalf("host integrity error: %v", err)
	}
	if n := len(f.log.Kind(audit.KindIntegrityFailure)); n != 3 {
		t.Fatalf("%d integrity failures audited, want 3", n)
	}
}

func TestGateAuditFailureGivesNoReader(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	down := errors.New("audit down")
	f.log.Fail = func(audit.Event) error { return down }
	rc, err := f.gate().Open(ctx, retention.Principal{ID: "qa", Role: policy.RoleQuality}, "q", retention.ActionListen, "x")
	if rc != nil || !errors.Is(err, down) {
		t.Fatalf("Open with the audit log down = %v, %v; want no reader", rc, err)
	}
}

type storeFunc func(id string) error

func (f storeFunc) Open(_ context.Context, id string) (io.ReadCloser, error) { return nil, f(id) }
func (f storeFunc) Delete(_ context.Context, id string) error                { return f(id) }

// beginDeleteOnOpen is a Store whose Open lets a deletion begin while it
// checks the file (Store.Open hashes the whole recording: time enough for a
// sweep or an erasure to start).
type beginDeleteOnOpen struct {
	*retentiontest.Store
	cat retention.Catalog
}

func (s beginDeleteOnOpen) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if _, err := s.cat.BeginDelete(ctx, id, retention.DeletionErasure); err != nil {
		return nil, err
	}
	return s.Store.Open(ctx, id)
}

// The gate checked the catalog, then opened the file: a deletion (an
// erasure the data subject asked for) that began meanwhile did not stop the
// access, which was handed out and audited as granted, possibly after the
// erasure's own entry.
func TestGateRefusesDeletionBegunDuringOpen(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	g := f.gate()
	g.Store = beginDeleteOnOpen{f.store, f.cat}
	rc, err := g.Open(ctx, retention.Principal{ID: "qa", Role: policy.RoleQuality}, "q", retention.ActionListen, "review")
	if rc != nil {
		rc.Close()
	}
	if rc != nil || !errors.Is(err, retention.ErrPendingDeletion) {
		t.Fatalf("Open while a deletion began = %v, %v; want no reader, ErrPendingDeletion", rc, err)
	}
	if n := len(f.log.Kind(audit.KindAccess)); n != 0 {
		t.Errorf("%d access entries for an access refused", n)
	}
	if n := len(f.log.Kind(audit.KindAccessDenied)); n != 1 {
		t.Errorf("%d access-denied entries, want 1", n)
	}
}

// Validate accepts a SHA-256 in upper-case hex (New lower-cases it, a host
// building the Recording itself may not): the gate and exports compared it
// with a lower-case digest, so every read of an intact recording ended in an
// integrity failure, audited as an incident.
func TestUpperCaseDigestIsNotAnIntegrityFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	sum := f.store.Put("q", []byte("OggS audio of q"))
	r := retention.Recording{ID: "q", Purpose: policy.Quality, Created: t0, Deadline: t0.AddDate(0, 0, 30),
		SHA256: strings.ToUpper(sum)}
	if err := f.cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	rc, err := f.gate().Open(ctx, retention.Principal{ID: "qa", Role: policy.RoleQuality}, "q", retention.ActionListen, "review")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "OggS audio of q" {
		t.Errorf("read %q, %v", b, err)
	}
	if n := len(f.log.Kind(audit.KindIntegrityFailure)); n != 0 {
		t.Errorf("%d integrity failures audited for an intact recording", n)
	}
}
