package audit

import (
	"context"
	"time"
)

// Kind names what happened. The numeric values are part of the on-disk
// encoding: never renumber, only append.
type Kind uint16

// Event kinds, covering the life of a call and of a recording.
const (
	KindUnknown             Kind = iota
	KindPolicyDecision           // the policy decided whether to record (Attrs: mode, reason, draw)
	KindNoticePlayed             // a notice prompt was played (Attrs: prompt, start, end, completed)
	KindConsentGiven             // the caller gave an affirmative consent (opt-in profiles)
	KindObjection                // the caller objected; carries no audio
	KindRecordingStarted         // capture began
	KindRecordingPaused          // capture paused (e.g. card data), Reason says why
	KindRecordingResumed         // capture resumed
	KindRecordingStopped         // capture stopped
	KindRecordingFinalized       // file complete; SHA256 is the file's digest
	KindRecordingPurged          // captured audio removed (objection, discard)
	KindAccess                   // a recording was opened (Attrs: action listen|download|export)
	KindAccessDenied             // an access was refused
	KindRetentionDeleted         // the sweeper deleted an expired recording
	KindRetentionOverdue         // a recording was found past its deadline (alarm)
	KindLegalHoldSet             // legal hold set (Attrs: case, approver)
	KindLegalHoldReleased        // legal hold released
	KindSubjectExport            // a data subject's recordings were exported
	KindErasure                  // a data subject's recordings were erased (or refused)
	KindPolicyChange             // a policy was loaded or changed (PolicyVersion)
	KindIntegrityFailure         // a file failed its integrity check on open
	KindAuditPruned              // the audit log pruned old payloads (Attrs: before, count)
	KindAuditShredded            // the audit log shredded a subject's openings (Attrs: count)
	KindKeyShredded              // a recording's own key was deleted (crypto-shredding): it is unreadable for good
	KindRecordingCatalogued      // a finalized recording entered the retention catalog (Attrs: lawful_basis, deadline, retention)
	// KindBreach is a personal data breach (GDPR Art. 33, R28): Attrs
	// "breach" (its id), "stage" ("reported" or "notified"), "what",
	// "discovered", "deadline" (discovery + 72 h), "notified_at".
	KindBreach
	// KindAgentNoticeAcknowledged: an agent acknowledged the employee
	// notice (R19). Actor recorded it; Attrs "agent", "version".
	KindAgentNoticeAcknowledged
	// KindDTMFClear: the host receives a call's keys in clear for a named
	// reason (Reason, e.g. "ivr-menu"); appended once per recorder, at the
	// first key delivered in clear (R23).
	KindDTMFClear
	kindEnd
)

// Attr is one extra, ordered key/value of an event. Order is preserved and
// hashed as given: no map iteration order ever reaches the hash.
type Attr struct {
	Key   string
	Value string
}

// Event is one audit record. Personal data never appears in clear: Subject
// holds a keyed hash (see policy.SubjectKey) and Actor a pseudonymous id.
type Event struct {
	Kind          Kind
	Time          time.Time // UTC, truncated to the nanosecond by the encoder
	CallID        string
	RecordingID   string
	Actor         string // who acted (agent id, operator name, "system")
	Role          string // the actor's role, for access events
	Reason        string // why (required for access, hold, pause)
	Subject       string // keyed hash of the data subject, never a phone number
	Purpose       string
	PolicyVersion string
	SHA256        string // hex digest of a file, for finalize/delete/export
	Attrs         []Attr
}

// Appender appends events to an audit log.
//
// Append returns only once the event is durable (on disk for the file log),
// and returns the event's index in the log. It may be called concurrently.
// If ctx is cancelled before the event is durable, Append returns ctx.Err()
// and the event may or may not be in the log; a cancellation never leaves a
// torn entry behind.
type Appender interface {
	Append(ctx context.Context, e Event) (uint64, error)
}

// AppenderFunc adapts a function to an Appender.
type AppenderFunc func(ctx context.Context, e Event) (uint64, error)

// Append calls f(ctx, e).
func (f AppenderFunc) Append(ctx context.Context, e Event) (uint64, error) { return f(ctx, e) }

// Discard is an Appender that drops every event. Use it only in tests and
// examples that do not care about the trail.
var Discard Appender = AppenderFunc(func(context.Context, Event) (uint64, error) { return 0, nil })
