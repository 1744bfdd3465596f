package retention

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemCatalog is a Catalog held in memory: for tests, examples and hosts that
// rebuild their catalog at start-up. It keeps a deadline index and a subject
// index, so Expired and Subject cost O(log n + answer), not a scan. Nothing
// survives the process: on disk, use sqlitecatalog. The zero value is not
// usable; call NewMemCatalog.
type MemCatalog struct {
	mu        sync.Mutex
	recs      map[string]*Recording
	bySubject map[string]map[string]struct{}
	index     []memKey          // deadline order; may hold stale keys
	indexed   map[string]int64  // id -> deadline of its key in index
	sorted    bool              // index is sorted
	stale     int               // keys in index whose recording is gone
	pending   map[string]string // ids pending deletion
}

type memKey struct {
	deadline int64
	id       string
}

var _ Catalog = (*MemCatalog)(nil)

// NewMemCatalog returns an empty in-memory catalog.
func NewMemCatalog() *MemCatalog {
	return &MemCatalog{
		recs:      map[string]*Recording{},
		bySubject: map[string]map[string]struct{}{},
		indexed:   map[string]int64{},
		pending:   map[string]string{},
		sorted:    true,
	}
}

func ctxErr(op string, ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Add implements Catalog.
func (c *MemCatalog) Add(ctx context.Context, r Recording) error {
	if err := ctxErr("catalog add", ctx); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("catalog add: %w", err)
	}
	r = normalize(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.recs[r.ID]; ok {
		return fmt.Errorf("catalog add %s: %w", r.ID, ErrExists)
	}
	c.recs[r.ID] = &r
	if r.Subject != "" {
		s := c.bySubject[r.Subject]
		if s == nil {
			s = map[string]struct{}{}
			c.bySubject[r.Subject] = s
		}
		s[r.ID] = struct{}{}
	}
	d := r.Deadline.UnixNano()
	if old, ok := c.indexed[r.ID]; !ok || old != d {
		// An old key (from a removed recording with another deadline)
		// stays, counted stale since Remove, skipped as its deadline differs.
		if n := len(c.index); n > 0 && c.sorted {
			last := c.index[n-1]
			c.sorted = last.deadline < d || last.deadline == d && last.id < r.ID
		}
		c.index = append(c.index, memKey{d, r.ID})
		c.indexed[r.ID] = d
	} else {
		c.stale-- // the key left by a removal is live again
	}
	return nil
}

// normalize stores times in UTC without monotonic readings.
func normalize(r Recording) Recording {
	r = r.Clone()
	r.Created = r.Created.UTC().Round(0)
	r.Deadline = r.Deadline.UTC().Round(0)
	for i := range r.Holds {
		r.Holds[i].Since = r.Holds[i].Since.UTC().Round(0)
	}
	return r
}

// Get implements Catalog.
func (c *MemCatalog) Get(ctx context.Context, id string) (Recording, error) {
	if err := ctxErr("catalog get", ctx); err != nil {
		return Recording{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return Recording{}, fmt.Errorf("catalog get %s: %w", id, ErrNotFound)
	}
	return r.Clone(), nil
}

func (c *MemCatalog) sortIndex() {
	if c.stale > len(c.index)/2 {
		live := c.index[:0]
		for _, k := range c.index {
			if r, ok := c.recs[k.id]; ok && r.Deadline.UnixNano() == k.deadline {
				live = append(live, k)
			} else if d, ok := c.indexed[k.id]; ok && d == k.deadline {
				delete(c.indexed, k.id)
			}
		}
		clear(c.index[len(live):])
		c.index = live
		c.stale = 0
	}
	if !c.sorted {
		slices.SortFunc(c.index, func(a, b memKey) int {
			return cmp.Or(cmp.Compare(a.deadline, b.deadline), cmp.Compare(a.id, b.id))
		})
		// A recording removed, re-added with another deadline, removed
		// and re-added with its first deadline has two equal keys (the
		// first was left stale): keep one, or Expired returns it twice.
		n := len(c.index)
		c.index = slices.Compact(c.index)
		clear(c.index[len(c.index):n])
		c.stale = max(0, c.stale-(n-len(c.index)))
		c.sorted = true
	}
}

// Expired implements Catalog.
func (c *MemCatalog) Expired(ctx context.Context, t time.Time, after Cursor, limit int) ([]Recording, error) {
	if err := ctxErr("catalog expired", ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sortIndex()
	start := 0
	if !(after.Deadline.IsZero() && after.ID == "") {
		ad := after.Deadline.UnixNano()
		start = sort.Search(len(c.index), func(i int) bool {
			k := c.index[i]
			return k.deadline > ad || k.deadline == ad && k.id > after.ID
		})
	}
	tn := t.UnixNano()
	var out []Recording
	for _, k := range c.index[start:] {
		if k.deadline > tn || limit > 0 && len(out) >= limit {
			break
		}
		r, ok := c.recs[k.id]
		if !ok || r.Deadline.UnixNano() != k.deadline {
			continue
		}
		out = append(out, r.Clone())
	}
	return out, nil
}

// Subject implements Catalog.
func (c *MemCatalog) Subject(ctx context.Context, subject string) ([]Recording, error) {
	if err := ctxErr("catalog subject", ctx); err != nil {
		return nil, err
	}
	if subject == "" {
		return nil, fmt.Errorf("catalog subject: %w", invalid("subject", "empty"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.bySubject[subject]
	out := make([]Recording, 0, len(ids))
	for id := range ids {
		out = append(out, c.recs[id].Clone())
	}
	slices.SortFunc(out, func(a, b Recording) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Pending implements Catalog.
func (c *MemCatalog) Pending(ctx context.Context, limit int) ([]Recording, error) {
	if err := ctxErr("catalog pending", ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.pending))
	for id := range c.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Recording, len(ids))
	for i, id := range ids {
		out[i] = c.recs[id].Clone()
	}
	return out, nil
}

// SetHold implements Catalog.
func (c *MemCatalog) SetHold(ctx context.Context, id string, h Hold) (Recording, error) {
	if err := ctxErr("catalog set hold", ctx); err != nil {
		return Recording{}, err
	}
	if err := validHold(h); err != nil {
		return Recording{}, fmt.Errorf("catalog set hold %s: %w", id, err)
	}
	h.Since = h.Since.UTC().Round(0)
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return Recording{}, fmt.Errorf("catalog set hold %s: %w", id, ErrNotFound)
	}
	if r.Deletion != DeletionNone {
		return Recording{}, fmt.Errorf("catalog set hold %s: %w", id, ErrPendingDeletion)
	}
	if _, ok := r.HoldFor(h.Case); !ok {
		r.Holds = append(r.Holds, h)
	}
	return r.Clone(), nil
}

// ReleaseHold implements Catalog.
func (c *MemCatalog) ReleaseHold(ctx context.Context, id, ref string) (Recording, error) {
	if err := ctxErr("catalog release hold", ctx); err != nil {
		return Recording{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return Recording{}, fmt.Errorf("catalog release hold %s: %w", id, ErrNotFound)
	}
	i := slices.IndexFunc(r.Holds, func(h Hold) bool { return h.Case == ref })
	if i < 0 {
		return Recording{}, fmt.Errorf("catalog release hold %s case %q: %w", id, ref, ErrNoSuchHold)
	}
	r.Holds = slices.Delete(r.Holds, i, i+1)
	return r.Clone(), nil
}

// BeginDelete implements Catalog.
func (c *MemCatalog) BeginDelete(ctx context.Context, id string, cause Deletion) (Recording, error) {
	if err := ctxErr("catalog begin delete", ctx); err != nil {
		return Recording{}, err
	}
	if cause == DeletionNone {
		return Recording{}, fmt.Errorf("catalog begin delete %s: %w", id, invalid("cause", "empty"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return Recording{}, fmt.Errorf("catalog begin delete %s: %w", id, ErrNotFound)
	}
	if r.Deletion != DeletionNone {
		return r.Clone(), nil
	}
	if r.Held() {
		return Recording{}, fmt.Errorf("catalog begin delete %s: %w", id, ErrHeld)
	}
	r.Deletion = cause
	c.pending[id] = string(cause)
	return r.Clone(), nil
}

// Remove implements Catalog.
func (c *MemCatalog) Remove(ctx context.Context, id string) error {
	if err := ctxErr("catalog remove", ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return fmt.Errorf("catalog remove %s: %w", id, ErrNotFound)
	}
	if r.Deletion == DeletionNone {
		return fmt.Errorf("catalog remove %s: %w", id, invalid("deletion", "no deletion began"))
	}
	delete(c.recs, id)
	delete(c.pending, id)
	if r.Subject != "" {
		s := c.bySubject[r.Subject]
		delete(s, id)
		if len(s) == 0 {
			delete(c.bySubject, r.Subject)
		}
	}
	c.stale++
	return nil
}

// Count implements Catalog.
func (c *MemCatalog) Count(ctx context.Context) (int, error) {
	if err := ctxErr("catalog count", ctx); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs), nil
}
