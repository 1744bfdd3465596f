package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Domain-separation labels. Every hashed structure starts with its own
// label, so that bytes valid as one structure never hash like another.
const (
	eventLabel   = "consentrec/audit-event/v1\x00"
	leafLabel    = "consentrec/audit-leaf/v1\x00"
	leafLabelV2  = "consentrec/audit-leaf/v2\x00"
	commitLabel  = "consentrec/audit-commit/v1\x00"
	subjectLabel = "consentrec/audit-subject/v1\x00"
	genesisLabel = "consentrec/audit-genesis/v1\x00"
)

// Sizes of the fixed parts of the encoding.
const (
	SaltSize = 32                                   // bytes of a commitment salt
	LeafSize = len(leafLabel) + 8 + 32 + 8 + 2 + 32 // bytes of an encoded v1 leaf
	// LeafSizeV2 is the size of an encoded v2 leaf (no index, no
	// previous hash).
	LeafSizeV2 = len(leafLabelV2) + 8 + 2 + 32
	maxField   = 1 << 16 // bytes of one string field
	// MaxEventSize is the largest canonical event encoding accepted.
	MaxEventSize = 1 << 20
)

// Errors of the encoding layer.
var (
	// ErrInvalidEvent: an event that cannot be logged (unknown kind, time
	// out of range, a field or the whole event too large).
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrMalformed: bytes that do not decode as the structure expected
	// (leaf, event, record, receipt, checkpoint).
	ErrMalformed = errors.New("audit: malformed encoding")
)

// String returns the kind's name, e.g. "policy-decision".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind-%d", uint16(k))
}

var kindNames = [...]string{
	KindUnknown:                 "unknown",
	KindPolicyDecision:          "policy-decision",
	KindNoticePlayed:            "notice-played",
	KindConsentGiven:            "consent-given",
	KindObjection:               "objection",
	KindRecordingStarted:        "recording-started",
	KindRecordingPaused:         "recording-paused",
	KindRecordingResumed:        "recording-resumed",
	KindRecordingStopped:        "recording-stopped",
	KindRecordingFinalized:      "recording-finalized",
	KindRecordingPurged:         "recording-purged",
	KindAccess:                  "access",
	KindAccessDenied:            "access-denied",
	KindRetentionDeleted:        "retention-deleted",
	KindRetentionOverdue:        "retention-overdue",
	KindLegalHoldSet:            "legal-hold-set",
	KindLegalHoldReleased:       "legal-hold-released",
	KindSubjectExport:           "subject-export",
	KindErasure:                 "erasure",
	KindPolicyChange:            "policy-change",
	KindIntegrityFailure:        "integrity-failure",
	KindAuditPruned:             "audit-pruned",
	KindAuditShredded:           "audit-subject-shredded",
	KindKeyShredded:             "key-shredded",
	KindRecordingCatalogued:     "recording-catalogued",
	KindBreach:                  "breach",
	KindAgentNoticeAcknowledged: "agent-notice-acknowledged",
	KindDTMFClear:               "dtmf-clear",
}

// Valid reports whether k is a known kind other than KindUnknown.
func (k Kind) Valid() bool { return k > KindUnknown && k < kindEnd }

// Opening is what a leaf's commitment hides: the event's canonical bytes,
// the salt that makes the commitment unguessable, and the opening of the
// subject commitment inside the event. Deleting an Opening (pruning) or
// its subject part (crypto-shredding) leaves the leaf, hence the chain, the
// tree and every checkpoint and proof, valid.
type Opening struct {
	Salt    [SaltSize]byte // random per entry
	Payload []byte         // canonical event encoding (see EncodeEvent)
	// SubjectSalt and Subject open the subject commitment carried in
	// Payload. Both are zero once the subject was shredded, and when the
	// event has no subject.
	SubjectSalt [SaltSize]byte
	Subject     string
}

// Commitment returns the leaf commitment of o:
// SHA-256("consentrec/audit-commit/v1\0" || salt || payload).
func (o *Opening) Commitment() tlog.Hash {
	h := sha256.New()
	h.Write([]byte(commitLabel))
	h.Write(o.Salt[:])
	h.Write(o.Payload)
	var out tlog.Hash
	h.Sum(out[:0])
	return out
}

// SubjectCommitment returns the salted commitment of a subject key:
// SHA-256("consentrec/audit-subject/v1\0" || salt || subject).
func SubjectCommitment(salt [SaltSize]byte, subject string) tlog.Hash {
	h := sha256.New()
	h.Write([]byte(subjectLabel))
	h.Write(salt[:])
	h.Write([]byte(subject))
	var out tlog.Hash
	h.Sum(out[:0])
	return out
}

