package recorder

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// A Create whose fsync stalls (a slow disk) does not hold up the Create of
// another recording, nor its Finalize (former store-wide lock across fsync:
// starting 5,000 calls took 3-47 s). Before the fix this test deadlocks.
func TestFileStoreCreateDoesNotWaitForAnotherFsync(t *testing.T) {
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s.fsync = func(f *os.File) error {
		if strings.Contains(f.Name(), "slow") {
			entered <- struct{}{}
			<-release
		}
		return f.Sync()
	}
	slow := make(chan error, 1)
	go func() {
		w, err := s.Create(t.Context(), Meta{ID: "slow-1"})
		if err == nil {
			err = w.Abort(t.Context())
		}
		slow <- err
	}()
	<-entered // the slow Create holds its fsync
	w, err := s.Create(t.Context(), Meta{ID: "fast-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("OggS")); err != nil {
		t.Fatal(err)
	}
	if m, err := w.Finalize(t.Context(), Final{}); err != nil || m.State != StateFinalized {
		t.Fatalf("finalize beside a stalled create: %v %v", m.State, err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if len(s.locks.m) != 0 {
		t.Fatalf("%d id locks left", len(s.locks.m))
	}
}

// Two Creates of one id: one wins, the other gets ErrExist.
func TestFileStoreCreateSameID(t *testing.T) {
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := s.Create(t.Context(), Meta{ID: "same"})
			errs <- err
		}()
	}
	ok := 0
	for range 8 {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrExist) {
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d Creates of one id succeeded", ok)
	}
}
