package recorder_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

var errBusy = errors.New("device busy")

// flakyDeletes is a store whose first Delete fails.
type flakyDeletes struct {
	*recordertest.MemStore
	failed bool
}

func (f *flakyDeletes) Delete(ctx context.Context, id string) error {
	if !f.failed {
		f.failed = true
		return errBusy
	}
	return f.MemStore.Delete(ctx, id)
}

// A Discard that fails to delete a recording returns the error, and a
// second Discard (the caller retries an objection) deletes it: it must
// not report success with the recording still stored.
func TestDiscardRetryDeletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		mem := &recordertest.MemStore{}
		st := &flakyDeletes{MemStore: mem}
		ev := &events{}
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: st, Audit: ev})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if _, err := rec.Stop(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := rec.Discard(ctx, "objection", "caller"); !errors.Is(err, errBusy) {
			t.Fatalf("Discard = %v, want %v", err, errBusy)
		}
		if err := rec.Discard(ctx, "objection", "caller"); err != nil {
			t.Fatalf("second Discard: %v", err)
		}
		if ms, _ := mem.List(ctx); len(ms) != 0 {
			t.Fatalf("after Discard, still stored: %+v", ms)
		}
		if n := len(ev.of(audit.KindRecordingPurged)); n != 1 {
			t.Errorf("%d purged events, want 1", n)
		}
		rec.Close(ctx)
	})
}
