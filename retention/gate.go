package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

// Action is what a principal does with a recording; each is a distinct
// audited action (R26).
type Action string

// Actions.
const (
	ActionListen   Action = "listen"   // play it back
	ActionDownload Action = "download" // take a copy of the file
	ActionExport   Action = "export"   // hand it outside (e.g. to a court)
)

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool {
	return a == ActionListen || a == ActionDownload || a == ActionExport
}

// Principal is who asks: a pseudonymous id and the role they act in.
type Principal struct {
	ID   string
	Role policy.Role
}

// DeniedError is a refused access. It wraps ErrDenied.
type DeniedError struct {
	RecordingID string
	Principal   Principal
	Action      Action
	Why         string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("access denied: %s %s as %q: %s", e.Action, e.RecordingID, e.Principal.Role, e.Why)
}

// Unwrap returns ErrDenied.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// Gate is the only way to read a recording: it lets a principal open one
// only if the recording's purpose allows their role (deny by default;
// policy.RoleLegal only while the recording is under legal hold, R25) and they
// give a reason. Every access and every refusal is audited (KindAccess,
// KindAccessDenied) with who, what, which action and why; the caller gets a
// reader, never a path. A file failing its integrity check is audited
// (KindIntegrityFailure) and never handed out.
//
// Catalog, Store and Audit are required. Safe for concurrent use.
type Gate struct {
	Catalog Catalog
	Store   Store
	Audit   audit.Appender
	Now     func() time.Time // nil: time.Now
	// IsIntegrity reports whether an error from Store.Open is an
	// integrity failure. nil matches ErrIntegrity only; hosts using
	// recorder.Store pass
	//   func(err error) bool { return errors.Is(err, recorder.ErrIntegrity) }
	// (ErrIntegrity is always matched as well).
	IsIntegrity func(error) bool
}

