package pgcatalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func TestCatalog(t *testing.T) {
	retentiontest.TestCatalog(t, func(t *testing.T) retention.Catalog {
		return openT(t, freshSchema(t))
	})
}

func TestSweepCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	retentiontest.TestSweepCrash(t, func(t *testing.T) retention.Catalog {
		return openT(t, freshSchema(t))
	})
}

func TestSweepConcurrent(t *testing.T) {
	retentiontest.TestSweepConcurrent(t, func(t *testing.T) retention.Catalog {
		return openT(t, freshSchema(t))
	})
}

func TestAddBatch(t *testing.T) {
	ctx := context.Background()
	c := openT(t, freshSchema(t))
	var rs []retention.Recording
	for i := range 100 {
		r := retentiontest.Rec(fmt.Sprintf("b%03d", i), policy.Quality, time.Duration(i)*time.Second, retentiontest.SubjectOf("s"))
		if i == 7 {
			r.Holds = []retention.Hold{{Case: "K", Approver: "A", Since: retentiontest.Epoch}}
		}
		rs = append(rs, r)
	}
	if err := c.AddBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(ctx); err != nil || n != 100 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if r, err := c.Get(ctx, "b007"); err != nil || !r.Held() {
		t.Fatalf("Get b007 = %+v, %v: want held", r, err)
	}
	// All or none: a batch with one known id adds nothing.
	dup := []retention.Recording{retentiontest.Rec("new", policy.Quality, 0, ""), rs[3]}
	if err := c.AddBatch(ctx, dup); !errors.Is(err, retention.ErrExists) {
		t.Fatalf("AddBatch with a known id = %v, want ErrExists", err)
	}
	if _, err := c.Get(ctx, "new"); !errors.Is(err, retention.ErrNotFound) {
		t.Fatalf("a failed batch left a row: %v", err)
	}
	bad := retentiontest.Rec("bad", policy.Quality, 0, "")
	bad.Subject = "+33123456789"
	if err := c.AddBatch(ctx, []retention.Recording{bad}); !errors.Is(err, retention.ErrInvalid) {
		t.Fatalf("AddBatch of an invalid recording = %v, want ErrInvalid", err)
	}
}

