package audittest

import (
	"context"
	"sync"

	"github.com/consentrec/consentrec/audit"
)

// Anchor is an in-memory audit.Anchor. Its state lives as long as the
// value: share one between a log's sessions to model an anchor kept apart
// from the log's directory. Err, when set, is returned by every Store (a
// failing second location).
type Anchor struct {
	mu     sync.Mutex
	cp     audit.Checkpoint
	stored bool
	// Stores counts successful Store calls.
	Stores int
	// Err, if not nil, makes Store fail with it.
	Err error
}

var _ audit.Anchor = (*Anchor)(nil)

// Load implements audit.Anchor.
func (a *Anchor) Load(ctx context.Context) (audit.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return audit.Checkpoint{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.stored {
		return audit.Checkpoint{}, audit.ErrNotFound
	}
	return a.cp, nil
}

// Store implements audit.Anchor.
func (a *Anchor) Store(ctx context.Context, c audit.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Err != nil {
		return a.Err
	}
	a.cp, a.stored = c, true
	a.Stores++
	return nil
}

// Set replaces the anchor's checkpoint (for tests that move it by hand).
func (a *Anchor) Set(c audit.Checkpoint) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cp, a.stored = c, true
}
