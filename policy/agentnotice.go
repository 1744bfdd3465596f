package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/internal/atomicfile"
)

// Ack is an agent's acknowledgement of the employee notice (R19: employees
// are told before any device records them, Code du travail L.1222-4).
type Ack struct {
	Agent   string    `json:"agent"`   // the agent's pseudonymous id, as in CallInfo.Agent
	Version string    `json:"version"` // the notice version acknowledged (e.g. the SHA-256 of its text)
	At      time.Time `json:"at"`      // when the agent acknowledged it
	By      string    `json:"by"`      // who recorded the acknowledgement (the agent, or HR on the agent's behalf)
}

// AgentNotices tells which version of the employee notice each agent
// acknowledged (R19). The Engine asks it for every call when
// Options.AgentNoticeVersion is set.
//
// Acknowledged must be safe for concurrent use. It returns the agent's
// latest acknowledgement, or a zero Ack and a nil error when the agent never
// acknowledged any version; an error means the answer is unknown (the call
// is then not recorded). ctx bounds any I/O. It is on the decision's path:
// keep it fast (an in-memory lookup, as the file implementation does).
type AgentNotices interface {
	Acknowledged(ctx context.Context, agent string) (Ack, error)
}

// AgentNoticeWriter is the optional interface of AgentNotices that record
// acknowledgements. Acknowledge returns once the acknowledgement is durable
// and audited; the ack then answers Acknowledged. It is safe for concurrent
// use. It refuses an invalid Ack (see Ack.Validate) with an error wrapping
// ErrInvalidAck.
type AgentNoticeWriter interface {
	Acknowledge(ctx context.Context, ack Ack) error
}

// ErrInvalidAck: an acknowledgement without an agent, a version, a time or
// a recorder, or with fields too long or holding control characters.
var ErrInvalidAck = errors.New("invalid agent notice acknowledgement")

// Validate checks a's fields: Agent, Version and By of 1 to 256 printable
// UTF-8 characters, and a non-zero At.
func (a Ack) Validate() error {
	for _, f := range []struct{ name, v string }{{"agent", a.Agent}, {"version", a.Version}, {"by", a.By}} {
		if f.v == "" || len(f.v) > 256 || !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, unicode.IsControl) {
			return fmt.Errorf("%w: %s must be 1 to 256 printable characters", ErrInvalidAck, f.name)
		}
	}
	if a.At.IsZero() {
		return fmt.Errorf("%w: no time", ErrInvalidAck)
	}
	return nil
}

// AuditEvent returns the audit event of a (audit.KindAgentNoticeAcknowledged).
func (a Ack) AuditEvent() audit.Event {
	return audit.Event{Kind: audit.KindAgentNoticeAcknowledged, Time: a.At.UTC(), Actor: a.By, Reason: "employee notice (R19)",
		Attrs: []audit.Attr{{Key: "agent", Value: a.Agent}, {Key: "version", Value: a.Version}}}
}

// AgentNoticeFile is an AgentNotices and AgentNoticeWriter kept in a JSON
// lines file (one Ack a line, mode 0600, appended with O_APPEND and synced
// before Acknowledge returns), read into memory when opened. Lines other
// processes append (`consentrec agent ack` while a service runs) are read
// within a second: Acknowledged checks the file's size at most once a
// second. A torn last line (a crash mid-write) is dropped on open: that
// acknowledgement was never confirmed. It is safe for concurrent use.
type AgentNoticeFile struct {
	log audit.Appender

	mu      sync.RWMutex
	f       *os.File
	latest  map[string]Ack
	off     int64     // bytes of whole lines read
	checked time.Time // last size check
}

var (
	_ AgentNotices      = (*AgentNoticeFile)(nil)
	_ AgentNoticeWriter = (*AgentNoticeFile)(nil)
)

// ErrAgentNoticesCorrupt: a line of the acknowledgements file is not a
// valid Ack (other than a torn last line).
var ErrAgentNoticesCorrupt = errors.New("agent notices file corrupt")

// OpenAgentNoticeFile opens (creating if needed, mode 0600) the file at
// path (consentrec.DataDir.AgentNotices in the embedded setup).
// Acknowledgements are audited to log before they are written; log is
// required (audit.Discard only in tests and read-only uses).
func OpenAgentNoticeFile(path string, log audit.Appender) (*AgentNoticeFile, error) {
	if log == nil {
		return nil, errors.New("agent notices: open: no audit appender")
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent notices: open: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("agent notices: open: %w", err)
		}
	}
	n := &AgentNoticeFile{log: log, f: f, latest: map[string]Ack{}}
	torn, err := n.read()
	if err == nil && torn {
		err = f.Truncate(n.off)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("agent notices: open %s: %w", path, err)
	}
	return n, nil
}

