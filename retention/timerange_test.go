package retention_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// Catalogs keep instants as Unix nanoseconds, an int64: from 1678 to 2262.
// A recording created (or a clock gone wrong) late in 2262 had a deadline
// past that range; its nanoseconds wrapped into the past, and the next sweep
// deleted a five-year contract proof at once.
func TestTimesOutsideNanosecondRangeRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	late := time.Date(2260, 6, 1, 0, 0, 0, 0, time.UTC) // + 5 years: 2265
	sum := f.store.Put("far", []byte("OggS far"))
	_, err := retention.New(retention.Entry{ID: "far", Purpose: policy.ContractProof, Created: late, SHA256: sum})
	if !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("New with a deadline in 2265: err %v, want ErrInvalid", err)
	}
	// A Recording built by hand is checked by the catalog's Add as well.
	r := retention.Recording{ID: "far", Purpose: policy.ContractProof, Created: late,
		Deadline: late.AddDate(5, 0, 0), SHA256: sum}
	if err := f.cat.Add(ctx, r); !errors.Is(err, retention.ErrInvalid) {
		t.Fatalf("Add with a deadline in 2265: err %v, want ErrInvalid", err)
	}
	rep, err := f.sweeper().Sweep(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 0 || !f.store.Has("far") {
		t.Errorf("a recording due in 2265 was deleted in 2026: %+v", rep.Deleted)
	}
	for _, created := range []time.Time{time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := retention.New(retention.Entry{ID: "x", Purpose: policy.Training, Created: created}); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("New created %v: err %v, want ErrInvalid", created, err)
		}
	}
	if _, err := retention.ParseTime("+P300Y", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("ParseTime(+P300Y) = %v, want ErrInvalid (2326 cannot be compared with catalogued deadlines)", err)
	}
}

// A forecast past 2262 (DryRun takes any time) sees every recording due.
func TestDryRunFarFuture(t *testing.T) {
	f := newFixture()
	f.add(t, "a", policy.ContractProof, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "")
	rep, err := f.sweeper().DryRun(context.Background(), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 1 {
		t.Errorf("dry run as of 2300 forecasts %d deletions, want 1", len(rep.Deleted))
	}
}

// A call id too long for an audit entry (64 KiB per field) was catalogued;
// its deletion could then never be audited: the sweep deleted the file,
// failed on the audit append and stopped, and every later sweep stopped
// there too (finishing it first), so nothing else ever expired.
func TestLongCallIDRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	long := string(make([]byte, 70_000))
	if _, err := retention.New(retention.Entry{ID: "a", CallID: long, Purpose: policy.Training, Created: t0}); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("New with a %d-byte call id: %v, want ErrInvalid", len(long), err)
	}
	r := retention.Recording{ID: "a", CallID: long, Purpose: policy.Training, Created: t0, Deadline: t0.AddDate(0, 0, 30)}
	if err := f.cat.Add(ctx, r); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("Add with a %d-byte call id: %v, want ErrInvalid", len(long), err)
	}
}
