package recorder_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
)

var errDisk = errors.New("input/output error")

// failingReads is a FileStore whose partial files fail to read (a disk
// error, a network file system timing out) after `after` bytes.
type failingReads struct {
	*recorder.FileStore
	after int64
}

func (f failingReads) OpenPartial(ctx context.Context, id string) (io.ReadCloser, error) {
	rc, err := f.FileStore.OpenPartial(ctx, id)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, f.after), errReader{}), rc}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errDisk }

// A read error while recovering is not a torn tail: Recover must report
// it and leave the partial file as it is, never cut the audio after it.
func TestRecoverReadErrorKeepsTheFile(t *testing.T) {
	speech := fixture(t, "speech.opus")
	dir := t.TempDir()
	var id string
	synctest.Test(t, func(t *testing.T) {
		st, _ := recorder.NewFileStore(dir)
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: st, Audit: audit.Discard})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, _ = rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 150 {
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second + recorder.DefaultMaxBurst) // a silent leg is waited for up to MaxBurst
	})
	part := filepath.Join(dir, id+".opus.partial")
	before, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := recorder.NewFileStore(dir)
	st := failingReads{FileStore: fs, after: int64(len(before)) / 2}
	ms, err := recorder.Recover(context.Background(), st, audit.Discard)
	if !errors.Is(err, errDisk) {
		t.Errorf("Recover = %v, %v; want the read error", ms, err)
	}
	after, rerr := os.ReadFile(part)
	if rerr != nil || len(after) != len(before) {
		t.Fatalf("partial file: %d bytes (%v), was %d: recovery cut the audio after a read error", len(after), rerr, len(before))
	}
	// Once the disk reads again, everything is recovered.
	ms, err = recorder.Recover(context.Background(), fs, audit.Discard)
	if err != nil || len(ms) != 1 || ms[0].Duration < 2900*time.Millisecond {
		t.Fatalf("Recover = %+v, %v", ms, err)
	}
}
