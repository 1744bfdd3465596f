package recorder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/consentrec/consentrec/policy"
)

// Sentinel errors. Methods wrap them as "op: %w"; test with errors.Is.
var (
	// ErrIntegrity: a finalized recording no longer matches the SHA-256
	// computed when it was finalized. Store.Open never returns the data then.
	ErrIntegrity = errors.New("recording integrity check failed")
	// ErrInvalidID: an id that is empty, too long, or not made of
	// [A-Za-z0-9._-] (no path separators, no "..", no leading dot).
	ErrInvalidID = errors.New("invalid recording id")
	// ErrExist: Create was given the id of an existing recording.
	ErrExist = errors.New("recording already exists")
	// ErrNotFinalized: Open was called on a recording still being written
	// (or orphaned by a crash and not yet recovered).
	ErrNotFinalized = errors.New("recording not finalized")
	// ErrFinalized: Resume was called on a recording already finalized.
	ErrFinalized = errors.New("recording already finalized")
	// ErrClosed: a Writer was used after Finalize or Abort, or a Recorder
	// after Close.
	ErrClosed = errors.New("closed")
)

// Role is the role of a call leg: whose voice a channel carries.
type Role string

// Leg roles. In the dual-channel layout the customer is on the left channel
// and the agent on the right.
const (
	Customer Role = "customer"
	Agent    Role = "agent"
)

// Valid reports whether r is Customer or Agent.
func (r Role) Valid() bool { return r == Customer || r == Agent }

// Layout is how the legs of a call are laid out in files.
type Layout string

// Layouts. The zero value is LayoutDual.
const (
	// LayoutDual: one stereo Ogg Opus file, customer left, agent right,
	// two uncoupled Opus streams (channel mapping family 1), no transcoding.
	LayoutDual Layout = "dual"
	// LayoutMono: one mono Ogg Opus file per leg.
	LayoutMono Layout = "mono"
)

// State is the life-cycle state of a stored recording.
type State string

// Recording states.
const (
	StateRecording State = "recording" // being written, or orphaned by a crash
	StateFinalized State = "finalized" // complete, SHA-256 recorded
)

// GapReason says why a span of a recording holds no captured audio.
type GapReason string

// Gap reasons.
const (
	GapPause       GapReason = "pause"       // paused (e.g. card data); Actor says who
	GapLoss        GapReason = "loss"        // packets lost in the network (concealment filler)
	GapDTX         GapReason = "dtx"         // the sender stopped sending during silence (DTX)
	GapNotStarted  GapReason = "not-started" // the leg had not sent audio yet
	GapEnded       GapReason = "ended"       // the leg had stopped sending / was closed
	GapSlip        GapReason = "slip"        // clock drift or a timing jump: the leg was re-aligned
	GapUnsupported GapReason = "unsupported" // audio that cannot be muxed without transcoding (e.g. a 60 ms SILK frame in a dual file)
	GapRecovered   GapReason = "filler"      // a filler found by crash recovery (the reason was not durable)
	GapOverload    GapReason = "overload"    // the store could not keep up: the page was written as silence (see Writers)
)

// Gap is one span of a recording without captured audio. Start and End are
// offsets from the start of the recording (the first audio sample).
type Gap struct {
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Leg    Role          `json:"leg,omitempty"` // empty: every leg (a pause)
	Reason GapReason     `json:"reason"`
	Actor  string        `json:"actor,omitempty"` // who paused; empty otherwise
	Note   string        `json:"note,omitempty"`  // the pause reason given by the actor, or details
}

// LegStats counts what happened to one leg's packets in one recording.
type LegStats struct {
	Role        Role  `json:"role"`
	Packets     int64 `json:"packets"`      // audio packets written
	Lost        int64 `json:"lost"`         // 20 ms slots filled for loss
	DTX         int64 `json:"dtx"`          // 20 ms slots filled for DTX
	Late        int64 `json:"late"`         // packets that arrived after their slot was written (dropped)
	Duplicates  int64 `json:"duplicates"`   // packets for a slot already filled (dropped)
	Slips       int64 `json:"slips"`        // re-alignments (drift, SSRC change, timestamp jump)
	SSRCChanges int64 `json:"ssrc_changes"` // SSRC changes seen
	DTMF        int64 `json:"dtmf"`         // telephone-event packets seen (not written)
	Invalid     int64 `json:"invalid"`      // malformed Opus packets (dropped)
	Unsupported int64 `json:"unsupported"`  // packets that cannot be muxed without transcoding (dropped)
	// Overload counts the 20 ms slots of the leg written as silence because
	// the store could not keep up: the write queue was full when their page
	// was ready (see Writers). Their span is in the gap index (GapOverload);
	// their packets are not counted in Packets.
	Overload int64 `json:"overload,omitempty"`

	// Panics counts the internal faults recovered on the leg's path (see
	// LegFault): the first ended the leg.
	Panics int64 `json:"panics,omitempty"`
}

