package retentiontest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// ErrCrash is the error the crash suite's dead process returns.
var ErrCrash = errors.New("retentiontest: process killed")

// killSwitch makes every mutating step after the n-th fail, as if the
// process died there: the catalog, the store and the audit log all stop.
type killSwitch struct {
	n, count int
	steps    []string
}

func (k *killSwitch) step(name string) error {
	if k.count >= k.n {
		return fmt.Errorf("%s: %w", name, ErrCrash)
	}
	k.count++
	k.steps = append(k.steps, name)
	return nil
}

// TestSweepCrash kills a sweep after each of its mutating steps in turn
// (catalog marks and removals, file deletions, audit appends), sets a legal
// hold on one expired recording while the process is "down", reruns a
// sweep, and checks that exactly the expired, unheld set is gone: no orphan
// file (stored but not catalogued), no orphan row (catalogued, not stored),
// nothing held deleted, every deletion audited with its SHA-256.
// newCatalog returns a fresh, empty catalog per call.
func TestSweepCrash(t *testing.T, newCatalog func(t *testing.T) retention.Catalog) {
	ctx := context.Background()
	at := Epoch.AddDate(0, 0, 30).Add(time.Hour) // every quality deadline passed, within the grace
	setup := func(t *testing.T) (retention.Catalog, *Store, []string, string) {
		c := newCatalog(t)
		st := &Store{}
		var want []string
		var lateHold string
		for i := range 12 {
			id := fmt.Sprintf("r%02d", i)
			var r retention.Recording
			switch {
			case i%4 == 3: // not expired: contract proof, five years
				r = Rec(id, policy.ContractProof, time.Duration(i)*time.Minute, "")
			default:
				r = Rec(id, policy.Quality, time.Duration(i)*time.Minute, "")
			}
			r.SHA256 = st.Put(id, []byte("audio of "+id))
			if err := c.Add(ctx, r); err != nil {
				t.Fatal(err)
			}
			switch {
			case i == 5: // held from the start
				if _, err := c.SetHold(ctx, id, retention.Hold{Case: "C-5", Approver: "Ann", Since: Epoch}); err != nil {
					t.Fatal(err)
				}
			case i == 10: // held while the process is down, if not begun
				lateHold = id
			case i%4 != 3:
				want = append(want, id)
			}
		}
		return c, st, want, lateHold
	}

	// Count the steps of an uninterrupted sweep.
	var total int
	{
		c, st, _, _ := setup(t)
		k := &killSwitch{n: 1 << 30}
		sw := sweeperWith(c, st, &AuditLog{}, k)
		if _, err := sw.Sweep(ctx, at); err != nil {
			t.Fatal(err)
		}
		total = k.count
		if total < 4*8 {
			t.Fatalf("an uninterrupted sweep took %d steps, want at least 32: %v", total, k.steps)
		}
	}
	for n := 0; n <= total; n++ {
		t.Run(fmt.Sprintf("killed-after-%d-steps", n), func(t *testing.T) {
			c, st, want, lateHold := setup(t)
			log := &AuditLog{}
			k := &killSwitch{n: n}
			_, err := sweeperWith(c, st, log, k).Sweep(ctx, at)
			if n < total && !errors.Is(err, ErrCrash) {
				t.Fatalf("killed sweep returned %v, want ErrCrash", err)
			}
			// While down, a lawyer holds r10. If its deletion already
			// began, the hold is refused (ErrPendingDeletion) and it goes.
			_, herr := c.SetHold(ctx, lateHold, retention.Hold{Case: "C-10", Approver: "Bob", Since: at})
			switch {
			case herr == nil:
			case errors.Is(herr, retention.ErrPendingDeletion), errors.Is(herr, retention.ErrNotFound):
				want = append(want, lateHold)
				slices.Sort(want)
			default:
				t.Fatal(herr)
			}
			// Restart: a fresh sweeper on the same state.
			rep, err := (&retention.Sweeper{Catalog: c, Store: st, Audit: log}).Sweep(ctx, at)
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if len(rep.Overdue) != 0 {
				t.Errorf("rerun raised alarms: %+v", rep.Overdue)
			}
			checkSwept(t, c, st, log, want, at)
		})
	}
}

func sweeperWith(c retention.Catalog, st *Store, log *AuditLog, k *killSwitch) *retention.Sweeper {
	fc := &FaultCatalog{Catalog: c, Fail: func(m, id string) error {
		switch m {
		case "BeginDelete", "Remove", "SetHold", "ReleaseHold", "Add":
			return k.step(m + " " + id)
		}
		if k.count >= k.n { // reads fail too once dead
			return fmt.Errorf("%s: %w", m, ErrCrash)
		}
		return nil
	}}
	fs := &faultStore{Store: st, k: k}
	fl := audit.AppenderFunc(func(ctx context.Context, e audit.Event) (uint64, error) {
		if err := k.step("audit " + e.RecordingID); err != nil {
			return 0, err
		}
		return log.Append(ctx, e)
	})
	return &retention.Sweeper{Catalog: fc, Store: fs, Audit: fl, BatchSize: 4}
}