// Genesis returns the chain value that entry 0 commits to as its
// predecessor: SHA-256("consentrec/audit-genesis/v1\0" || origin). It binds
// the chain to the log's name.
func Genesis(origin string) tlog.Hash {
	return sha256.Sum256(append([]byte(genesisLabel), origin...))
}

// Leaf formats (Leaf.Version).
const (
	// LeafV1 ("consentrec/audit-leaf/v1") is the chained leaf of the file
	// log: it carries its own index and the hash of the previous leaf, so
	// the leaves form a hash chain from Genesis besides the tree. The
	// zero Version means LeafV1.
	LeafV1 = 1
	// LeafV2 ("consentrec/audit-leaf/v2") carries no index and no
	// previous hash: time, kind and commitment only. Its index is its
	// position in the Merkle tree, which alone orders the entries (an
	// inclusion proof binds a leaf to its index); a receipt carries the
	// index beside the leaf. Logs whose engine hashes an entry before it
	// assigns the index (Tessera) write it.
	LeafV2 = 2
)

// Leaf is what the Merkle tree (and, for v1 leaves, the hash chain)
// commits to for one entry. It holds no personal data: the event is
// behind Commitment.
type Leaf struct {
	// Version is the leaf format, LeafV1 (or 0) or LeafV2. A v2 leaf
	// encodes neither Index nor Prev: Index is its position in the tree,
	// set by whoever read it (a log, a receipt), and Prev stays zero.
	Version    int
	Index      uint64
	Prev       tlog.Hash // v1: Hash of the previous leaf; Genesis(origin) for entry 0
	Time       time.Time // the event's time (UTC, nanoseconds)
	Kind       Kind
	Commitment tlog.Hash // Opening.Commitment()
}

// Chained reports whether l is a v1 leaf: one that carries its index and
// the previous leaf's hash.
func (l *Leaf) Chained() bool { return l.Version == 0 || l.Version == LeafV1 }

// AppendBinary appends the canonical encoding of l: label, index, prev,
// unix nanoseconds, kind, commitment, big-endian (LeafSize bytes) for v1;
// label, unix nanoseconds, kind, commitment (LeafSizeV2 bytes) for v2. An
// unknown Version is an error wrapping ErrMalformed.
func (l *Leaf) AppendBinary(b []byte) ([]byte, error) {
	switch l.Version {
	case 0, LeafV1:
		b = append(b, leafLabel...)
		b = binary.BigEndian.AppendUint64(b, l.Index)
		b = append(b, l.Prev[:]...)
	case LeafV2:
		b = append(b, leafLabelV2...)
	default:
		return b, fmt.Errorf("leaf: version %d: %w", l.Version, ErrMalformed)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(l.Time.UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(l.Kind))
	b = append(b, l.Commitment[:]...)
	return b, nil
}

// MarshalBinary returns the canonical encoding of l.
func (l *Leaf) MarshalBinary() ([]byte, error) { return l.AppendBinary(make([]byte, 0, LeafSize)) }

// UnmarshalBinary decodes a canonical leaf of either version; it wraps
// ErrMalformed. A v2 leaf decodes with Index 0 (its position in the tree
// is not part of it) and Prev zero.
func (l *Leaf) UnmarshalBinary(b []byte) error {
	switch {
	case len(b) == LeafSize && string(b[:len(leafLabel)]) == leafLabel:
		b = b[len(leafLabel):]
		l.Version = LeafV1
		l.Index = binary.BigEndian.Uint64(b)
		copy(l.Prev[:], b[8:40])
		b = b[40:]
	case len(b) == LeafSizeV2 && string(b[:len(leafLabelV2)]) == leafLabelV2:
		b = b[len(leafLabelV2):]
		l.Version, l.Index, l.Prev = LeafV2, 0, tlog.Hash{}
	default:
		return fmt.Errorf("leaf: %w", ErrMalformed)
	}
	l.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	l.Kind = Kind(binary.BigEndian.Uint16(b[8:]))
	copy(l.Commitment[:], b[10:42])
	if l.Kind == KindUnknown {
		return fmt.Errorf("leaf: kind 0: %w", ErrMalformed)
	}
	return nil
}

// Hash returns the leaf's RFC 6962 record hash, SHA-256(0x00 || leaf). A
// leaf of an unknown Version has the zero hash, which no tree contains.
func (l *Leaf) Hash() tlog.Hash {
	var buf [LeafSize]byte
	b, err := l.AppendBinary(buf[:0])
	if err != nil {
		return tlog.Hash{}
	}
	return tlog.RecordHash(b)
}

// validTime reports whether t fits the int64 nanosecond encoding: exactly
// the instants DecodeEvent can return, so that every decoded event
// re-encodes (a year bound left out 1677-09-21 to 1678 and 2262 to
// 2262-04-11).
func validTime(t time.Time) bool {
	return !t.Before(time.Unix(0, math.MinInt64)) && !t.After(time.Unix(0, math.MaxInt64))
}

// EncodeEvent returns the canonical, versioned encoding of e with its
// subject replaced by subjectCommit (empty when e has no subject). Every
// field is encoded, Attrs in order; lengths are fixed-width big-endian, so
// each event has exactly one encoding.
func EncodeEvent(e *Event, subjectCommit []byte) ([]byte, error) {
	if !e.Kind.Valid() {
		return nil, fmt.Errorf("%w: kind %d", ErrInvalidEvent, e.Kind)
	}
	if !validTime(e.Time) {
		return nil, fmt.Errorf("%w: time %v out of range", ErrInvalidEvent, e.Time)
	}
	if (e.Subject == "") != (len(subjectCommit) == 0) {
		return nil, fmt.Errorf("%w: subject commitment mismatch", ErrInvalidEvent)
	}
	if len(e.Attrs) > maxField {
		return nil, fmt.Errorf("%w: %d attrs", ErrInvalidEvent, len(e.Attrs))
	}
	n := len(eventLabel) + 2 + 8 + 4
	for _, s := range e.strings(string(subjectCommit)) {
		n += 4 + len(s)
	}
	for _, a := range e.Attrs {
		n += 8 + len(a.Key) + len(a.Value)
	}
	if n > MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes encoded (max %d)", ErrInvalidEvent, n, MaxEventSize)
	}
	b := make([]byte, 0, n)
	b = append(b, eventLabel...)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range e.strings(string(subjectCommit)) {
		if len(s) > maxField {
			return nil, fmt.Errorf("%w: field of %d bytes (max %d)", ErrInvalidEvent, len(s), maxField)
		}
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Attrs)))
	for _, a := range e.Attrs {
		if len(a.Key) > maxField || len(a.Value) > maxField {
			return nil, fmt.Errorf("%w: attr %.20q too large", ErrInvalidEvent, a.Key)
		}
		b = appendString(b, a.Key)
		b = appendString(b, a.Value)
	}
	return b, nil
}