// Meta is the metadata of one stored recording. It never holds personal
// data: the call id is the host's opaque id.
type Meta struct {
	ID            string         `json:"id"`
	Group         string         `json:"group,omitempty"` // the Start that produced it (mono: shared by both files)
	CallID        string         `json:"call_id"`
	Purpose       policy.Purpose `json:"purpose"`
	PolicyVersion string         `json:"policy_version"`
	Layout        Layout         `json:"layout"`
	Channels      []Role         `json:"channels"` // left to right
	State         State          `json:"state"`
	Created       time.Time      `json:"created"`
	Finalized     time.Time      `json:"finalized,omitzero"`
	Duration      time.Duration  `json:"duration"` // playable length (pre-skip excluded)
	Size          int64          `json:"size"`
	SHA256        string         `json:"sha256,omitempty"` // hex, of the stored bytes
	Gaps          []Gap          `json:"gaps,omitempty"`
	GapsDropped   int            `json:"gaps_dropped,omitempty"` // gap entries beyond the index's cap
	Legs          []LegStats     `json:"legs,omitempty"`
	Recovered     bool           `json:"recovered,omitempty"` // finalized by crash recovery
	Origin        time.Time      `json:"origin,omitzero"`     // wall clock at slot 0 (Start sets it before Create): a gap at d began at Origin.Add(d)

	// What the policy's grant fixed when the recording started (R8, R9):
	// kept with the file so that every path that finalizes it (Stop,
	// crash recovery) catalogues it the same way.
	LawfulBasis string        `json:"lawful_basis,omitempty"` // GDPR Art. 6 basis
	Retention   policy.Period `json:"retention,omitzero"`     // the retention the purpose and rule fix
	Deadline    time.Time     `json:"deadline,omitzero"`      // when the recording must be deleted
	Subject     string        `json:"subject,omitempty"`      // keyed hash of the caller (policy.SubjectKey), never a number
	Evidence    []string      `json:"evidence,omitempty"`     // the notice receipts and consents the grant rested on
	KeepUntil   time.Time     `json:"keep_until,omitzero"`    // a statute's minimum: not destroyed before (R11)
	AccessRoles []policy.Role `json:"access_roles,omitempty"` // the rule's roles, narrowing the purpose's (R25)
}

// Final is what the writer of a recording knows at the end and hands to
// Writer.Finalize; the store adds the size, the SHA-256 and the times.
type Final struct {
	Duration    time.Duration
	Gaps        []Gap
	GapsDropped int
	Legs        []LegStats
	Recovered   bool
}

// Store keeps recordings and their metadata.
//
// All methods may be called concurrently. ctx bounds each call; a cancelled
// call never leaves a half-written metadata record behind. Ids are checked
// with ValidateID: an invalid id gives an error wrapping ErrInvalidID. An
// unknown id gives an error wrapping fs.ErrNotExist.
type Store interface {
	// Create starts a new recording described by m (ID, CallID, Purpose,
	// PolicyVersion, Layout, Channels, Group, Origin; the store sets State and
	// Created if zero) and returns the writer appending to it. An existing
	// id gives an error wrapping ErrExist.
	Create(ctx context.Context, m Meta) (Writer, error)
	// Resume reopens a recording that was never finalized (orphaned by a
	// crash), truncated to its first size bytes, for appending; recovery
	// uses it. A finalized recording gives an error wrapping ErrFinalized.
	Resume(ctx context.Context, id string, size int64) (Writer, error)
	// OpenPartial returns the bytes written so far to a recording that was
	// never finalized, as far as they reached storage.
	OpenPartial(ctx context.Context, id string) (io.ReadCloser, error)
	// Open returns a finalized recording. It verifies the SHA-256 recorded
	// at finalization BEFORE returning, and returns an error wrapping
	// ErrIntegrity on mismatch (never the data). A recording not finalized
	// gives an error wrapping ErrNotFinalized.
	Open(ctx context.Context, id string) (io.ReadCloser, error)
	// Stat returns the metadata of one recording.
	Stat(ctx context.Context, id string) (Meta, error)
	// List returns the metadata of every recording, finalized or not,
	// sorted by id.
	List(ctx context.Context) ([]Meta, error)
	// Delete removes a recording and its metadata, partial files included.
	Delete(ctx context.Context, id string) error
}

// Writer appends to one recording being written. It is not safe for
// concurrent use. Write appends bytes; Sync makes what was written durable
// (a process crash never loses written bytes; Sync guards against power
// loss). Finalize syncs, computes the SHA-256 and size, marks the recording
// finalized and returns its metadata. Abort removes everything written,
// metadata included. After Finalize or Abort, every method returns an error
// wrapping ErrClosed.
type Writer interface {
	io.Writer
	Sync() error
	Finalize(ctx context.Context, f Final) (Meta, error)
	Abort(ctx context.Context) error
}

// Checkpointer is an optional interface of a Writer: Checkpoint makes the
// metadata known so far durable (the gap index, its pauses with reason and
// actor) without finalizing, so that recovery after a crash keeps it. The
// recorder calls it on pause and resume, from the goroutine that writes.
type Checkpointer interface {
	Checkpoint(ctx context.Context, f Final) error
}

const maxIDLen = 128

// ValidateID checks a recording id: 1 to 128 characters from [A-Za-z0-9._-],
// not starting with '.' or '-'. Such an id is safe as a file name.
func ValidateID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("validate id %q: %w", id, ErrInvalidID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(i > 0 && (c == '.' || c == '-'))
		if !ok {
			return fmt.Errorf("validate id %q: %w", id, ErrInvalidID)
		}
	}
	return nil
}
