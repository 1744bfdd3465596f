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
// lines file (one Ack a line, mode 0600, each line synced before Acknowledge
// returns), read into memory when opened. A torn last line (a crash
// mid-write) is dropped on open: that acknowledgement was never confirmed.
// It is safe for concurrent use within one process; do not open the same
// file from two processes at once.
type AgentNoticeFile struct {
	log audit.Appender

	mu     sync.RWMutex
	f      *os.File
	latest map[string]Ack
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
// required (audit.Discard only in tests).
func OpenAgentNoticeFile(path string, log audit.Appender) (*AgentNoticeFile, error) {
	if log == nil {
		return nil, errors.New("agent notices: open: no audit appender")
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
	if err := n.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("agent notices: open %s: %w", path, err)
	}
	return n, nil
}

func (n *AgentNoticeFile) load() error {
	data, err := os.ReadFile(n.f.Name())
	if err != nil {
		return err
	}
	good := 0
	for line := 1; good < len(data); line++ {
		end := bytes.IndexByte(data[good:], '\n')
		if end < 0 {
			break // a torn tail: never acknowledged
		}
		ack, err := ParseAck(data[good : good+end])
		if err != nil {
			return fmt.Errorf("line %d: %w: %v", line, ErrAgentNoticesCorrupt, err)
		}
		n.keep(ack)
		good += end + 1
	}
	if good < len(data) {
		if err := n.f.Truncate(int64(good)); err != nil {
			return fmt.Errorf("trim torn tail: %w", err)
		}
	}
	_, err = n.f.Seek(0, 2)
	return err
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
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.f == nil {
		return Ack{}, errors.New("agent notices: closed")
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
	return nil
}

// List returns every agent's latest acknowledgement, by agent id.
func (n *AgentNoticeFile) List(ctx context.Context) ([]Ack, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
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
