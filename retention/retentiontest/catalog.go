package retentiontest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// Epoch is the fixed instant the suite's recordings are created at.
var Epoch = time.Date(2026, time.January, 31, 9, 30, 15, 123456789, time.UTC)

// SubjectOf returns a valid subject key for a test identifier.
func SubjectOf(id string) string { return policy.SubjectKey([]byte("retentiontest key"), id) }

// Rec returns a valid recording created at Epoch+offset for purpose p, with
// its deadline fixed from the purpose's default retention.
func Rec(id string, p policy.Purpose, offset time.Duration, subject string) retention.Recording {
	r, err := retention.New(retention.Entry{
		ID: id, CallID: "call-" + id, Purpose: p, Created: Epoch.Add(offset), Subject: subject,
		SHA256: fmt.Sprintf("%064x", len(id)),
	})
	if err != nil {
		panic(err)
	}
	return r
}

// TestCatalog checks that the catalogs newCatalog returns (a fresh, empty
// one per call) honour the retention.Catalog contract: exact deadline
// boundaries, paging order, subject lookup, holds (several per recording)
// atomic with deletion marks, removal, copies, concurrency and ctx.
func TestCatalog(t *testing.T, newCatalog func(t *testing.T) retention.Catalog) {
	ctx := context.Background()
	t.Run("AddGet", func(t *testing.T) {
		c := newCatalog(t)
		r := Rec("a", policy.Quality, 0, SubjectOf("+33 1 23 45 67 89"))
		r.Gaps = []retention.Gap{{Start: 2 * time.Second, End: 9500 * time.Millisecond, Reason: "card", Actor: "agent-7", Note: "card-data"}}
		r.Created = r.Created.In(time.FixedZone("X", 3600))
		r.AccessRoles = []policy.Role{policy.RoleQuality}
		must(t, c.Add(ctx, r))
		lo, err := retention.New(retention.Entry{ID: "lo", Purpose: policy.LegalObligation, Created: Epoch,
			LawfulBasis: "6(1)(c) legal obligation", Deadline: Epoch.AddDate(7, 0, 0), KeepUntil: Epoch.AddDate(5, 0, 0)})
		must(t, err)
		must(t, c.Add(ctx, lo))
		if got, err := c.Get(ctx, "lo"); err != nil || !equalRec(got, lo) || got.KeepUntil.Location() != time.UTC {
			t.Errorf("Get(lo) = %+v, %v; want %+v", got, err, lo)
		}
		got, err := c.Get(ctx, "a")
		must(t, err)
		if !got.Created.Equal(r.Created) || !got.Deadline.Equal(r.Deadline) || got.Created.Location() != time.UTC {
			t.Errorf("times: got %v %v, want %v %v in UTC", got.Created, got.Deadline, r.Created, r.Deadline)
		}
		got.Created, got.Deadline = r.Created, r.Deadline
		if !equalRec(got, r) {
			t.Errorf("Get = %+v, want %+v", got, r)
		}
		got.Gaps[0].Reason = "changed"
		again, _ := c.Get(ctx, "a")
		if again.Gaps[0].Reason != "card" {
			t.Error("Get returned a slice shared with the catalog")
		}
		if n, err := c.Count(ctx); err != nil || n != 2 {
			t.Errorf("Count = %d, %v; want 2", n, err)
		}
	})
	t.Run("AddErrors", func(t *testing.T) {
		c := newCatalog(t)
		r := Rec("a", policy.Training, 0, "")
		must(t, c.Add(ctx, r))
		if err := c.Add(ctx, r); !errors.Is(err, retention.ErrExists) {
			t.Errorf("duplicate Add = %v, want ErrExists", err)
		}
		bad := []retention.Recording{
			{},
			func() retention.Recording { b := Rec("b", policy.Training, 0, ""); b.Purpose = "marketing"; return b }(),
			func() retention.Recording {
				b := Rec("c", policy.Training, 0, "")
				b.Subject = "+33123456789"
				return b
			}(),
			func() retention.Recording { b := Rec("d", policy.Training, 0, ""); b.ID = "../d"; return b }(),
			func() retention.Recording {
				b := Rec("e", policy.Training, 0, "")
				b.Deletion = retention.DeletionExpiry
				return b
			}(),
			// R9: a deadline 50 years out for a 6-month purpose.
			func() retention.Recording {
				b := Rec("f", policy.Quality, 0, "")
				b.Deadline = b.Created.AddDate(50, 0, 0)
				return b
			}(),
			// R11: beyond the 7 years of a legal obligation.
			func() retention.Recording {
				b := Rec("g", policy.LegalObligation, 0, "")
				b.Deadline = b.Created.AddDate(7, 0, 1)
				return b
			}(),
			// R11: a deadline before the statute's minimum.
			func() retention.Recording {
				b := Rec("h", policy.LegalObligation, 0, "")
				b.KeepUntil = b.Deadline.Add(time.Second)
				return b
			}(),
			// R25: access roles widening the purpose's.
			func() retention.Recording {
				b := Rec("i", policy.Quality, 0, "")
				b.AccessRoles = []policy.Role{policy.RoleCompliance}
				return b
			}(),
			// R8: a lawful basis that is none.
			func() retention.Recording { b := Rec("j", policy.Quality, 0, ""); b.LawfulBasis = "because"; return b }(),
		}
		for i, b := range bad {
			if err := c.Add(ctx, b); !errors.Is(err, retention.ErrInvalid) {
				t.Errorf("bad Add #%d = %v, want ErrInvalid", i, err)
			}
		}
		if _, err := c.Get(ctx, "nope"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("Get unknown = %v, want ErrNotFound", err)
		}
	})
	t.Run("ExpiredBoundary", func(t *testing.T) {
		c := newCatalog(t)
		r := Rec("a", policy.Quality, 0, "")
		must(t, c.Add(ctx, r))
		for _, tc := range []struct {
			at   time.Time
			want int
		}{
			{r.Deadline.Add(-time.Second), 0},
			{r.Deadline.Add(-time.Nanosecond), 0},
			{r.Deadline, 1},
			{r.Deadline.Add(time.Nanosecond), 1},
			{r.Deadline.In(time.FixedZone("Y", -5*3600)), 1},
		} {
			got, err := c.Expired(ctx, tc.at, retention.Cursor{}, 0)
			must(t, err)
			if len(got) != tc.want {
				t.Errorf("Expired(deadline%+v) = %d recordings, want %d", tc.at.Sub(r.Deadline), len(got), tc.want)
			}
		}
	})
	t.Run("ExpiredPaging", func(t *testing.T) {
		c := newCatalog(t)
		var want []string
		// 25 recordings, in groups of 5 sharing a deadline, added out of order.
		for _, i := range []int{7, 3, 24, 0, 12, 18, 1, 9, 21, 15, 4, 2, 6, 8, 5, 10, 11, 13, 14, 16, 17, 19, 20, 22, 23} {
			r := Rec(fmt.Sprintf("r%02d", i), policy.Training, time.Duration(i/5)*time.Hour, "")
			must(t, c.Add(ctx, r))
		}
		for i := range 25 {
			want = append(want, fmt.Sprintf("r%02d", i))
		}
		// A later one, not expired at the cut.
		must(t, c.Add(ctx, Rec("late", policy.Training, 100*time.Hour, "")))
		cut := Rec("x", policy.Training, 4*time.Hour, "").Deadline
		for _, limit := range []int{1, 3, 5, 7, 25, 0} {
			var got []string
			var cur retention.Cursor
			for range 100 {
				page, err := c.Expired(ctx, cut, cur, limit)
				must(t, err)
				if limit > 0 && len(page) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(page))
				}
				for _, r := range page {
					got = append(got, r.ID)
				}
				if len(page) == 0 || limit <= 0 || len(page) < limit {
					break
				}
				cur = retention.After(page[len(page)-1])
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: paged %v, want %v", limit, got, want)
			}
		}
	})
	t.Run("Subject", func(t *testing.T) {
		c := newCatalog(t)
		alice, bob := SubjectOf("alice"), SubjectOf("bob")
		must(t, c.Add(ctx, Rec("a2", policy.Quality, 2*time.Minute, alice)))
		must(t, c.Add(ctx, Rec("b1", policy.Quality, time.Minute, bob)))
		must(t, c.Add(ctx, Rec("a1", policy.Training, time.Minute, alice)))
		must(t, c.Add(ctx, Rec("a0", policy.LegalObligation, time.Minute, alice)))
		must(t, c.Add(ctx, Rec("n", policy.Quality, 0, "")))
		got, err := c.Subject(ctx, alice)
		must(t, err)
		if ids := idsOf(got); !slices.Equal(ids, []string{"a0", "a1", "a2"}) {
			t.Errorf("Subject(alice) = %v, want [a0 a1 a2]", ids)
		}
		if got, _ := c.Subject(ctx, SubjectOf("carol")); len(got) != 0 {
			t.Errorf("Subject(carol) = %v, want none", idsOf(got))
		}
		if _, err := c.Subject(ctx, ""); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("Subject(\"\") = %v, want ErrInvalid", err)
		}
	})
	t.Run("Holds", func(t *testing.T) {
		c := newCatalog(t)
		must(t, c.Add(ctx, Rec("a", policy.Quality, 0, "")))
		since := Epoch.Add(time.Hour)
		r, err := c.SetHold(ctx, "a", retention.Hold{Case: "C-1", Approver: "Ann", Since: since})
		must(t, err)
		if !r.Held() || len(r.Holds) != 1 || !r.Holds[0].Since.Equal(since) {
			t.Fatalf("after SetHold: %+v", r.Holds)
		}
		r, err = c.SetHold(ctx, "a", retention.Hold{Case: "C-1", Approver: "Bob", Since: since.Add(time.Hour)})
		must(t, err)
		if len(r.Holds) != 1 || r.Holds[0].Approver != "Ann" {
			t.Errorf("SetHold of the same case again changed it: %+v", r.Holds)
		}
		_, err = c.SetHold(ctx, "a", retention.Hold{Case: "C-2", Approver: "Bob", Since: since})
		must(t, err)
		if _, err := c.BeginDelete(ctx, "a", retention.DeletionExpiry); !errors.Is(err, retention.ErrHeld) {
			t.Errorf("BeginDelete of a held recording = %v, want ErrHeld", err)
		}
		r, err = c.ReleaseHold(ctx, "a", "C-1")
		must(t, err)
		if len(r.Holds) != 1 || r.Holds[0].Case != "C-2" {
			t.Errorf("after releasing C-1: %+v, want C-2 only", r.Holds)
		}
		if _, err := c.BeginDelete(ctx, "a", retention.DeletionErasure); !errors.Is(err, retention.ErrHeld) {
			t.Errorf("BeginDelete with one hold left = %v, want ErrHeld", err)
		}
		if _, err := c.ReleaseHold(ctx, "a", "C-1"); !errors.Is(err, retention.ErrNoSuchHold) {
			t.Errorf("second release = %v, want ErrNoSuchHold", err)
		}
		r, err = c.ReleaseHold(ctx, "a", "C-2")
		must(t, err)
		if r.Held() {
			t.Errorf("still held: %+v", r.Holds)
		}
		if got, _ := c.Get(ctx, "a"); got.Held() || got.Deletion != retention.DeletionNone {
			t.Errorf("Get after releases: %+v", got)
		}
		if _, err := c.SetHold(ctx, "zz", retention.Hold{Case: "C", Approver: "A"}); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("SetHold unknown = %v, want ErrNotFound", err)
		}
		if _, err := c.ReleaseHold(ctx, "zz", "C"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("ReleaseHold unknown = %v, want ErrNotFound", err)
		}
		for _, h := range []retention.Hold{{Case: "", Approver: "A"}, {Case: "C", Approver: " "}} {
			if _, err := c.SetHold(ctx, "a", h); !errors.Is(err, retention.ErrInvalid) {
				t.Errorf("SetHold(%+v) = %v, want ErrInvalid", h, err)
			}
		}
		// Many holds on many recordings: no cap.
		for i := range 50 {
			id := fmt.Sprintf("m%d", i)
			must(t, c.Add(ctx, Rec(id, policy.Training, 0, "")))
			for j := range 5 {
				_, err := c.SetHold(ctx, id, retention.Hold{Case: fmt.Sprintf("K%d", j), Approver: "A", Since: since})
				must(t, err)
			}
		}
		if got, _ := c.Get(ctx, "m49"); len(got.Holds) != 5 || got.Holds[0].Case != "K0" || got.Holds[4].Case != "K4" {
			t.Errorf("holds of m49 = %+v, want K0..K4 in order", got.Holds)
		}
	})
	t.Run("DeleteLifecycle", func(t *testing.T) {
		c := newCatalog(t)
		s := SubjectOf("alice")
		r := Rec("a", policy.Quality, 0, s)
		must(t, c.Add(ctx, r))
		must(t, c.Add(ctx, Rec("b", policy.Quality, 0, s)))
		if err := c.Remove(ctx, "a"); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("Remove before BeginDelete = %v, want ErrInvalid", err)
		}
		if _, err := c.BeginDelete(ctx, "a", retention.DeletionNone); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("BeginDelete without cause = %v, want ErrInvalid", err)
		}
		m, err := c.BeginDelete(ctx, "a", retention.DeletionExpiry)
		must(t, err)
		if m.Deletion != retention.DeletionExpiry {
			t.Errorf("BeginDelete returned Deletion %q", m.Deletion)
		}
		m, err = c.BeginDelete(ctx, "a", retention.DeletionErasure)
		must(t, err)
		if m.Deletion != retention.DeletionExpiry {
			t.Errorf("second BeginDelete changed the cause to %q", m.Deletion)
		}
		if _, err := c.SetHold(ctx, "a", retention.Hold{Case: "C", Approver: "A"}); !errors.Is(err, retention.ErrPendingDeletion) {
			t.Errorf("SetHold while pending = %v, want ErrPendingDeletion", err)
		}
		p, err := c.Pending(ctx, 0)
		must(t, err)
		if ids := idsOf(p); !slices.Equal(ids, []string{"a"}) {
			t.Errorf("Pending = %v, want [a]", ids)
		}
		if got, _ := c.Expired(ctx, r.Deadline, retention.Cursor{}, 0); len(got) != 2 {
			t.Errorf("Expired lists %d, want 2 (pending ones included)", len(got))
		}
		must(t, c.Remove(ctx, "a"))
		if err := c.Remove(ctx, "a"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("second Remove = %v, want ErrNotFound", err)
		}
		if _, err := c.Get(ctx, "a"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("Get removed = %v, want ErrNotFound", err)
		}
		if got, _ := c.Subject(ctx, s); !slices.Equal(idsOf(got), []string{"b"}) {
			t.Errorf("Subject after Remove = %v, want [b]", idsOf(got))
		}
		if got, _ := c.Expired(ctx, r.Deadline, retention.Cursor{}, 0); !slices.Equal(idsOf(got), []string{"b"}) {
			t.Errorf("Expired after Remove = %v, want [b]", idsOf(got))
		}
		if p, _ := c.Pending(ctx, 0); len(p) != 0 {
			t.Errorf("Pending after Remove = %v", idsOf(p))
		}
		if n, _ := c.Count(ctx); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}
		if _, err := c.BeginDelete(ctx, "a", retention.DeletionExpiry); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("BeginDelete removed = %v, want ErrNotFound", err)
		}
		// The same id catalogued again, with another deadline.
		again := Rec("a", policy.Quality, 48*time.Hour, s)
		must(t, c.Add(ctx, again))
		if got, _ := c.Expired(ctx, r.Deadline, retention.Cursor{}, 0); !slices.Equal(idsOf(got), []string{"b"}) {
			t.Errorf("Expired after re-Add = %v, want [b]", idsOf(got))
		}
		if got, _ := c.Expired(ctx, again.Deadline, retention.Cursor{}, 0); !slices.Equal(idsOf(got), []string{"b", "a"}) {
			t.Errorf("Expired at the new deadline = %v, want [b a]", idsOf(got))
		}
	})
	t.Run("HoldVersusDeleteRace", func(t *testing.T) {
		c := newCatalog(t)
		const n = 40
		for i := range n {
			must(t, c.Add(ctx, Rec(fmt.Sprintf("r%d", i), policy.Training, 0, "")))
		}
		var wg sync.WaitGroup
		for i := range n {
			id := fmt.Sprintf("r%d", i)
			wg.Go(func() { c.SetHold(ctx, id, retention.Hold{Case: "C", Approver: "A", Since: Epoch}) })
			wg.Go(func() { c.BeginDelete(ctx, id, retention.DeletionExpiry) })
		}
		wg.Wait()
		for i := range n {
			r, err := c.Get(ctx, fmt.Sprintf("r%d", i))
			must(t, err)
			if r.Held() == (r.Deletion != retention.DeletionNone) {
				t.Errorf("%s: held=%v deletion=%q: exactly one must win", r.ID, r.Held(), r.Deletion)
			}
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		c := newCatalog(t)
		must(t, c.Add(ctx, Rec("a", policy.Quality, 0, "")))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Get(cctx, "a"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get with cancelled ctx = %v", err)
		}
		if err := c.Add(cctx, Rec("b", policy.Quality, 0, "")); !errors.Is(err, context.Canceled) {
			t.Errorf("Add with cancelled ctx = %v", err)
		}
		if _, err := c.Get(ctx, "b"); !errors.Is(err, retention.ErrNotFound) {
			t.Errorf("cancelled Add left a row: %v", err)
		}
	})
}

func idsOf(rs []retention.Recording) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// IDs returns the ids of rs, in order.
func IDs(rs []retention.Recording) []string { return idsOf(rs) }

func equalRec(a, b retention.Recording) bool {
	return a.ID == b.ID && a.CallID == b.CallID && a.Purpose == b.Purpose && a.LawfulBasis == b.LawfulBasis &&
		a.Created.Equal(b.Created) && a.Deadline.Equal(b.Deadline) && a.Subject == b.Subject &&
		a.SHA256 == b.SHA256 && slices.Equal(a.Gaps, b.Gaps) && a.Deletion == b.Deletion &&
		a.KeepUntil.Equal(b.KeepUntil) && slices.Equal(a.AccessRoles, b.AccessRoles) &&
		slices.EqualFunc(a.Holds, b.Holds, func(x, y retention.Hold) bool {
			return x.Case == y.Case && x.Approver == y.Approver && x.Since.Equal(y.Since)
		})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