// Open checks and audits an access, then returns a reader on the recording.
// The reader re-checks the catalogued SHA-256 as it is read (unless the
// store decodes, see DecodingStore): at the end of the stream a mismatch is
// audited and Read returns an error wrapping ErrIntegrity. Errors: a *DeniedError (ErrDenied), ErrNotFound,
// ErrPendingDeletion, ErrIntegrity, ErrNotConfigured, or the audit log's
// error (then no reader is returned: nothing is read untraced).
func (g *Gate) Open(ctx context.Context, p Principal, id string, a Action, reason string) (io.ReadCloser, error) {
	if g.Catalog == nil || g.Store == nil || g.Audit == nil {
		return nil, fmt.Errorf("open: catalog, store and audit log are required: %w", ErrNotConfigured)
	}
	now := nowFunc(g.Now)
	reason = strings.TrimSpace(reason)
	// checkAndDeny reads the recording and audits a refusal; it returns
	// the recording, or the error to return.
	checkAndDeny := func() (Recording, error) {
		r, err := g.Catalog.Get(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return r, fmt.Errorf("open: %w", err)
		}
		found := err == nil
		why := g.check(r, found, p, a, reason)
		if why == "" {
			return r, nil
		}
		if !found {
			r = Recording{ID: UnknownID(id)}
		}
		e := accessEvent(audit.KindAccessDenied, r, now(), p, a, reason)
		e.Attrs = append(e.Attrs, audit.Attr{Key: "denied", Value: why})
		if err := appendEvent(ctx, g.Audit, e); err != nil {
			return r, fmt.Errorf("open %s: %w", id, err)
		}
		denied := &DeniedError{RecordingID: id, Principal: p, Action: a, Why: why}
		switch {
		case !found:
			return r, fmt.Errorf("open %s: %w", id, errors.Join(ErrNotFound, denied))
		case r.Deletion != DeletionNone:
			return r, fmt.Errorf("open %s: %w", id, errors.Join(ErrPendingDeletion, denied))
		}
		return r, fmt.Errorf("open: %w", denied)
	}
	r, err := checkAndDeny()
	if err != nil {
		return nil, err
	}
	rc, err := g.Store.Open(ctx, id)
	if err != nil {
		if errors.Is(err, ErrIntegrity) || g.IsIntegrity != nil && g.IsIntegrity(err) {
			e := integrityEvent(r, now(), p, a, err)
			if aerr := appendEvent(ctx, g.Audit, e); aerr != nil {
				return nil, fmt.Errorf("open %s: %w", id, errors.Join(ErrIntegrity, err, aerr))
			}
			return nil, fmt.Errorf("open %s: %w", id, errors.Join(ErrIntegrity, err))
		}
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	// Store.Open checks the whole file: a deletion may have begun (or a
	// hold that let a lawyer in been released) meanwhile. Check again.
	if r, err = checkAndDeny(); err != nil {
		rc.Close()
		return nil, err
	}
	if err := appendEvent(ctx, g.Audit, accessEvent(audit.KindAccess, r, now(), p, a, reason)); err != nil {
		rc.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	if r.SHA256 == "" || decodes(g.Store) {
		return rc, nil
	}
	return &verifyingReader{
		rc: rc, h: sha256.New(), want: r.SHA256,
		fail: func(err error) {
			// The reader has no ctx of its own: audit with the open's
			// values, whatever happened to its cancellation since.
			_, _ = g.Audit.Append(context.WithoutCancel(ctx), integrityEvent(r, now(), p, a, err))
		},
	}, nil
}

// check returns why the access is refused, or "".
func (g *Gate) check(r Recording, found bool, p Principal, a Action, reason string) string {
	switch {
	case !a.Valid():
		return fmt.Sprintf("unknown action %q", a)
	case strings.TrimSpace(p.ID) == "":
		return "no principal id"
	case reason == "":
		return "no reason given (R26)"
	case !found:
		return "no such recording"
	case r.Deletion != DeletionNone:
		return "recording pending deletion"
	case p.Role == policy.RoleLegal:
		if r.Held() {
			return ""
		}
		return "role legal may open only recordings under legal hold (R25)"
	case !r.Purpose.Allows(p.Role):
		return fmt.Sprintf("role %q not allowed for purpose %q", p.Role, r.Purpose)
	}
	return ""
}

func accessEvent(k audit.Kind, r Recording, at time.Time, p Principal, a Action, reason string) audit.Event {
	return audit.Event{
		Kind:        k,
		Time:        at.UTC(),
		CallID:      r.CallID,
		RecordingID: r.ID,
		Actor:       p.ID,
		Role:        string(p.Role),
		Reason:      reason,
		Subject:     r.Subject,
		Purpose:     string(r.Purpose),
		SHA256:      r.SHA256,
		Attrs:       []audit.Attr{{Key: "action", Value: string(a)}},
	}
}

func integrityEvent(r Recording, at time.Time, p Principal, a Action, cause error) audit.Event {
	e := accessEvent(audit.KindIntegrityFailure, r, at, p, a, "integrity check failed on open")
	e.Attrs = append(e.Attrs, audit.Attr{Key: "error", Value: cause.Error()})
	return e
}

// verifyingReader hashes what is read and, at EOF, fails with ErrIntegrity
// if the digest differs from the catalogued one.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
	once sync.Once
	fail func(error)
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); !strings.EqualFold(got, v.want) { // Validate allows upper case
			v.err = fmt.Errorf("read: sha-256 %s, catalogued %s: %w", got, v.want, ErrIntegrity)
			v.once.Do(func() { v.fail(v.err) })
			return n, v.err
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// UnknownID is how the audit log names a recording id that is not in the
// catalog: "unknown-sha256:" and the SHA-256 of what was asked. What an
// operator typed may be anything, a caller's phone number included; it
// never reaches the permanent log in clear, yet an auditor holding a
// candidate id can recognise it.
func UnknownID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "unknown-sha256:" + hex.EncodeToString(sum[:])
}
