package recordertest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync/atomic"

	"github.com/consentrec/consentrec/recorder"
)

// DiscardStore is a recorder.Store whose files keep nothing: they count
// their bytes in Written and are gone once written, as io.Discard is. Use
// it to measure a recorder without a disk (benchmarks, load tests). Its
// zero value is ready to use; its methods may be called concurrently.
// Every read (Open, OpenPartial, Stat, Resume) fails with fs.ErrNotExist,
// List returns nothing and Delete succeeds.
type DiscardStore struct {
	Written atomic.Int64 // bytes written to every file
}

type discardWriter struct {
	s *DiscardStore
	m recorder.Meta
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.s.Written.Add(int64(len(p)))
	w.m.Size += int64(len(p))
	return len(p), nil
}

func (*discardWriter) Sync() error { return nil }

func (w *discardWriter) Finalize(_ context.Context, f recorder.Final) (recorder.Meta, error) {
	m := w.m
	m.State = recorder.StateFinalized
	m.Duration, m.Legs, m.Gaps = f.Duration, f.Legs, f.Gaps
	return m, nil
}

func (*discardWriter) Abort(context.Context) error { return nil }

// Create returns a file that discards what it is given.
func (s *DiscardStore) Create(_ context.Context, m recorder.Meta) (recorder.Writer, error) {
	return &discardWriter{s: s, m: m}, nil
}

func (*DiscardStore) Resume(_ context.Context, id string, _ int64) (recorder.Writer, error) {
	return nil, discarded("resume", id)
}

func (*DiscardStore) OpenPartial(_ context.Context, id string) (io.ReadCloser, error) {
	return nil, discarded("open partial", id)
}

func (*DiscardStore) Open(_ context.Context, id string) (io.ReadCloser, error) {
	return nil, discarded("open", id)
}

func (*DiscardStore) Stat(_ context.Context, id string) (recorder.Meta, error) {
	return recorder.Meta{}, discarded("stat", id)
}

func (*DiscardStore) List(context.Context) ([]recorder.Meta, error) { return nil, nil }

func (*DiscardStore) Delete(context.Context, string) error { return nil }

func discarded(op, id string) error {
	return fmt.Errorf("recordertest: discard store: %s %s: %w", op, id, fs.ErrNotExist)
}
