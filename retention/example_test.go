package retention_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func ExampleNew() {
	created := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	r, err := retention.New(retention.Entry{ID: "rec-1", Purpose: policy.Quality, Created: created,
		Subject: policy.SubjectKey([]byte("secret"), "+33 1 23 45 67 89")})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.LawfulBasis)
	fmt.Println("delete at", r.Deadline.Format(time.RFC3339))
	_, err = retention.New(retention.Entry{ID: "rec-2", Purpose: policy.Quality, Created: created, Retention: policy.Years(1)})
	fmt.Println(errors.Is(err, retention.ErrInvalid), err)
	// Output:
	// 6(1)(f) legitimate interests
	// delete at 2026-03-02T10:00:00Z
	// true retention: P1Y exceeds the maximum P6M for purpose quality (R9)
}

func ExampleSweeper() {
	ctx := context.Background()
	cat := retention.NewMemCatalog()
	store := &retentiontest.Store{}
	log := &retentiontest.AuditLog{}
	created := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"rec-1", "rec-2"} {
		sum := store.Put(id, []byte("audio"))
		r, _ := retention.New(retention.Entry{ID: id, Purpose: policy.Training, Created: created, SHA256: sum})
		cat.Add(ctx, r)
	}
	holds := &retention.Holds{Catalog: cat, Audit: log}
	holds.Set(ctx, "rec-2", "RG 26/00042", "A. Counsel")

	sw := &retention.Sweeper{Catalog: cat, Store: store, Audit: log}
	deadline := policy.Days(30).AddTo(created)
	for _, at := range []time.Time{deadline.Add(-time.Second), deadline} {
		rep, err := sw.Sweep(ctx, at)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %d deleted, %d held\n", at.Format(time.RFC3339), len(rep.Deleted), len(rep.Held))
	}
	fmt.Println("stored:", store.IDs())
	for _, e := range log.Events() {
		fmt.Println("audit:", e.Kind, e.RecordingID)
	}
	// Output:
	// 2026-01-31T08:59:59Z: 0 deleted, 0 held
	// 2026-01-31T09:00:00Z: 1 deleted, 1 held
	// stored: [rec-2]
	// audit: legal-hold-set rec-2
	// audit: retention-deleted rec-1
	// audit: access-denied rec-2
}

func ExampleGate_Open() {
	ctx := context.Background()
	cat := retention.NewMemCatalog()
	store := &retentiontest.Store{}
	sum := store.Put("rec-1", []byte("OggS..."))
	r, _ := retention.New(retention.Entry{ID: "rec-1", Purpose: policy.Quality, Created: time.Now(), SHA256: sum})
	cat.Add(ctx, r)
	// The host knows who asks from its own sessions; a table grants roles.
	type session struct{}
	who := func(ctx context.Context) (string, error) {
		id, _ := ctx.Value(session{}).(string)
		return id, nil
	}
	table := retention.AccessTable{Roles: map[string][]policy.Role{
		"u-12": {policy.RoleTrainer}, "u-7": {policy.RoleQuality}}}
	gate := &retention.Gate{Catalog: cat, Store: store, Audit: audit.Discard, Authorizer: table.Authorizer(who)}

	trainer := context.WithValue(ctx, session{}, "u-12")
	_, err := gate.Open(trainer, retention.Principal{}, "rec-1", retention.ActionListen, "onboarding")
	fmt.Println(err)

	quality := context.WithValue(ctx, session{}, "u-7")
	rc, err := gate.Open(quality, retention.Principal{}, "rec-1", retention.ActionListen, "monthly review")
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", b)
	// Output:
	// open: access denied: listen rec-1 by u-12: none of the roles of u-12 (trainer) may open a quality recording (R25); allowed roles: quality, supervisor
	// OggS...
}

func ExampleSubjects_Erase() {
	ctx := context.Background()
	cat := retention.NewMemCatalog()
	store := &retentiontest.Store{}
	caller := policy.SubjectKey([]byte("secret"), "+33 6 12 34 56 78")
	for id, p := range map[string]policy.Purpose{"rec-q": policy.Quality, "rec-mifid": policy.LegalObligation} {
		sum := store.Put(id, []byte("audio"))
		r, _ := retention.New(retention.Entry{ID: id, Purpose: p, Created: time.Now(), Subject: caller, SHA256: sum})
		cat.Add(ctx, r)
	}
	dpo := func(context.Context) (string, error) { return "dpo-1", nil } // the host's own login
	table := retention.AccessTable{Roles: map[string][]policy.Role{"dpo-1": {retention.RoleDPO}}}
	s := &retention.Subjects{Catalog: cat, Store: store, Audit: audit.Discard, Authorizer: table.Authorizer(dpo)}
	rep, err := s.Erase(ctx, retention.Request{Subject: caller, Handler: "dpo-1", Reference: "ticket 981"})
	if err != nil {
		panic(err)
	}
	for _, d := range rep.Erased {
		fmt.Println("erased", d.ID)
	}
	for _, r := range rep.Refused {
		fmt.Println("refused", r.ID, errors.Is(r.Err, retention.ErrNotErasable))
	}
	// Output:
	// erased rec-q
	// refused rec-mifid true
}

func ExampleDestroyer_Destroy() {
	ctx := context.Background()
	cat := retention.NewMemCatalog()
	store := &retentiontest.Store{}
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for id, p := range map[string]policy.Purpose{"rec-q": policy.Quality, "rec-mifid": policy.LegalObligation} {
		r, _ := retention.New(retention.Entry{ID: id, Purpose: p, Created: created, SHA256: store.Put(id, []byte("audio"))})
		cat.Add(ctx, r)
	}
	table := retention.AccessTable{Roles: map[string][]policy.Role{"dpo-1": {retention.RoleDPO}}}
	d := &retention.Destroyer{Catalog: cat, Store: store, Audit: audit.Discard,
		Authorizer: table.Authorizer(func(context.Context) (string, error) { return "dpo-1", nil }), // the host's login
		Now:        func() time.Time { return created.AddDate(0, 1, 0) }}
	_, err := d.Destroy(ctx, "rec-mifid", "asked by the client")
	fmt.Println(errors.Is(err, retention.ErrNotErasable), err)
	del, err := d.Destroy(ctx, "rec-q", "recorded by mistake")
	fmt.Println(del.ID, del.Cause, err, store.Has("rec-q"))
	// Output:
	// true destroy: recording rec-mifid may not be destroyed: kept under a legal obligation (GDPR Art. 17(3)(b)): purpose legal-obligation, not before 2031-03-01 (R11, R30)
	// rec-q destroyed <nil> false
}

func ExampleParseAccessTable() {
	t, err := retention.ParseAccessTable([]byte(`{"roles": {"alice": ["quality"], "bob": ["dpo"]}}`))
	if err != nil {
		panic(err)
	}
	az := t.Authorizer(func(context.Context) (string, error) { return "alice", nil }) // the host's login
	p, err := az.Authorize(context.Background(), retention.AccessRequest{Principal: retention.Principal{Role: policy.RoleQuality}})
	fmt.Println(p.ID, p.Role, p.Roles, err)
	_, err = retention.ParseAccessTable([]byte(`{"roles": {"mallory": ["admin"]}}`))
	fmt.Println(errors.Is(err, retention.ErrInvalid))
	// Output:
	// alice quality [quality] <nil>
	// true
}
