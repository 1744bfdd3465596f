package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// TestGateNeedsAuthenticatedPrincipal (R25): the role is what the host's
// identity system grants, never what the caller types; the policy's access
// roles narrow the purpose's; a refusal lists the allowed roles.
func TestGateNeedsAuthenticatedPrincipal(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	f.add(t, "q", policy.Quality, t0, "")
	sum := f.store.Put("narrow", []byte("OggS narrow"))
	r, err := retention.New(retention.Entry{ID: "narrow", Purpose: policy.Quality, Created: t0, SHA256: sum,
		AccessRoles: []policy.Role{policy.RoleQuality}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	g := f.gate()
	g.Authorizer = nil
	if _, err := g.Open(ctx, retention.Principal{ID: "a", Role: policy.RoleQuality}, "q", retention.ActionListen, "x"); !errors.Is(err, retention.ErrNotConfigured) {
		t.Errorf("Open without an Authorizer = %v, want ErrNotConfigured", err)
	}
	user := "mallory"
	table := retention.AccessTable{Roles: map[string][]policy.Role{
		"mallory": {policy.RoleTrainer}, "sam": {policy.RoleSupervisor}, "quinn": {policy.RoleQuality, policy.RoleSupervisor}}}
	g.Authorizer = table.Authorizer(func(context.Context) (string, error) { return user, nil })
	open := func(p retention.Principal, id string) error {
		rc, err := g.Open(ctx, p, id, retention.ActionListen, "review")
		if rc != nil {
			rc.Close()
		}
		return err
	}
	lastDenied := func() audit.Event {
		ev := f.log.Kind(audit.KindAccessDenied)
		if len(ev) == 0 {
			t.Fatal("no refusal audited")
		}
		return ev[len(ev)-1]
	}
	// Typing a role one does not hold: refused, audited under the real id.
	err = open(retention.Principal{Role: policy.RoleSupervisor}, "q")
	if !errors.Is(err, retention.ErrDenied) || !strings.Contains(err.Error(), "not granted") || !strings.Contains(err.Error(), "R25") {
		t.Errorf("mallory as supervisor: %v", err)
	}
	if e := lastDenied(); e.Actor != "mallory" {
		t.Errorf("refusal audited as %+v", e)
	}
	// Claiming to be someone else: not authenticated.
	err = open(retention.Principal{ID: "sam", Role: policy.RoleSupervisor}, "q")
	if !errors.Is(err, retention.ErrUnauthenticated) || lastDenied().Actor != "mallory" {
		t.Errorf("mallory claiming to be sam: %v, audited %+v", err, lastDenied())
	}
	// A granted role the purpose does not allow: the allowed roles listed.
	err = open(retention.Principal{}, "q")
	if !errors.Is(err, retention.ErrDenied) || !strings.Contains(err.Error(), "allowed roles: quality, supervisor") {
		t.Errorf("mallory (trainer) on quality: %v", err)
	}
	// The policy's access roles narrow the purpose's: a supervisor may open
	// "q" but not "narrow".
	user = "sam"
	if err := open(retention.Principal{}, "q"); err != nil {
		t.Errorf("sam on q: %v", err)
	}
	if e := f.log.Kind(audit.KindAccess); len(e) != 1 || e[0].Actor != "sam" || e[0].Role != "supervisor" {
		t.Errorf("access audited as %+v", e)
	}
	err = open(retention.Principal{Role: policy.RoleSupervisor}, "narrow")
	if !errors.Is(err, retention.ErrDenied) || !strings.Contains(err.Error(), "allowed roles: quality") || strings.Contains(err.Error(), "quality, supervisor") {
		t.Errorf("sam on narrow: %v", err)
	}
	// Someone holding an allowed role gets it picked.
	user = "quinn"
	if err := open(retention.Principal{}, "narrow"); err != nil {
		t.Errorf("quinn on narrow: %v", err)
	}
	// Unknown to the table: refused.
	user = "eve"
	if err := open(retention.Principal{Role: policy.RoleQuality}, "q"); !errors.Is(err, retention.ErrDenied) {
		t.Errorf("eve: %v", err)
	}
}

// TestSubjectsNeedDPO: a data subject request is handled by an
// authenticated person holding the dpo role (R25); the audit actor is who
// the authorizer names, not the claim.
func TestSubjectsNeedDPO(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	sub := retentiontest.SubjectOf("+33 6 00 00 00 07")
	f.add(t, "a", policy.Quality, t0, sub)
	s := f.subjects(t0)
	s.Authorizer = &retentiontest.Authorizer{Roles: map[string][]policy.Role{"qa": {policy.RoleQuality}, "dpo-1": {retention.RoleDPO}}}
	if _, err := s.Erase(ctx, retention.Request{Subject: sub, Handler: "qa"}); !errors.Is(err, retention.ErrDenied) || !strings.Contains(err.Error(), "dpo") {
		t.Errorf("erase by qa: %v", err)
	}
	if !f.store.Has("a") {
		t.Fatal("erased by someone without the dpo role")
	}
	if ev := f.log.Kind(audit.KindAccessDenied); len(ev) != 1 || ev[0].Actor != "qa" || retentiontest.Attr(ev[0], "action") != "subject-erase" {
		t.Errorf("refusal audited as %+v", ev)
	}
	// Which calls someone made is theirs to know: find needs the role too.
	if _, err := s.Find(ctx, retention.Request{Subject: sub, Handler: "qa"}); !errors.Is(err, retention.ErrDenied) {
		t.Errorf("find by qa: %v", err)
	}
	if rs, err := s.Find(ctx, retention.Request{Subject: sub, Handler: "dpo-1"}); err != nil || len(rs) != 1 {
		t.Errorf("find by dpo-1: %v, %v", rs, err)
	}
	if ev := f.log.Kind(audit.KindAccessDenied); len(ev) != 2 || retentiontest.Attr(ev[1], "action") != "subject-find" {
		t.Errorf("refusals audited as %+v", ev)
	}
	rep, err := s.Erase(ctx, retention.Request{Subject: sub, Handler: "dpo-1"})
	if err != nil || len(rep.Erased) != 1 {
		t.Fatalf("erase by dpo-1: %+v, %v", rep, err)
	}
}

func TestParseAccessTable(t *testing.T) {
	tab, err := retention.ParseAccessTable([]byte(`{"roles": {"alice": ["quality", "supervisor"], "bob": ["dpo"]}}`))
	if err != nil || len(tab.Roles["alice"]) != 2 || tab.Roles["bob"][0] != retention.RoleDPO {
		t.Fatalf("ParseAccessTable = %+v, %v", tab, err)
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `{"roles": {"alice": ["admin"]}}`, `{"roles": {"": ["quality"]}}`, `{"roles": {" alice": ["quality"]}}`,
		`{"roles": {"alice": ["quality", "quality"]}}`, `{"roles": {}, "as": "supervisor"}`, `{"roles": {}} {}`,
	} {
		if _, err := retention.ParseAccessTable([]byte(bad)); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("ParseAccessTable(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzParseAccessTable(f *testing.F) {
	f.Add([]byte(`{"roles": {"alice": ["quality", "supervisor"], "bob": ["dpo"]}}`))
	f.Add([]byte(`{"roles": {"alice": ["admin"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := retention.ParseAccessTable(b)
		if err != nil {
			if !errors.Is(err, retention.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for id, rs := range tab.Roles {
			if strings.TrimSpace(id) == "" {
				t.Fatalf("blank id accepted")
			}
			for _, r := range rs {
				if r == "" {
					t.Fatalf("empty role accepted for %q", id)
				}
			}
		}
	})
}
