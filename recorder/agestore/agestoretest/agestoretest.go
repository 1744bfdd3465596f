// Package agestoretest provides an in-memory agestore.KeyStore fake and the
// conformance suite every KeyStore must pass.
package agestoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
)

// MemKeyStore is an in-memory agestore.KeyStore. Its zero value is ready to
// use. It keeps nothing across processes: tests and examples only. Deleted
// tracks the ids whose key was deleted, for tests to inspect.
type MemKeyStore struct {
	mu      sync.Mutex
	keys    map[string][]byte
	Deleted []string
}

var _ agestore.KeyStore = (*MemKeyStore)(nil)

// Put implements agestore.KeyStore.
func (m *MemKeyStore) Put(ctx context.Context, id string, wrapped []byte) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("put key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string][]byte{}
	}
	m.keys[id] = bytes.Clone(wrapped)
	return nil
}

// Get implements agestore.KeyStore.
func (m *MemKeyStore) Get(ctx context.Context, id string) ([]byte, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("get key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, fmt.Errorf("get key %s: %w", id, fs.ErrNotExist)
	}
	return bytes.Clone(k), nil
}

// Delete implements agestore.KeyStore.
func (m *MemKeyStore) Delete(ctx context.Context, id string) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; ok {
		delete(m.keys, id)
		m.Deleted = append(m.Deleted, id)
	}
	return nil
}

// List implements agestore.KeyStore.
func (m *MemKeyStore) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.keys))
	for id := range m.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// TestKeyStore is the conformance suite of agestore.KeyStore. Run it on
// every implementation with a constructor giving a fresh, empty store.
func TestKeyStore(t *testing.T, newStore func(t *testing.T) agestore.KeyStore) {
	ctx := context.Background()
	t.Run("PutGetDelete", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Get unknown: %v, want fs.ErrNotExist", err)
		}
		if err := s.Put(ctx, "a", []byte("key-a")); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "b", []byte("key-b")); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "a"); err != nil || string(got) != "key-a" {
			t.Fatalf("Get a: %q, %v", got, err)
		}
		if err := s.Put(ctx, "a", []byte("key-a2")); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "a"); string(got) != "key-a2" {
			t.Fatalf("Put does not replace: %q", got)
		}
		if ids, err := s.List(ctx); err != nil || !slices.Equal(ids, []string{"a", "b"}) {
			t.Fatalf("List: %v, %v", ids, err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Get deleted: %v, want fs.ErrNotExist", err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatalf("Delete twice: %v (must be idempotent)", err)
		}
		if ids, _ := s.List(ctx); !slices.Equal(ids, []string{"b"}) {
			t.Fatalf("List after delete: %v", ids)
		}
	})
	t.Run("InvalidIDs", func(t *testing.T) {
		s := newStore(t)
		for _, id := range []string{"", "../x", "a/b", ".hidden"} {
			if err := s.Put(ctx, id, []byte("k")); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Put(%q): %v, want ErrInvalidID", id, err)
			}
			if _, err := s.Get(ctx, id); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Get(%q): %v, want ErrInvalidID", id, err)
			}
			if err := s.Delete(ctx, id); !errors.Is(err, recorder.ErrInvalidID) {
				t.Errorf("Delete(%q): %v, want ErrInvalidID", id, err)
			}
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(c, "a", []byte("k")); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context: %v", err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a cancelled Put stored the key: %v", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				id := fmt.Sprintf("k%d", i)
				if err := s.Put(ctx, id, []byte(id)); err != nil {
					t.Error(err)
				}
				if got, err := s.Get(ctx, id); err != nil || string(got) != id {
					t.Errorf("Get %s: %q, %v", id, got, err)
				}
			})
		}
		wg.Wait()
		if ids, _ := s.List(ctx); len(ids) != 8 {
			t.Errorf("List: %v", ids)
		}
	})
}
