// Package audittest provides fakes for code that uses package audit: an
// in-memory Log, an in-memory Witness, a fault-injecting file layer for
// crash tests, and TestLog, the conformance suite every audit.Log must
// pass (the fake and audit.FileLog both do).
package audittest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MemLog is an in-memory audit.Log. It encodes, chains, hashes, signs and
// proves exactly as the file log does, so its checkpoints and receipts
// verify with the same functions, but it keeps nothing on disk: "durable"
// means "in memory", and Close forgets nothing and persists nothing. Use
// it in tests of code that appends or reads audit events.
type MemLog struct {
	// Appended lists every event appended, as given (Time filled in), in
	// index order. Read it after the appends you wait for.
	Appended []audit.Event

	mu       sync.Mutex
	origin   string
	signer   note.Signer
	verifier note.Verifier
	now      func() time.Time
	leaves   []audit.Leaf
	opens    []*audit.Opening
	hashes   []tlog.Hash
	prev     tlog.Hash
	cp       []byte
	cpSize   uint64
	closed   bool
}

var _ audit.Log = (*MemLog)(nil)

// NewLog returns an empty in-memory log named origin, signing with a fresh
// Ed25519 key. now may be nil (time.Now).
func NewLog(origin string, now func() time.Time) *MemLog {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	s, err := audit.NoteSigner(origin, priv)
	if err != nil {
		panic(err)
	}
	vkey, _ := audit.VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	if now == nil {
		now = time.Now
	}
	return &MemLog{origin: origin, signer: s, verifier: v, now: now, prev: audit.Genesis(origin)}
}

func (m *MemLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(m.hashes)) {
				return nil, fmt.Errorf("audittest: hash %d not stored", x)
			}
			out[i] = m.hashes[x]
		}
		return out, nil
	})
}

// Append implements audit.Appender.
func (m *MemLog) Append(ctx context.Context, e audit.Event) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	e.Time = e.Time.UTC().Round(0)
	o, err := audit.Seal(&e, func(b []byte) error { _, err := rand.Read(b); return err })
	if err != nil {
		return 0, fmt.Errorf("audittest: append: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, audit.ErrClosed
	}
	i := uint64(len(m.leaves))
	leaf := audit.Leaf{Index: i, Prev: m.prev, Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}
	h := leaf.Hash()
	hs, err := tlog.StoredHashesForRecordHash(int64(i), h, m.reader())
	if err != nil {
		return 0, err
	}
	m.hashes = append(m.hashes, hs...)
	m.leaves = append(m.leaves, leaf)
	m.opens = append(m.opens, o)
	m.prev = h
	m.Appended = append(m.Appended, e)
	return i, nil
}

// Size implements audit.Log.
func (m *MemLog) Size() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.leaves))
}

// VerifierKey implements audit.Log.
func (m *MemLog) VerifierKey() note.Verifier { return m.verifier }

// Entry implements audit.Log.
func (m *MemLog) Entry(ctx context.Context, i uint64) (audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return audit.Entry{}, audit.ErrClosed
	}
	if i >= uint64(len(m.leaves)) {
		return audit.Entry{}, fmt.Errorf("audittest: entry %d: %w", i, audit.ErrNotFound)
	}
	en := audit.Entry{Leaf: m.leaves[i], Opening: m.opens[i]}
	if en.Opening == nil {
		en.Pruned = true
		en.Event = audit.Event{Kind: en.Kind, Time: en.Time}
		return en, nil
	}
	var err error
	en.Event, en.Shredded, err = en.Opening.Open(&en.Leaf)
	return en, err
}

// Checkpoint implements audit.Log.
func (m *MemLog) Checkpoint(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkpoint()
}

func (m *MemLog) checkpoint() ([]byte, error) {
	if m.closed {
		return nil, audit.ErrClosed
	}
	n := uint64(len(m.leaves))
	if n == 0 {
		return nil, fmt.Errorf("audittest: checkpoint of an empty log: %w", audit.ErrNotFound)
	}
	if m.cp != nil && m.cpSize == n {
		return m.cp, nil
	}
	root, err := tlog.TreeHash(int64(n), m.reader())
	if err != nil {
		return nil, err
	}
	cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: m.origin, Size: n, Root: root}, m.signer)
	if err != nil {
		return nil, err
	}
	m.cp, m.cpSize = cp, n
	return cp, nil
}

