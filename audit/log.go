package audit

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Entry is one entry read back from a log.
type Entry struct {
	Leaf
	// Event is the logged event. When Pruned, only Kind and Time are set
	// (from the leaf). When Shredded, Subject is empty.
	Event    Event
	Pruned   bool // the opening was deleted by retention (Log.Prune)
	Shredded bool // the subject opening was deleted (Log.Shred)
	// Opening is what the leaf's commitment hides (nil when Pruned); a
	// receipt carries it so that an auditor can check the event.
	Opening *Opening
}

// Log is a tamper-evident audit log: an append-only sequence of entries,
// hash-chained and the leaves of an RFC 6962 Merkle tree, with signed
// checkpoints and proofs.
//
// All methods may be called concurrently. Append returns once the entry is
// durable (see Appender). Reads see every entry whose Append returned.
// After Close, methods return ErrClosed.
type Log interface {
	Appender
	// Size returns the number of durable entries.
	Size() uint64
	// VerifierKey returns the verifier of the log's checkpoint signatures.
	VerifierKey() note.Verifier
	// Entry returns entry i, or an error wrapping ErrNotFound.
	Entry(ctx context.Context, i uint64) (Entry, error)
	// Checkpoint returns a signed checkpoint (a C2SP signed note) covering
	// every entry durable when it was called, signing one if needed.
	Checkpoint(ctx context.Context) ([]byte, error)
	// ProveInclusion proves entry index is in the tree of the given size
	// (index < size <= Size()), to check with tlog.CheckRecord.
	ProveInclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error)
	// ProveConsistency proves the tree of size newSize extends the tree
	// of size oldSize (0 < oldSize <= newSize <= Size()), to check with
	// tlog.CheckTree.
	ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error)
	// Receipt returns a self-contained receipt for entry index (see
	// Receipt), against a checkpoint covering it.
	Receipt(ctx context.Context, index uint64) (*Receipt, error)
	// Prune deletes the openings (event payloads and salts) of the
	// entries logged before cutoff, keeping their leaves. With kinds, only
	// entries of those kinds are pruned (e.g. AccessKinds: the access log
	// the CNIL keeps 6 to 12 months, while consent and notice evidence
	// stays as long as the recordings it justifies). It first appends a
	// KindAuditPruned entry saying what it covers (cutoff, kinds, the
	// entries below the log's size, actor) and signs a checkpoint over
	// it: a verifier refuses a missing payload that no signed prune event
	// covers. Prune events themselves are never pruned. It returns the
	// number of entries pruned. See PruneWith to keep some entries.
	Prune(ctx context.Context, cutoff time.Time, kinds ...Kind) (int, error)
	// Shred deletes the subject openings of every entry whose Subject is
	// subject (crypto-shredding: the salted commitment stays and becomes
	// unlinkable). It first appends KindAuditShredded entries listing the
	// entries it shreds (never the subject) and signs a checkpoint over
	// them: a verifier refuses a missing subject link that no signed
	// shred event lists. It returns the number of entries shredded.
	Shred(ctx context.Context, subject string) (int, error)
	// Close makes a final signed checkpoint and releases the log.
	Close() error
}

// Errors of logs.
var (
	// ErrClosed: the log was closed, or failed and must be reopened.
	ErrClosed = errors.New("audit: log closed")
	// ErrNotFound: no entry (or checkpoint) at that index or size.
	ErrNotFound = errors.New("audit: not found")
)
