package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
	"github.com/consentrec/consentrec/retention/pgcatalog"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// pgSchema returns a DSN on a fresh PostgreSQL schema (CONSENTREC_PG_DSN),
// dropped at the end; skipped without it, failed when CONSENTREC_CI=1.
func pgSchema(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CONSENTREC_PG_DSN")
	if dsn == "" {
		if os.Getenv("CONSENTREC_CI") == "1" {
			t.Fatal("CONSENTREC_CI=1 but CONSENTREC_PG_DSN is empty: PostgreSQL did not start")
		}
		t.Skip("CONSENTREC_PG_DSN is not set: skipping the test with PostgreSQL (see README, Scaling out)")
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Error(err)
		}
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// newID makes an id the way recorder does (time and 48 random bits).
func newID(t time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return "rec-" + t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

type node struct {
	name  string
	store *Store
	cat   *pgcatalog.Catalog
	log   *retentiontest.AuditLog
}

// TestTwoNodes: two recorder nodes (two stores with their own spools on one
// bucket, two catalogs on one database) record concurrently, then two
// sweepers, one per node, race. Ids never collide; every due recording is
// deleted exactly once and its deletion audited once (in one node's log);
// nothing held or not due is touched.
func TestTwoNodes(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	dsn := pgSchema(t)
	now := time.Now().UTC()
	cfg.Lock = func(m recorder.Meta) Lock { return Lock{Mode: Governance, RetainUntil: now.Add(time.Hour)} }
	var nodes []*node
	for _, name := range []string{"a", "b"} {
		c := cfg
		c.SpoolDir = t.TempDir()
		cat, err := pgcatalog.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		nodes = append(nodes, &node{name: name, store: newTestStore(t, c), cat: cat, log: &retentiontest.AuditLog{}})
	}
	const perWorker, workers = 6, 3
	// Quality (30 days) is due an hour ago, within the sweeper's grace;
	// contract proof (5 years) is not due.
	created := now.AddDate(0, 0, -30).Add(-time.Hour)
	type rec struct {
		id   string
		node string
		due  bool
		held bool
	}
	var mu sync.Mutex
	var recs []rec
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					k := w*perWorker + i
					p := policy.Quality
					if k%4 == 3 {
						p = policy.ContractProof
					}
					m := recorder.Meta{ID: newID(now), CallID: fmt.Sprintf("call-%s-%d", n.name, k), Purpose: p,
						PolicyVersion: "pv1", Layout: recorder.LayoutDual, Created: created,
						Channels: []recorder.Role{recorder.Customer, recorder.Agent}}
					wr, err := n.store.Create(ctx, m)
					if err != nil {
						t.Error(err)
						return
					}
					for range 20 {
						wr.Write([]byte(strings.Repeat(m.ID, 4)))
					}
					fm, err := wr.Finalize(ctx, recorder.Final{Duration: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					e, err := fromrecorder.Entry(fm, retentiontest.SubjectOf(m.CallID), policy.Period{})
					if err == nil {
						var r retention.Recording
						if r, err = retention.New(e); err == nil {
							err = n.cat.Add(ctx, r)
						}
					}
					if err != nil {
						t.Error(err)
						return
					}
					held := k%5 == 1
					if held {
						h := &retention.Holds{Catalog: n.cat, Audit: n.log}
						if _, err := h.Set(ctx, m.ID, "case-"+m.ID, "Ann"); err != nil {
							t.Error(err)
							return
						}
						if err := n.store.SetLegalHold(ctx, m.ID, true); err != nil {
							t.Error(err)
							return
						}
					}
					mu.Lock()
					recs = append(recs, rec{id: m.ID, node: n.name, due: p == policy.Quality && !held, held: held})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if ids[r.id] {
			t.Fatalf("id %s used twice", r.id)
		}
		ids[r.id] = true
	}
	if want := 2 * workers * perWorker; len(ids) != want {
		t.Fatalf("%d recordings, want %d", len(ids), want)
	}
	// Each node sees every finalized recording, whoever made it.
	for _, n := range nodes {
		l, err := n.store.List(ctx)
		if err != nil || len(l) != len(ids) {
			t.Fatalf("node %s lists %d recordings, %v; want %d", n.name, len(l), err, len(ids))
		}
	}

	// Two sweepers race.
	reps := make([]retention.Report, len(nodes))
	for i, n := range nodes {
		wg.Go(func() {
			sw := &retention.Sweeper{Catalog: n.cat, Store: n.store, Audit: n.log, BatchSize: 5}
			rep, err := sw.Sweep(ctx, now)
			if err != nil {
				t.Error(err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	deleted := map[string]int{}
	for _, n := range nodes {
		for _, e := range n.log.Kind(audit.KindRetentionDeleted) {
			deleted[e.RecordingID]++
		}
	}
	for _, r := range recs {
		_, statErr := nodes[0].store.Stat(ctx, r.id)
		_, getErr := nodes[1].cat.Get(ctx, r.id)
		switch {
		case r.due:
			if deleted[r.id] != 1 {
				t.Errorf("%s (node %s) due: deletion audited %d times, want once", r.id, r.node, deleted[r.id])
			}
			if statErr == nil || getErr == nil {
				t.Errorf("%s due: still stored (%v) or catalogued (%v)", r.id, statErr, getErr)
			}
		default:
			if deleted[r.id] != 0 || statErr != nil || getErr != nil {
				t.Errorf("%s (held %v) not due: touched (audited %d, stat %v, catalog %v)", r.id, r.held, deleted[r.id], statErr, getErr)
			}
		}
	}
	for i, n := range nodes {
		t.Logf("node %s swept: %d deleted, %d held, %d alarms", n.name, len(reps[i].Deleted), len(reps[i].Held), len(reps[i].Overdue))
		if len(reps[i].Overdue) != 0 {
			t.Errorf("node %s: alarms %+v", n.name, reps[i].Overdue)
		}
	}
}

// TestRetentionStore: the store as the retention package's Store, under the
// retention sweeper and access gate: deleting an unknown id wraps
// fs.ErrNotExist, a finalized recording opens through the gate (the
// catalog's SHA-256 is the store's), an altered one is refused.
func TestRetentionStore(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, testConfig(t))
	var st retention.Store = s
	if err := st.Delete(ctx, "unknown"); !isErrNotExist(err) {
		t.Fatalf("Delete unknown = %v, want fs.ErrNotExist", err)
	}
	cat := retention.NewMemCatalog()
	log := &retentiontest.AuditLog{}
	w, err := s.Create(ctx, recorder.Meta{ID: "g1", CallID: "c", Purpose: policy.Quality, Created: time.Now().AddDate(0, 0, -31)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("OggS and more"))
	m, err := w.Finalize(ctx, recorder.Final{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := fromrecorder.Entry(m, "", policy.Period{})
	r, err := retention.New(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	rep, err := (&retention.Sweeper{Catalog: cat, Store: st, Audit: log}).Sweep(ctx, time.Time{})
	if err != nil || len(rep.Deleted) != 1 || rep.Deleted[0].SHA256 != m.SHA256 {
		t.Fatalf("Sweep = %+v, %v", rep, err)
	}
	if _, err := s.Stat(ctx, "g1"); !isErrNotExist(err) {
		t.Fatalf("Stat after sweep = %v", err)
	}
	if ev := log.Kind(audit.KindRetentionDeleted); len(ev) != 1 || ev[0].SHA256 != m.SHA256 {
		t.Fatalf("audited %+v", ev)
	}
}
