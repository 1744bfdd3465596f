package recordertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// NewStore returns a fresh, empty store for one subtest, and a function that
// damages the stored bytes of a finalized recording (flip one bit), or nil
// when the store cannot be damaged from outside (the integrity subtest is
// then skipped).
type NewStore func(t *testing.T) (s recorder.Store, corrupt func(id string))

// TestStore is the conformance suite of recorder.Store. Run it on every
// implementation:
//
//	func TestFileStore(t *testing.T) {
//		recordertest.TestStore(t, func(t *testing.T) (recorder.Store, func(string)) { ... })
//	}
func TestStore(t *testing.T, newStore NewStore) {
	TestStoreWith(t, newStore, Options{})
}

// Options adapt the conformance suite to stores that keep other bytes than
// those written. The zero value checks a store that keeps them as written
// (FileStore, MemStore).
type Options struct {
	// Transforming: the store keeps transformed bytes (encrypted,
	// compressed): Meta.Size and Meta.SHA256 describe the stored bytes, not
	// the written ones (agestore does so on purpose, so that the audit
	// log's digest can be checked without a key). The suite then checks
	// that they are consistent (a SHA-256 in hex, the same from Finalize
	// and Stat, a resumed recording's differing from the original's)
	// instead of equal to the written bytes' own; Open must still give the
	// written bytes back.
	Transforming bool
	// PartialLag: OpenPartial may return only a prefix of what was written
	// (a store that seals in blocks, like age's 64 KiB chunks, keeps the
	// incomplete last block in memory until Finalize). The suite then
	// checks for a prefix.
	PartialLag bool
}