// read reads the whole lines after n.off and reports whether a partial
// line follows them. The caller holds n.mu (or owns n).
func (n *AgentNoticeFile) read() (torn bool, err error) {
	st, err := n.f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() < n.off { // replaced or truncated by hand: start over
		n.off, n.latest = 0, map[string]Ack{}
	}
	if st.Size() == n.off {
		return false, nil
	}
	data := make([]byte, st.Size()-n.off)
	if _, err := n.f.ReadAt(data, n.off); err != nil {
		return false, err
	}
	good := 0
	for good < len(data) {
		end := bytes.IndexByte(data[good:], '\n')
		if end < 0 {
			break // a torn tail, or a line another process is writing
		}
		ack, err := ParseAck(data[good : good+end])
		if err != nil {
			return false, fmt.Errorf("at byte %d: %w: %v", n.off+int64(good), ErrAgentNoticesCorrupt, err)
		}
		n.keep(ack)
		good += end + 1
	}
	n.off += int64(good)
	return good < len(data), nil
}

// ParseAck decodes one line of an acknowledgements file, refusing unknown
// fields and invalid acks.
func ParseAck(line []byte) (Ack, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var a Ack
	if err := dec.Decode(&a); err != nil {
		return Ack{}, fmt.Errorf("%w: %v", ErrInvalidAck, err)
	}
	if dec.More() {
		return Ack{}, fmt.Errorf("%w: trailing data", ErrInvalidAck)
	}
	if err := a.Validate(); err != nil {
		return Ack{}, err
	}
	return a, nil
}

// keep records a as the agent's latest acknowledgement unless a later one
// is known (lines may be written out of time order by hand or by a clock
// step).
func (n *AgentNoticeFile) keep(a Ack) {
	if old, ok := n.latest[a.Agent]; ok && old.At.After(a.At) {
		return
	}
	n.latest[a.Agent] = a
}

// Acknowledged implements AgentNotices.
func (n *AgentNoticeFile) Acknowledged(ctx context.Context, agent string) (Ack, error) {
	if err := ctx.Err(); err != nil {
		return Ack{}, err
	}
	now := time.Now()
	n.mu.RLock()
	if n.f == nil {
		n.mu.RUnlock()
		return Ack{}, errors.New("agent notices: closed")
	}
	if now.Sub(n.checked) < time.Second {
		defer n.mu.RUnlock()
		return n.latest[agent], nil
	}
	n.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return Ack{}, errors.New("agent notices: closed")
	}
	if now.Sub(n.checked) >= time.Second {
		if _, err := n.read(); err != nil {
			return Ack{}, fmt.Errorf("agent notices: %w", err)
		}
		n.checked = now
	}
	return n.latest[agent], nil
}

// Acknowledge implements AgentNoticeWriter: it appends a's audit event,
// then a's line, synced.
func (n *AgentNoticeFile) Acknowledge(ctx context.Context, a Ack) error {
	a.At = a.At.UTC()
	if err := a.Validate(); err != nil {
		return fmt.Errorf("agent notices: acknowledge: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("agent notices: acknowledge: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return errors.New("agent notices: acknowledge: closed")
	}
	if _, err := n.log.Append(ctx, a.AuditEvent()); err != nil {
		return fmt.Errorf("agent notices: acknowledge %s: audit: %w (not recorded)", a.Agent, err)
	}
	if _, err := n.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("agent notices: acknowledge %s: %w", a.Agent, err)
	}
	if err := n.f.Sync(); err != nil {
		return fmt.Errorf("agent notices: acknowledge %s: sync: %w", a.Agent, err)
	}
	n.keep(a)
	// Read what this and other processes appended, so that off stays on a
	// line boundary.
	if _, err := n.read(); err != nil {
		return fmt.Errorf("agent notices: acknowledge %s: recorded, but reading the file back: %w", a.Agent, err)
	}
	return nil
}

// List returns every agent's latest acknowledgement, by agent id.
func (n *AgentNoticeFile) List(ctx context.Context) ([]Ack, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return nil, errors.New("agent notices: closed")
	}
	if _, err := n.read(); err != nil {
		return nil, fmt.Errorf("agent notices: %w", err)
	}
	out := make([]Ack, 0, len(n.latest))
	for _, a := range n.latest {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out, nil
}

// Close closes the file.
func (n *AgentNoticeFile) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return nil
	}
	err := n.f.Close()
	n.f = nil
	return err
}