type faultStore struct {
	*Store
	k *killSwitch
}

func (f *faultStore) Delete(ctx context.Context, id string) error {
	if err := f.k.step("delete " + id); err != nil {
		return err
	}
	return f.Store.Delete(ctx, id)
}

// checkSwept verifies that exactly want was deleted, with no orphan.
func checkSwept(t *testing.T, c retention.Catalog, st *Store, log *AuditLog, want []string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	all, err := c.Expired(ctx, at.AddDate(100, 0, 0), retention.Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	catalogued := IDs(all)
	slices.Sort(catalogued)
	if stored := st.IDs(); !slices.Equal(stored, catalogued) {
		t.Errorf("orphans: stored %v, catalogued %v", stored, catalogued)
	}
	for _, r := range all {
		if r.Deletion != retention.DeletionNone {
			t.Errorf("%s still pending deletion", r.ID)
		}
		if r.Expired(at) && !r.Held() {
			t.Errorf("%s expired, unheld and still there", r.ID)
		}
	}
	deleted := map[string]string{}
	for _, e := range log.Kind(audit.KindRetentionDeleted) {
		deleted[e.RecordingID] = e.SHA256
	}
	var got []string
	for id, sum := range deleted {
		got = append(got, id)
		if sum == "" {
			t.Errorf("deletion of %s audited without its SHA-256", id)
		}
		if slices.Contains(catalogued, id) {
			t.Errorf("%s audited as deleted but still catalogued", id)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("deleted (audited) %v, want exactly %v", got, want)
	}
}

// TestSweepConcurrent runs two sweeps, an erasure of the same subject and
// a series of holds at once on a catalog newCatalog returns, and checks
// that they never fight: every file is deleted once, a recording whose hold
// was set is kept, every other erasable one is gone (contract proofs are
// not due and stay), and no orphan file or row remains.
func TestSweepConcurrent(t *testing.T, newCatalog func(t *testing.T) retention.Catalog) {
	ctx := context.Background()
	c := newCatalog(t)
	st := &Store{}
	log := &AuditLog{}
	at := Epoch.AddDate(0, 0, 30).Add(time.Hour)
	subject := SubjectOf("caller")
	const n = 60
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		p := policy.Quality
		if i%6 == 5 {
			p = policy.ContractProof // not due
		}
		r := Rec(id, p, time.Duration(i)*time.Second, subject)
		r.SHA256 = st.Put(id, []byte(id))
		if err := c.Add(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var held []string
	done := make(chan error, 5)
	sweep := func() {
		_, err := (&retention.Sweeper{Catalog: c, Store: st, Audit: log, BatchSize: 7}).Sweep(ctx, at)
		done <- err
	}
	go sweep()
	go sweep()
	go func() {
		_, err := (&retention.Subjects{Catalog: c, Store: st, Audit: log, Authorizer: &Authorizer{}}).Erase(ctx,
			retention.Request{Subject: subject, Handler: "dpo", Received: at})
		done <- err
	}()
	heldCh := make(chan []string, 1)
	go func() {
		var hs []string
		for i := 0; i < n; i += 4 {
			id := fmt.Sprintf("r%02d", i)
			if _, err := c.SetHold(ctx, id, retention.Hold{Case: "K", Approver: "A", Since: at}); err == nil {
				hs = append(hs, id)
			}
		}
		heldCh <- hs
		done <- nil
	}()
	for range 4 {
		if err := <-done; err != nil {
			t.Errorf("concurrent operation: %v", err)
		}
	}
	held = <-heldCh
	// Finish anything left half-way (a failed concurrent step), then check.
	if _, err := (&retention.Sweeper{Catalog: c, Store: st, Audit: log}).Sweep(ctx, at); err != nil {
		t.Fatal(err)
	}
	all, err := c.Expired(ctx, at.AddDate(100, 0, 0), retention.Cursor{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows := IDs(all)
	slices.Sort(rows)
	if stored := st.IDs(); !slices.Equal(stored, rows) {
		t.Errorf("orphans: stored %v, catalogued %v", stored, rows)
	}
	for _, id := range held {
		if !slices.Contains(rows, id) {
			t.Errorf("%s was held and got deleted", id)
		}
	}
	for _, r := range all {
		if r.Deletion != retention.DeletionNone {
			t.Errorf("%s left pending", r.ID)
		}
		if !r.Held() && r.Purpose != policy.ContractProof {
			t.Errorf("%s: erasable, unheld and still there", r.ID)
		}
	}
	if st.Deletes != n-len(rows) {
		t.Errorf("%d files deleted for %d recordings gone", st.Deletes, n-len(rows))
	}
}
