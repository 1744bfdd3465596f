// Package recordertest provides an in-memory recorder.Store fake and the
// conformance suite every Store implementation must pass.
package recordertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// MemStore is an in-memory recorder.Store. Its zero value is ready to use.
// It behaves like the file store (ids validated, SHA-256 checked on Open,
// partial data kept until finalized or deleted) but keeps nothing across
// processes, and every byte lives in memory: use it in tests and examples
// only.
type MemStore struct {
	mu   sync.Mutex
	recs map[string]*memRec
	// Now returns the time of Create and Finalize; nil means time.Now.
	Now func() time.Time
}

var _ recorder.Store = (*MemStore)(nil)

type memRec struct {
	meta recorder.Meta
	data []byte
}

func (s *MemStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *MemStore) get(op, id string) (*memRec, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	r, ok := s.recs[id]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, id, fs.ErrNotExist)
	}
	return r, nil
}

// Create implements recorder.Store.
func (s *MemStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	if err := recorder.ValidateID(m.ID); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[string]*memRec{}
	}
	if _, ok := s.recs[m.ID]; ok {
		return nil, fmt.Errorf("create %s: %w", m.ID, recorder.ErrExist)
	}
	m.State = recorder.StateRecording
	if m.Created.IsZero() {
		m.Created = s.now().UTC()
	}
	m.Finalized, m.SHA256, m.Size, m.Duration, m.Gaps, m.Recovered = time.Time{}, "", 0, 0, nil, false
	m.Channels = slices.Clone(m.Channels)
	rec := &memRec{meta: m}
	s.recs[m.ID] = rec
	return &memWriter{s: s, rec: rec, id: m.ID, h: sha256.New()}, nil
}

// Resume implements recorder.Store.
func (s *MemStore) Resume(ctx context.Context, id string, size int64) (recorder.Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get("resume", id)
	if err != nil {
		return nil, err
	}
	if r.meta.State == recorder.StateFinalized {
		return nil, fmt.Errorf("resume %s: %w", id, recorder.ErrFinalized)
	}
	if size < 0 || size > int64(len(r.data)) {
		return nil, fmt.Errorf("resume %s: size %d beyond the %d bytes written", id, size, len(r.data))
	}
	r.data = r.data[:size]
	h := sha256.New()
	h.Write(r.data)
	return &memWriter{s: s, rec: r, id: id, h: h}, nil
}

// OpenPartial implements recorder.Store.
func (s *MemStore) OpenPartial(ctx context.Context, id string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get("open partial", id)
	if err != nil {
		return nil, err
	}
	if r.meta.State == recorder.StateFinalized {
		return nil, fmt.Errorf("open partial %s: %w", id, recorder.ErrFinalized)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(r.data))), nil
}

// Open implements recorder.Store.
func (s *MemStore) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get("open", id)
	if err != nil {
		return nil, err
	}
	if r.meta.State != recorder.StateFinalized {
		return nil, fmt.Errorf("open %s: %w", id, recorder.ErrNotFinalized)
	}
	sum := sha256.Sum256(r.data)
	if got := hex.EncodeToString(sum[:]); got != r.meta.SHA256 {
		return nil, fmt.Errorf("open %s: sha-256 %s, recorded %s: %w", id, got, r.meta.SHA256, recorder.ErrIntegrity)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(r.data))), nil
}

// Stat implements recorder.Store.
func (s *MemStore) Stat(ctx context.Context, id string) (recorder.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get("stat", id)
	if err != nil {
		return recorder.Meta{}, err
	}
	return cloneMeta(r.meta), nil
}

func cloneMeta(m recorder.Meta) recorder.Meta {
	m.Channels = slices.Clone(m.Channels)
	m.Gaps = slices.Clone(m.Gaps)
	m.Legs = slices.Clone(m.Legs)
	return m
}

// List implements recorder.Store.
func (s *MemStore) List(ctx context.Context) ([]recorder.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorder.Meta
	for _, r := range s.recs {
		out = append(out, cloneMeta(r.meta))
	}
	slices.SortFunc(out, func(a, b recorder.Meta) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Delete implements recorder.Store.
func (s *MemStore) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get("delete", id); err != nil {
		return err
	}
	delete(s.recs, id)
	return nil
}

// Corrupt flips one bit of a recording's stored bytes, for integrity tests.
func (s *MemStore) Corrupt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[id]; ok && len(r.data) > 0 {
		r.data[len(r.data)/2] ^= 0x10
	}
}

// Bytes returns a copy of a recording's stored bytes (finalized or not),
// bypassing the integrity check.
func (s *MemStore) Bytes(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[id]; ok {
		return bytes.Clone(r.data)
	}
	return nil
}

type memWriter struct {
	s      *MemStore
	rec    *memRec
	id     string
	h      hash.Hash
	closed bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.closed || w.s.recs[w.id] != w.rec {
		return 0, fmt.Errorf("write %s: %w", w.id, recorder.ErrClosed)
	}
	w.rec.data = append(w.rec.data, p...)
	w.h.Write(p)
	return len(p), nil
}

func (w *memWriter) Sync() error {
	if w.closed {
		return fmt.Errorf("sync %s: %w", w.id, recorder.ErrClosed)
	}
	return nil
}

var _ recorder.Checkpointer = (*memWriter)(nil)

// Checkpoint implements recorder.Checkpointer.
func (w *memWriter) Checkpoint(ctx context.Context, f recorder.Final) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.closed || w.s.recs[w.id] != w.rec {
		return fmt.Errorf("checkpoint %s: %w", w.id, recorder.ErrClosed)
	}
	m := &w.rec.meta
	m.Duration, m.Gaps, m.GapsDropped, m.Legs = f.Duration, slices.Clone(f.Gaps), f.GapsDropped, slices.Clone(f.Legs)
	return nil
}

func (w *memWriter) Finalize(ctx context.Context, f recorder.Final) (recorder.Meta, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.closed || w.s.recs[w.id] != w.rec {
		return recorder.Meta{}, fmt.Errorf("finalize %s: %w", w.id, recorder.ErrClosed)
	}
	w.closed = true
	m := &w.rec.meta
	m.State = recorder.StateFinalized
	m.Finalized = w.s.now().UTC()
	m.Size = int64(len(w.rec.data))
	m.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	m.Duration, m.Gaps, m.GapsDropped, m.Legs, m.Recovered = f.Duration, slices.Clone(f.Gaps), f.GapsDropped, slices.Clone(f.Legs), f.Recovered
	return cloneMeta(*m), nil
}

func (w *memWriter) Abort(ctx context.Context) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.closed {
		return fmt.Errorf("abort %s: %w", w.id, recorder.ErrClosed)
	}
	w.closed = true
	if w.s.recs[w.id] == w.rec {
		delete(w.s.recs, w.id)
	}
	return nil
}
