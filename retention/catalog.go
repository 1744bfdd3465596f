package retention

import (
	"context"
	"time"
)

// Cursor is a position in deadline order, for paging through Expired. The
// zero Cursor is the start.
type Cursor struct {
	Deadline time.Time
	ID       string
}

// After returns the cursor just past r.
func After(r Recording) Cursor { return Cursor{Deadline: r.Deadline, ID: r.ID} }

// Catalog knows every recording, its deadline, its holds and its subject,
// so that "expired before T" and "recordings of subject S" never read a file.
// Implementations: MemCatalog here, sqlitecatalog.Catalog (the embedded
// default on disk); retentiontest.TestCatalog checks any other.
//
// All methods may be called concurrently and return ctx.Err() (possibly
// wrapped) when ctx is done. Returned recordings are copies: changing them
// changes nothing in the catalog. Times come back in UTC with the same
// instant (to the nanosecond) as stored. A change that returned nil is
// durable (for a backend on disk, on disk).
type Catalog interface {
	// Add catalogues a new recording. ErrExists if the id is known;
	// an error wrapping ErrInvalid if r.Validate fails.
	Add(ctx context.Context, r Recording) error

	// Get returns the recording with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (Recording, error)

	// Expired returns up to limit recordings whose Deadline is at or before
	// t (held ones and those pending deletion included), ordered by
	// (Deadline, ID), strictly after the cursor. Pass After(last) of the
	// previous page to get the next one. limit <= 0 means no limit.
	Expired(ctx context.Context, t time.Time, after Cursor, limit int) ([]Recording, error)

	// Subject returns every recording of the subject key, ordered by
	// (Created, ID). An empty key is invalid (ErrInvalid).
	Subject(ctx context.Context, subject string) ([]Recording, error)

	// Pending returns up to limit recordings whose deletion began and did
	// not finish, ordered by ID. limit <= 0 means no limit.
	Pending(ctx context.Context, limit int) ([]Recording, error)

	// SetHold adds a legal hold, atomically with respect to BeginDelete:
	// once SetHold returned, no deletion can begin. Setting a hold for a
	// case already holding the recording is a no-op that returns the
	// recording unchanged (so that retries are safe). ErrNotFound,
	// ErrPendingDeletion if a deletion already began, ErrInvalid if the
	// case or approver is empty.
	SetHold(ctx context.Context, id string, h Hold) (Recording, error)

	// ReleaseHold removes the hold for case ref and returns the recording
	// as it is now. ErrNotFound, ErrNoSuchHold.
	ReleaseHold(ctx context.Context, id, ref string) (Recording, error)

	// BeginDelete marks the recording as being deleted for cause, atomically
	// refusing with ErrHeld if it is under any hold. Marking one already
	// pending deletion returns it as is (the first cause wins). ErrNotFound.
	BeginDelete(ctx context.Context, id string, cause Deletion) (Recording, error)

	// Remove drops a recording whose deletion began (its file is gone).
	// ErrNotFound if unknown (already removed: callers treat that as done);
	// ErrInvalid if no deletion began, so that a row is never dropped
	// while its file may remain.
	Remove(ctx context.Context, id string) error

	// Count returns the number of catalogued recordings.
	Count(ctx context.Context) (int, error)
}