// strings lists the string fields in encoding order, subject replaced.
func (e *Event) strings(subject string) [9]string {
	return [9]string{e.CallID, e.RecordingID, e.Actor, e.Role, e.Reason,
		subject, e.Purpose, e.PolicyVersion, e.SHA256}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// DecodeEvent decodes a canonical event encoding. The returned event's
// Subject is empty; the subject commitment (32 bytes, or none) is returned
// beside it. Any trailing byte, unknown label or oversize length is an
// error wrapping ErrMalformed.
func DecodeEvent(b []byte) (e Event, subjectCommit []byte, err error) {
	if len(b) > MaxEventSize || len(b) < len(eventLabel)+14 || string(b[:len(eventLabel)]) != eventLabel {
		return Event{}, nil, fmt.Errorf("event: %w", ErrMalformed)
	}
	d := decoder{b: b[len(eventLabel):]}
	e.Kind = Kind(d.u16())
	ns := d.u64()
	e.Time = time.Unix(0, int64(ns)).UTC()
	var f [9]string
	for i := range f {
		f[i] = d.str()
	}
	e.CallID, e.RecordingID, e.Actor, e.Role, e.Reason = f[0], f[1], f[2], f[3], f[4]
	subj := f[5]
	e.Purpose, e.PolicyVersion, e.SHA256 = f[6], f[7], f[8]
	na := d.u32()
	if d.err == nil && uint64(na)*8 > uint64(len(d.b)) {
		d.err = ErrMalformed
	}
	if d.err == nil && na > 0 {
		e.Attrs = make([]Attr, na)
		for i := range e.Attrs {
			e.Attrs[i] = Attr{Key: d.str(), Value: d.str()}
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = ErrMalformed
	}
	if d.err == nil && e.Kind == KindUnknown {
		d.err = ErrMalformed
	}
	if d.err == nil && subj != "" && len(subj) != sha256.Size {
		d.err = ErrMalformed
	}
	if d.err != nil {
		return Event{}, nil, fmt.Errorf("event: %w", ErrMalformed)
	}
	if subj != "" {
		subjectCommit = []byte(subj)
	}
	return e, subjectCommit, nil
}

// decoder reads big-endian fields; the first short read sets err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = ErrMalformed
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u16() uint16 {
	if p := d.need(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.need(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.need(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u32()
	if n > maxField {
		d.err = ErrMalformed
		return ""
	}
	return string(d.need(int(n)))
}

// Seal prepares e for the log: it encodes it canonically with a salted
// subject commitment and returns the opening (random salts from rnd).
// e.Time must already be set. A nil rnd means crypto/rand.
func Seal(e *Event, rnd func([]byte) error) (*Opening, error) {
	if rnd == nil {
		rnd = func(b []byte) error { _, err := rand.Read(b); return err }
	}
	o := &Opening{}
	var salts [2 * SaltSize]byte
	if err := rnd(salts[:]); err != nil {
		return nil, fmt.Errorf("audit: salt: %w", err)
	}
	copy(o.Salt[:], salts[:SaltSize])
	var sc []byte
	if e.Subject != "" {
		copy(o.SubjectSalt[:], salts[SaltSize:])
		o.Subject = e.Subject
		c := SubjectCommitment(o.SubjectSalt, e.Subject)
		sc = c[:]
	}
	p, err := EncodeEvent(e, sc)
	if err != nil {
		return nil, err
	}
	o.Payload = p
	return o, nil
}

// Open checks o against leaf l and returns the event it holds. The subject
// is filled in when o still opens the subject commitment; erased reports a
// subject that was shredded. Errors wrap ErrMalformed or describe the
// mismatch (commitment, kind, time, subject).
func (o *Opening) Open(l *Leaf) (e Event, erased bool, err error) {
	if o.Commitment() != l.Commitment {
		return Event{}, false, errors.New("commitment does not match the event")
	}
	e, sc, err := DecodeEvent(o.Payload)
	if err != nil {
		return Event{}, false, err
	}
	if e.Kind != l.Kind {
		return Event{}, false, fmt.Errorf("event kind %v differs from leaf kind %v", e.Kind, l.Kind)
	}
	if !e.Time.Equal(l.Time) {
		return Event{}, false, errors.New("event time differs from leaf time")
	}
	switch {
	case sc == nil && (o.Subject != "" || o.SubjectSalt != [SaltSize]byte{}):
		return Event{}, false, errors.New("subject opening for an event without subject")
	case sc != nil && o.Subject == "" && o.SubjectSalt == [SaltSize]byte{}:
		erased = true
	case sc != nil:
		c := SubjectCommitment(o.SubjectSalt, o.Subject)
		if string(c[:]) != string(sc) {
			return Event{}, false, errors.New("subject does not match its commitment")
		}
		e.Subject = o.Subject
	}
	return e, erased, nil
}

// checker verifies openings against leaves without allocating: the
// verifier's hot path. Its scratch buffer is reused; not for concurrent use.
type checker struct{ scratch []byte }

// check is Opening.Open without decoding the event into strings; the
// subject opening's key is subj (o.Subject is not read).
func (c *checker) check(o *Opening, subj0 []byte, l *Leaf) (shredded bool, err error) {
	c.scratch = append(append(append(c.scratch[:0], commitLabel...), o.Salt[:]...), o.Payload...)
	if sha256.Sum256(c.scratch) != l.Commitment {
		return false, errors.New("commitment does not match the event")
	}
	b := o.Payload
	if len(b) < len(eventLabel)+14 || string(b[:len(eventLabel)]) != eventLabel {
		return false, fmt.Errorf("event: %w", ErrMalformed)
	}
	d := decoder{b: b[len(eventLabel):]}
	kind := Kind(d.u16())
	ns := int64(d.u64())
	var subj []byte
	for i := range 9 {
		n := d.u32()
		if n > maxField {
			d.err = ErrMalformed
		}
		p := d.need(int(n))
		if i == 5 && n > 0 {
			subj = p
		}
	}
	na := d.u32()
	if d.err == nil && uint64(na)*8 > uint64(len(d.b)) {
		d.err = ErrMalformed
	}
	for range 2 * int(na) {
		if d.err != nil {
			break
		}
		n := d.u32()
		if n > maxField {
			d.err = ErrMalformed
		}
		d.need(int(n))
	}
	if d.err != nil || len(d.b) != 0 || kind == KindUnknown || (len(subj) != 0 && len(subj) != sha256.Size) {
		return false, fmt.Errorf("event: %w", ErrMalformed)
	}
	if kind != l.Kind {
		return false, fmt.Errorf("event kind %v differs from leaf kind %v", kind, l.Kind)
	}
	if ns != l.Time.UnixNano() {
		return false, errors.New("event time differs from leaf time")
	}
	switch {
	case subj == nil && (len(subj0) != 0 || o.SubjectSalt != [SaltSize]byte{}):
		return false, errors.New("subject opening for an event without subject")
	case subj != nil && len(subj0) == 0 && o.SubjectSalt == [SaltSize]byte{}:
		return true, nil
	case subj != nil:
		c.scratch = append(append(append(c.scratch[:0], subjectLabel...), o.SubjectSalt[:]...), subj0...)
		if h := sha256.Sum256(c.scratch); string(h[:]) != string(subj) {
			return false, errors.New("subject does not match its commitment")
		}
	}
	return false, nil
}
