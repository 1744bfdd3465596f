package agestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
)

var errKilled = errors.New("killed")

// dyingStore is a FileStore where the process dies right after Resume
// reopened (and cut) the recording's file: every write then fails.
type dyingStore struct{ *recorder.FileStore }

func (d dyingStore) Resume(ctx context.Context, id string, size int64) (recorder.Writer, error) {
	w, err := d.FileStore.Resume(ctx, id, size)
	if err != nil || strings.HasSuffix(id, agestore.JournalSuffix) {
		return w, err
	}
	return deadWriter{}, nil
}

type deadWriter struct{}

func (deadWriter) Write([]byte) (int, error) { return 0, errKilled }
func (deadWriter) Sync() error               { return errKilled }
func (deadWriter) Finalize(context.Context, recorder.Final) (recorder.Meta, error) {
	return recorder.Meta{}, errKilled
}
func (deadWriter) Abort(context.Context) error { return errKilled }

// A crash during Resume (crash recovery itself) must not lose what the
// crashed recording had kept: Resume cuts the file and writes it again,
// so the data must be durable elsewhere first.
func TestCrashDuringResumeLosesNothing(t *testing.T) {
	op := newIdentity(t)
	for _, journal := range []bool{false, true} {
		for _, keys := range []agestore.KeyStore{nil, &agestoretest.MemKeyStore{}} {
			t.Run(fmt.Sprintf("journal=%v,keys=%v", journal, keys != nil), func(t *testing.T) {
				dir := t.TempDir()
				inner, _ := recorder.NewFileStore(dir)
				cfg := agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Keys: keys, Journal: journal}
				s, _ := agestore.New(inner, cfg)
				w, err := s.Create(ctx, meta("r"))
				if err != nil {
					t.Fatal(err)
				}
				data := payload(200_000) // three full chunks, 3 KiB in memory
				for i := 0; i < len(data); i += 813 {
					w.Write(data[i:min(len(data), i+813)])
				}
				// kill -9 while recording: w is dropped.
				cfg.Identities = []age.Identity{op}
				ops, _ := agestore.New(inner, cfg)
				kept := partial(t, ops)
				if len(kept) < 3*64<<10 {
					t.Fatalf("kept %d bytes before recovery", len(kept))
				}
				// Recovery starts, and the process dies inside Resume.
				dying, _ := agestore.New(dyingStore{inner}, cfg)
				if _, err := dying.Resume(ctx, "r", int64(len(kept))-100); !errors.Is(err, errKilled) {
					t.Fatalf("Resume = %v, want the crash", err)
				}
				// The next recovery finds the data.
				if got := partial(t, ops); !bytes.Equal(got, kept[:len(got)]) || len(got) < len(kept)-100 {
					t.Fatalf("after a crash in Resume: %d bytes kept, was %d", len(got), len(kept))
				}
				rw, err := ops.Resume(ctx, "r", int64(len(kept))-100)
				if err != nil {
					t.Fatal(err)
				}
				rw.Write([]byte("the end"))
				if _, err := rw.Finalize(ctx, recorder.Final{Recovered: true}); err != nil {
					t.Fatal(err)
				}
				full, err := readAll(t, ops, "r")
				if want := append(bytes.Clone(kept[:len(kept)-100]), "the end"...); err != nil || !bytes.Equal(full, want) {
					t.Fatalf("after resume: %d bytes, %v", len(full), err)
				}
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if strings.Contains(e.Name(), agestore.JournalSuffix) {
						t.Errorf("journal left behind: %s", e.Name())
					}
				}
			})
		}
	}
}

func partial(t *testing.T, s *agestore.Store) []byte {
	t.Helper()
	rc, err := s.OpenPartial(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