// ProveInclusion implements audit.Log.
func (m *MemLog) ProveInclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if index >= size || size > uint64(len(m.leaves)) {
		return nil, fmt.Errorf("audittest: prove %d in %d: %w", index, size, audit.ErrNotFound)
	}
	return tlog.ProveRecord(int64(size), int64(index), m.reader())
}

// ProveConsistency implements audit.Log.
func (m *MemLog) ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if oldSize == 0 || oldSize > newSize || newSize > uint64(len(m.leaves)) {
		return nil, fmt.Errorf("audittest: prove %d extends %d: %w", newSize, oldSize, audit.ErrNotFound)
	}
	return tlog.ProveTree(int64(newSize), int64(oldSize), m.reader())
}

// Receipt implements audit.Log.
func (m *MemLog) Receipt(ctx context.Context, index uint64) (*audit.Receipt, error) {
	m.mu.Lock()
	cp, err := m.checkpoint()
	size := m.cpSize
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return audit.BuildReceipt(ctx, m, index, cp, size)
}

// Prune implements audit.Log.
func (m *MemLog) Prune(ctx context.Context, cutoff time.Time, kinds ...audit.Kind) (int, error) {
	res, err := m.PruneWith(ctx, audit.PruneOptions{Before: cutoff, Kinds: kinds})
	return res.Pruned, err
}

var _ audit.Pruner = (*MemLog)(nil)

// PruneWith implements audit.Pruner as the file log does: the prune event
// is appended and signed first, then the openings are deleted.
func (m *MemLog) PruneWith(ctx context.Context, opts audit.PruneOptions) (audit.PruneResult, error) {
	res := audit.PruneResult{Kept: map[string]int{}}
	m.mu.Lock()
	upto := uint64(len(m.leaves))
	var prune []int
	for i, l := range m.leaves[:upto] {
		if m.opens[i] == nil || !opts.Matches(l.Kind, l.Time) {
			continue
		}
		if opts.Keep != nil {
			e, _, err := m.opens[i].Open(&m.leaves[i])
			if err != nil {
				m.mu.Unlock()
				return audit.PruneResult{}, fmt.Errorf("audittest: prune: entry %d: %w", i, err)
			}
			if why := opts.Keep(e); why != "" {
				res.Kept[why]++
				continue
			}
		}
		prune = append(prune, i)
	}
	m.mu.Unlock()
	var err error
	if res.Event, err = m.appendSigned(ctx, audit.PruneEvent(opts, upto, len(prune))); err != nil {
		return audit.PruneResult{}, err
	}
	m.mu.Lock()
	for _, i := range prune {
		if m.opens[i] != nil {
			m.opens[i] = nil
			res.Pruned++
		}
	}
	m.mu.Unlock()
	return res, nil
}

// appendSigned appends e and signs a checkpoint covering it.
func (m *MemLog) appendSigned(ctx context.Context, e audit.Event) (uint64, error) {
	i, err := m.Append(ctx, e)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.checkpoint(); err != nil {
		return 0, err
	}
	return i, nil
}

// Shred implements audit.Log as the file log does: the shred events,
// listing the entries, are appended and signed first.
func (m *MemLog) Shred(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, audit.ErrInvalidEvent
	}
	m.mu.Lock()
	var entries []uint64
	for i, o := range m.opens {
		if o != nil && o.Subject == subject {
			entries = append(entries, uint64(i))
		}
	}
	m.mu.Unlock()
	for _, e := range audit.ShredEvents("", entries) {
		if _, err := m.appendSigned(ctx, e); err != nil {
			return 0, err
		}
	}
	m.mu.Lock()
	n := 0
	for _, i := range entries {
		if o := m.opens[i]; o != nil && o.Subject == subject {
			c := *o
			c.Subject, c.SubjectSalt = "", [audit.SaltSize]byte{}
			m.opens[i] = &c
			n++
		}
	}
	m.mu.Unlock()
	return n, nil
}

// Close implements audit.Log.
func (m *MemLog) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