func TestParseDSN(t *testing.T) {
	for _, dsn := range []string{"", "  ", "postgres://u:secret@[::1", "host=a port=notaport password=secret"} {
		err := ParseDSN(dsn)
		if !errors.Is(err, ErrBadDSN) {
			t.Errorf("ParseDSN(%q) = %v, want ErrBadDSN", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseDSN error repeats the password: %v", err)
		}
	}
	for _, dsn := range []string{"postgres://u@127.0.0.1:5432/db?sslmode=disable", "host=127.0.0.1 port=5432 dbname=db"} {
		if err := ParseDSN(dsn); err != nil {
			t.Errorf("ParseDSN(%q) = %v", dsn, err)
		}
	}
}

// TestMigrateConcurrently opens one empty schema from several nodes at
// once: each migration is applied exactly once, nobody fails.
func TestMigrateConcurrently(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	const nodes = 4
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for range nodes {
		wg.Go(func() {
			c, err := Open(ctx, dsn)
			if err == nil {
				c.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, v int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion || v != SchemaVersion {
		t.Fatalf("schema_migrations: %d rows up to version %d, want %d", n, v, SchemaVersion)
	}
	// A newer program migrated the database: refuse it.
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if c, err := Open(ctx, dsn); !errors.Is(err, ErrSchemaTooNew) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

// TestClaims: a deletion begun by one node is invisible to the other's
// BeginDelete and Pending while the first lives, and taken over when it dies.
func TestClaims(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	a, b := openT(t, dsn), openT(t, dsn)
	for _, id := range []string{"x", "y"} {
		if err := a.Add(ctx, retentiontest.Rec(id, policy.Quality, 0, "")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.BeginDelete(ctx, "x", retention.DeletionExpiry); err != nil {
		t.Fatal(err)
	}
	_, err := b.BeginDelete(ctx, "x", retention.DeletionExpiry)
	if !errors.Is(err, ErrClaimed) || !errors.Is(err, retention.ErrNotFound) {
		t.Fatalf("B's BeginDelete of A's deletion = %v, want ErrClaimed wrapping ErrNotFound", err)
	}
	if p, err := b.Pending(ctx, 0); err != nil || len(p) != 0 {
		t.Fatalf("B's Pending = %v, %v; want none (A is finishing x)", retentiontest.IDs(p), err)
	}
	if p, err := a.Pending(ctx, 0); err != nil || !slices.Equal(retentiontest.IDs(p), []string{"x"}) {
		t.Fatalf("A's Pending = %v, %v; want [x]", retentiontest.IDs(p), err)
	}
	// B's failed attempt left no claim behind on y either way.
	if _, err := b.BeginDelete(ctx, "y", retention.DeletionErasure); err != nil {
		t.Fatal(err)
	}
	if _, err := a.BeginDelete(ctx, "y", retention.DeletionExpiry); !errors.Is(err, ErrClaimed) {
		t.Fatalf("A's BeginDelete of B's deletion = %v, want ErrClaimed", err)
	}
	// A dies: its claim goes with its session; B takes x over.
	a.Close()
	waitReleased(t, dsn, a.lockKey("x"))
	p, err := b.Pending(ctx, 0)
	if err != nil || !slices.Equal(retentiontest.IDs(p), []string{"x", "y"}) {
		t.Fatalf("B's Pending after A died = %v, %v; want [x y]", retentiontest.IDs(p), err)
	}
	if r, err := b.BeginDelete(ctx, "x", retention.DeletionErasure); err != nil || r.Deletion != retention.DeletionExpiry {
		t.Fatalf("B's BeginDelete of the abandoned x = %+v, %v; want it as is", r, err)
	}
	for _, id := range []string{"x", "y"} {
		if err := b.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// A node reopened after the removal sees nothing pending.
	c := openT(t, dsn)
	if p, err := c.Pending(ctx, 0); err != nil || len(p) != 0 {
		t.Fatalf("Pending after removal = %v, %v", retentiontest.IDs(p), err)
	}
	if n, _ := c.Count(ctx); n != 0 {
		t.Fatalf("Count = %d, want 0", n)
	}
}

// TestSweepersRace: two nodes (two catalogs on one database), each with its
// own sweeper and audit log, sweep the same store at once, many times over:
// every due recording is deleted and audited exactly once across both logs,
// nothing held or not due is touched.
func TestSweepersRace(t *testing.T) {
	ctx := context.Background()
	at := retentiontest.Epoch.AddDate(0, 0, 30).Add(time.Hour)
	for round := range 3 {
		dsn := freshSchema(t)
		a, b := openT(t, dsn), openT(t, dsn)
		st := &retentiontest.Store{}
		var due, keep []string
		var rs []retention.Recording
		for i := range 150 {
			id := fmt.Sprintf("r%d-%03d", round, i)
			p := policy.Quality
			if i%5 == 4 {
				p = policy.ContractProof // not due
			}
			r := retentiontest.Rec(id, p, time.Duration(i)*time.Second, "")
			r.SHA256 = st.Put(id, []byte(id))
			if i%7 == 3 {
				r.Holds = []retention.Hold{{Case: "K", Approver: "A", Since: retentiontest.Epoch}}
			}
			if p == policy.Quality && i%7 != 3 {
				due = append(due, id)
			} else {
				keep = append(keep, id)
			}
			rs = append(rs, r)
		}
		if err := a.AddBatch(ctx, rs); err != nil {
			t.Fatal(err)
		}
		logA, logB := &retentiontest.AuditLog{}, &retentiontest.AuditLog{}
		var wg sync.WaitGroup
		for _, n := range []struct {
			c   *Catalog
			log *retentiontest.AuditLog
		}{{a, logA}, {b, logB}} {
			wg.Go(func() {
				sw := &retention.Sweeper{Catalog: n.c, Store: st, Audit: n.log, BatchSize: 16}
				if _, err := sw.Sweep(ctx, at); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, l := range []*retentiontest.AuditLog{logA, logB} {
			for _, e := range l.Kind(audit.KindRetentionDeleted) {
				seen[e.RecordingID]++
			}
		}
		for _, id := range due {
			if seen[id] != 1 {
				t.Errorf("round %d: %s audited %d times, want once", round, id, seen[id])
			}
			if st.Has(id) {
				t.Errorf("round %d: %s due and still stored", round, id)
			}
		}
		for _, id := range keep {
			if seen[id] != 0 || !st.Has(id) {
				t.Errorf("round %d: %s not due or held, touched (audited %d, stored %v)", round, id, seen[id], st.Has(id))
			}
		}
		if st.Deletes != len(due) {
			t.Errorf("round %d: %d store deletions for %d due", round, st.Deletes, len(due))
		}
		t.Logf("round %d: node A deleted %d, node B %d", round,
			len(logA.Kind(audit.KindRetentionDeleted)), len(logB.Kind(audit.KindRetentionDeleted)))
	}
}

// waitReleased waits until no session holds the advisory lock k (a closed
// node's backend exits a moment after its client closed): it takes the lock
// in a session of its own, blocking until then, and lets it go.
func waitReleased(t *testing.T, dsn string, k int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", k); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", k); err != nil {
		t.Fatal(err)
	}
}

// TestBeginDeleteSeesHoldCommittedWhileWaiting: a BeginDelete that waited
// for the row lock of a transaction adding a hold must see that hold once
// the lock is granted (a single SELECT ... FOR UPDATE would not: its
// snapshot predates the hold).
func TestBeginDeleteSeesHoldCommittedWhileWaiting(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	c := openT(t, dsn)
	if err := c.Add(ctx, retentiontest.Rec("h", policy.Quality, 0, "")); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM recordings WHERE id = 'h' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO holds (recording_id, seq, case_ref, approver, since) VALUES ('h', 0, 'K', 'A', 0)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.BeginDelete(ctx, "h", retention.DeletionExpiry)
		done <- err
	}()
	// Wait until BeginDelete is blocked on the row lock.
	waitLockWaiter(t, dsn)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, retention.ErrHeld) {
		t.Fatalf("BeginDelete after a hold committed while it waited = %v, want ErrHeld", err)
	}
}

// waitLockWaiter returns once some session of the database waits for a
// lock (polling pg_stat_activity, the server's own view of waits).
func waitLockWaiter(t *testing.T, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n); err != nil {
			t.Fatalf("waiting for a blocked BeginDelete: %v", err)
		}
		if n > 0 {
			return
		}
		if _, err := conn.Exec(ctx, "SELECT pg_sleep(0.005)"); err != nil {
			t.Fatal(err)
		}
	}
}
