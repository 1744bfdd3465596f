package retentiontest

import (
	"context"
	"time"

	"github.com/consentrec/consentrec/retention"
)

// FaultCatalog wraps a Catalog and lets a test fail any call: Fail, if set,
// is called with the method name ("Add", "Get", "Expired", "Subject",
// "Pending", "SetHold", "ReleaseHold", "BeginDelete", "Remove", "Count") and
// the recording id ("" when none) before the call; a non-nil error is
// returned instead of calling the wrapped catalog. Use it to simulate a
// process killed between two steps.
type FaultCatalog struct {
	retention.Catalog
	Fail func(method, id string) error
}

var _ retention.Catalog = (*FaultCatalog)(nil)

func (f *FaultCatalog) fail(m, id string) error {
	if f.Fail == nil {
		return nil
	}
	return f.Fail(m, id)
}

// Add implements retention.Catalog.
func (f *FaultCatalog) Add(ctx context.Context, r retention.Recording) error {
	if err := f.fail("Add", r.ID); err != nil {
		return err
	}
	return f.Catalog.Add(ctx, r)
}

// Get implements retention.Catalog.
func (f *FaultCatalog) Get(ctx context.Context, id string) (retention.Recording, error) {
	if err := f.fail("Get", id); err != nil {
		return retention.Recording{}, err
	}
	return f.Catalog.Get(ctx, id)
}

// Expired implements retention.Catalog.
func (f *FaultCatalog) Expired(ctx context.Context, t time.Time, after retention.Cursor, limit int) ([]retention.Recording, error) {
	if err := f.fail("Expired", ""); err != nil {
		return nil, err
	}
	return f.Catalog.Expired(ctx, t, after, limit)
}

// Subject implements retention.Catalog.
func (f *FaultCatalog) Subject(ctx context.Context, subject string) ([]retention.Recording, error) {
	if err := f.fail("Subject", ""); err != nil {
		return nil, err
	}
	return f.Catalog.Subject(ctx, subject)
}

// Pending implements retention.Catalog.
func (f *FaultCatalog) Pending(ctx context.Context, limit int) ([]retention.Recording, error) {
	if err := f.fail("Pending", ""); err != nil {
		return nil, err
	}
	return f.Catalog.Pending(ctx, limit)
}

// SetHold implements retention.Catalog.
func (f *FaultCatalog) SetHold(ctx context.Context, id string, h retention.Hold) (retention.Recording, error) {
	if err := f.fail("SetHold", id); err != nil {
		return retention.Recording{}, err
	}
	return f.Catalog.SetHold(ctx, id, h)
}

// ReleaseHold implements retention.Catalog.
func (f *FaultCatalog) ReleaseHold(ctx context.Context, id, ref string) (retention.Recording, error) {
	if err := f.fail("ReleaseHold", id); err != nil {
		return retention.Recording{}, err
	}
	return f.Catalog.ReleaseHold(ctx, id, ref)
}

// BeginDelete implements retention.Catalog.
func (f *FaultCatalog) BeginDelete(ctx context.Context, id string, cause retention.Deletion) (retention.Recording, error) {
	if err := f.fail("BeginDelete", id); err != nil {
		return retention.Recording{}, err
	}
	return f.Catalog.BeginDelete(ctx, id, cause)
}

// Remove implements retention.Catalog.
func (f *FaultCatalog) Remove(ctx context.Context, id string) error {
	if err := f.fail("Remove", id); err != nil {
		return err
	}
	return f.Catalog.Remove(ctx, id)
}

// Count implements retention.Catalog.
func (f *FaultCatalog) Count(ctx context.Context) (int, error) {
	if err := f.fail("Count", ""); err != nil {
		return 0, err
	}
	return f.Catalog.Count(ctx)
}
