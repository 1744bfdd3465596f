// Package retentiontest provides fakes for the retention package (an
// in-memory Store, a recording audit log, a fault-injecting catalog) and
// TestCatalog, the conformance suite every retention.Catalog backend runs.
package retentiontest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/retention"
)

// Store is an in-memory retention.Store. Like recorder.Store, Open verifies
// the SHA-256 taken when the recording was Put and fails with an error
// wrapping retention.ErrIntegrity if the bytes were altered since (see
// Corrupt); Delete of an unknown id wraps fs.ErrNotExist. Hooks let tests
// inject faults. Safe for concurrent use; the zero value is an empty store.
type Store struct {
	mu    sync.Mutex
	files map[string]storeFile

	// BeforeDelete, if set, is called before each Delete; a non-nil error
	// is returned instead of deleting.
	BeforeDelete func(id string) error
	// Deletes counts Delete calls that removed a file.
	Deletes int
}

type storeFile struct {
	data []byte
	sum  string
}

var _ retention.Store = (*Store)(nil)

// Put stores data under id and returns its hex SHA-256.
func (s *Store) Put(id string, data []byte) string {
	sum := sha256.Sum256(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]storeFile{}
	}
	h := hex.EncodeToString(sum[:])
	s.files[id] = storeFile{data: bytes.Clone(data), sum: h}
	return h
}

// Corrupt flips one byte of id's data without updating its digest.
func (s *Store) Corrupt(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if ok && len(f.data) > 0 {
		// A new slice: an Open in progress keeps hashing and copying
		// the bytes it read under the lock.
		f.data = bytes.Clone(f.data)
		f.data[len(f.data)/2] ^= 0xff
		s.files[id] = f
	}
}

// Replace changes id's data and digest (a store that does not notice an
// alteration): only the catalog's SHA-256 can then tell.
func (s *Store) Replace(id string, data []byte) { s.Put(id, data) }

// Has reports whether id is stored.
func (s *Store) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[id]
	return ok
}

// IDs returns the stored ids, sorted.
func (s *Store) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.files))
	for id := range s.files {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Open implements retention.Store.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	f, ok := s.files[id]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("open %s: %w", id, fs.ErrNotExist)
	}
	sum := sha256.Sum256(f.data)
	if hex.EncodeToString(sum[:]) != f.sum {
		return nil, fmt.Errorf("open %s: %w", id, retention.ErrIntegrity)
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(f.data))), nil
}

// Delete implements retention.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.BeforeDelete != nil {
		if err := s.BeforeDelete(id); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[id]; !ok {
		return fmt.Errorf("delete %s: %w", id, fs.ErrNotExist)
	}
	delete(s.files, id)
	s.Deletes++
	return nil
}

// AuditLog is an audit.Appender that keeps events in memory, for tests to
// inspect. Fail, if set, is called before each append; a non-nil error is
// returned and the event is dropped. Safe for concurrent use.
type AuditLog struct {
	mu     sync.Mutex
	events []audit.Event
	Fail   func(audit.Event) error
}

var _ audit.Appender = (*AuditLog)(nil)

// Append implements audit.Appender.
func (l *AuditLog) Append(ctx context.Context, e audit.Event) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if l.Fail != nil {
		if err := l.Fail(e); err != nil {
			return 0, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Attrs = slices.Clone(e.Attrs)
	l.events = append(l.events, e)
	return uint64(len(l.events) - 1), nil
}

// Events returns a copy of the events appended so far.
func (l *AuditLog) Events() []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// Kind returns the events of kind k.
func (l *AuditLog) Kind(k audit.Kind) []audit.Event {
	var out []audit.Event
	for _, e := range l.Events() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Attr returns the value of e's attribute key, or "".
func Attr(e audit.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Shred blanks the Subject of every event of subject appended so far, like
// audit.FileLog's crypto-shredding, and returns how many it changed.
func (l *AuditLog) Shred(ctx context.Context, subject string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := range l.events {
		if l.events[i].Subject == subject {
			l.events[i].Subject = ""
			n++
		}
	}
	return n, nil
}