// TestStoreWith is TestStore for stores that keep other bytes than those
// written, as opts says. The suite is the same: every other check is made.
//
//	recordertest.TestStoreWith(t, newStore, recordertest.Options{Transforming: true, PartialLag: true})
func TestStoreWith(t *testing.T, newStore NewStore, opts Options) {
	ctx := context.Background()
	// checkDigest checks a finalized recording's Size and SHA256 against
	// the plaintext written.
	checkDigest := func(t *testing.T, m recorder.Meta, plain string) {
		t.Helper()
		if !opts.Transforming {
			sum := sha256.Sum256([]byte(plain))
			if m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(plain)) {
				t.Fatalf("meta %+v: want the SHA-256 and size of %q", m, plain)
			}
			return
		}
		if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != sha256.Size || m.Size <= 0 {
			t.Fatalf("meta %+v: want a hex SHA-256 and a size of the stored bytes", m)
		}
	}
	meta := func(id string) recorder.Meta {
		return recorder.Meta{ID: id, CallID: "call-1", Purpose: policy.Quality, PolicyVersion: "pv1",
			Layout: recorder.LayoutDual, Channels: []recorder.Role{recorder.Customer, recorder.Agent}}
	}
	write := func(t *testing.T, s recorder.Store, id string, parts ...string) recorder.Meta {
		t.Helper()
		w, err := s.Create(ctx, meta(id))
		if err != nil {
			t.Fatalf("Create(%q): %v", id, err)
		}
		for _, p := range parts {
			if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
				t.Fatalf("Write: %d, %v", n, err)
			}
		}
		if err := w.Sync(); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		m, err := w.Finalize(ctx, recorder.Final{Duration: 3 * time.Second,
			Gaps: []recorder.Gap{{Start: time.Second, End: 2 * time.Second, Reason: recorder.GapPause, Actor: "agent-7", Note: "card"}}})
		if err != nil {
			t.Fatalf("Finalize: %v", err)
		}
		return m
	}
	readAll := func(t *testing.T, s recorder.Store, id string) []byte {
		t.Helper()
		rc, err := s.Open(ctx, id)
		if err != nil {
			t.Fatalf("Open(%q): %v", id, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}

	t.Run("RoundTrip", func(t *testing.T) {
		s, _ := newStore(t)
		m := write(t, s, "rec-1", "hello ", "world")
		if m.State != recorder.StateFinalized {
			t.Fatalf("Finalize meta = %+v", m)
		}
		checkDigest(t, m, "hello world")
		if m.Created.IsZero() || m.Finalized.IsZero() || m.Finalized.Before(m.Created) {
			t.Errorf("times: created %v finalized %v", m.Created, m.Finalized)
		}
		if m.Duration != 3*time.Second || len(m.Gaps) != 1 || m.Gaps[0].Actor != "agent-7" {
			t.Errorf("final fields lost: %+v", m)
		}
		if got := readAll(t, s, "rec-1"); string(got) != "hello world" {
			t.Fatalf("Open read %q", got)
		}
		st, err := s.Stat(ctx, "rec-1")
		if err != nil || st.SHA256 != m.SHA256 || st.Size != m.Size || st.CallID != "call-1" || st.Purpose != policy.Quality ||
			st.PolicyVersion != "pv1" || st.Layout != recorder.LayoutDual || len(st.Channels) != 2 || len(st.Gaps) != 1 {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
	})

	t.Run("List", func(t *testing.T) {
		s, _ := newStore(t)
		write(t, s, "b", "2")
		write(t, s, "a", "1")
		w, err := s.Create(ctx, meta("c"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort(ctx)
		l, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 3 || l[0].ID != "a" || l[1].ID != "b" || l[2].ID != "c" {
			t.Fatalf("List = %+v", l)
		}
		if l[2].State != recorder.StateRecording || l[0].State != recorder.StateFinalized {
			t.Errorf("states: %v %v", l[0].State, l[2].State)
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		s, _ := newStore(t)
		write(t, s, "x", "1")
		if _, err := s.Create(ctx, meta("x")); !errors.Is(err, recorder.ErrExist) {
			t.Fatalf("Create existing: %v, want ErrExist", err)
		}
	})

	t.Run("InvalidIDs", func(t *testing.T) {
		s, _ := newStore(t)
		for _, id := range []string{"", "../x", "a/b", ".hidden", "..", "a\\b", "a\x00", "-x", string(make([]byte, 200))} {
			if _, err := s.Create(ctx, meta(id)); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Create(%q): %v, want ErrInvalidID", id, err)
			}
			if _, err := s.Open(ctx, id); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Open(%q): %v, want ErrInvalidID", id, err)
			}
			if err := s.Delete(ctx, id); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Delete(%q): %v, want ErrInvalidID", id, err)
			}
			if _, err := s.Stat(ctx, id); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Stat(%q): %v, want ErrInvalidID", id, err)
			}
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		s, _ := newStore(t)
		if err := s.Delete(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Delete unknown: %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Open(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open unknown: %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat unknown: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("OpenNotFinalized", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("p"))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abc"))
		if _, err := s.Open(ctx, "p"); !errors.Is(err, recorder.ErrNotFinalized) {
			t.Fatalf("Open partial: %v, want ErrNotFinalized", err)
		}
		rc, err := s.OpenPartial(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "abc" && !(opts.PartialLag && strings.HasPrefix("abc", string(b))) {
			t.Fatalf("OpenPartial = %q", b)
		}
	})

	t.Run("DeletePartial", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("p"))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("abc"))
		if err := s.Delete(ctx, "p"); err != nil {
			t.Fatalf("Delete partial: %v", err)
		}
		if _, err := s.Stat(ctx, "p"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat after Delete: %v", err)
		}
		if err := s.Delete(ctx, "p"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("second Delete: %v", err)
		}
		if l, _ := s.List(ctx); len(l) != 0 {
			t.Fatalf("List after Delete: %+v", l)
		}
	})

	t.Run("DeleteFinalized", func(t *testing.T) {
		s, _ := newStore(t)
		write(t, s, "f", "data")
		if err := s.Delete(ctx, "f"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open after Delete: %v", err)
		}
		write(t, s, "f", "again") // the id is free again
	})

	t.Run("Abort", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("ab"))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("secret"))
		if err := w.Abort(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "ab"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat after Abort: %v", err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Write after Abort: %v", err)
		}
		if _, err := w.Finalize(ctx, recorder.Final{}); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Finalize after Abort: %v", err)
		}
	})

	t.Run("ClosedAfterFinalize", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("c"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finalize(ctx, recorder.Final{}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Write after Finalize: %v", err)
		}
		if _, err := w.Finalize(ctx, recorder.Final{}); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("second Finalize: %v", err)
		}
	})

	t.Run("Resume", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("r"))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("0123456789"))
		n := int64(4)
		if opts.PartialLag {
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			// What reached storage: Resume cuts within it.
			rc, err := s.OpenPartial(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			n = min(n, int64(len(b)))
		}
		// A crash: the writer is abandoned. Resume cuts to n bytes.
		w2, err := s.Resume(ctx, "r", n)
		if err != nil {
			t.Fatalf("Resume: %v", err)
		}
		w2.Write([]byte("xy"))
		m, err := w2.Finalize(ctx, recorder.Final{Recovered: true})
		if err != nil {
			t.Fatal(err)
		}
		want := "0123"[:n] + "xy"
		if !m.Recovered {
			t.Fatalf("resumed meta = %+v", m)
		}
		checkDigest(t, m, want)
		if got := readAll(t, s, "r"); string(got) != want {
			t.Fatalf("read %q, want %q", got, want)
		}
		if _, err := s.Resume(ctx, "r", 0); !errors.Is(err, recorder.ErrFinalized) {
			t.Fatalf("Resume finalized: %v", err)
		}
	})

	t.Run("Checkpoint", func(t *testing.T) {
		s, _ := newStore(t)
		w, err := s.Create(ctx, meta("cp"))
		if err != nil {
			t.Fatal(err)
		}
		c, ok := w.(recorder.Checkpointer)
		if !ok {
			t.Skip("the store's writers do not implement recorder.Checkpointer")
		}
		w.Write([]byte("abc"))
		g := recorder.Gap{Start: time.Second, Reason: recorder.GapPause, Actor: "agent-1", Note: "card"}
		if err := c.Checkpoint(ctx, recorder.Final{Duration: 2 * time.Second, Gaps: []recorder.Gap{g}}); err != nil {
			t.Fatal(err)
		}
		m, err := s.Stat(ctx, "cp")
		if err != nil || m.State != recorder.StateRecording || len(m.Gaps) != 1 || m.Gaps[0] != g {
			t.Fatalf("after Checkpoint: %+v, %v", m, err)
		}
		if _, err := s.Open(ctx, "cp"); !errors.Is(err, recorder.ErrNotFinalized) {
			t.Errorf("Open after Checkpoint: %v", err)
		}
		fm, err := w.Finalize(ctx, recorder.Final{})
		if err != nil || fm.State != recorder.StateFinalized || len(fm.Gaps) != 0 {
			t.Fatalf("Finalize after Checkpoint: %+v, %v", fm, err)
		}
		if err := c.Checkpoint(ctx, recorder.Final{}); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Checkpoint after Finalize: %v", err)
		}
	})

	t.Run("Integrity", func(t *testing.T) {
		s, corrupt := newStore(t)
		if corrupt == nil {
			t.Skip("the store cannot be damaged from outside")
		}
		write(t, s, "i", string(bytes.Repeat([]byte("audio"), 100)))
		corrupt("i")
		rc, err := s.Open(ctx, "i")
		if !errors.Is(err, recorder.ErrIntegrity) {
			t.Fatalf("Open damaged: %v, want ErrIntegrity", err)
		}
		if rc != nil {
			t.Fatal("Open returned a reader with the error")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s, _ := newStore(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				id := "c" + string(rune('a'+i))
				w, err := s.Create(ctx, meta(id))
				if err != nil {
					t.Error(err)
					return
				}
				for range 50 {
					w.Write([]byte("page"))
				}
				if _, err := w.Finalize(ctx, recorder.Final{}); err != nil {
					t.Error(err)
				}
				s.List(ctx)
			})
		}
		wg.Wait()
		l, _ := s.List(ctx)
		if len(l) != 8 {
			t.Fatalf("List: %d recordings", len(l))
		}
	})
}
