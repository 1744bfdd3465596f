package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
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
//
// Passed to Gate.Open, a Principal is only a claim (the role the person asks
// to act in, possibly who they say they are): the Gate's Authorizer
// authenticates the person and returns the Principal that is checked and
// audited, with the roles granted to them.
type Principal struct {
	ID   string
	Role policy.Role // the role acted in; empty: the Gate picks one of Roles the recording allows
	// Roles are the roles the Authorizer grants the person; nil means
	// exactly Role.
	Roles []policy.Role
}

// granted returns the roles p holds.
func (p Principal) granted() []policy.Role {
	if len(p.Roles) == 0 && p.Role != "" {
		return []policy.Role{p.Role}
	}
	return p.Roles
}

// RoleDPO is the role an Authorizer grants to whoever handles data subject
// requests (Subjects, R29-R30). No purpose allows it: it never opens a
// recording through the Gate.
const RoleDPO policy.Role = "dpo"

// Actions of data subject requests, authorized (not opened) by Subjects.
const (
	ActionSubjectExport Action = "subject-export"
	ActionSubjectErase  Action = "subject-erase"
)

// ErrUnauthenticated: an Authorizer could not tell who asks.
var ErrUnauthenticated = errors.New("not authenticated")

// AccessRequest is what an Authorizer is asked to authenticate.
type AccessRequest struct {
	// Principal is the caller's claim: the role asked for (empty: any the
	// person holds) and, optionally, who they say they are. Never trust
	// it as is: authenticate from ctx or the host's session.
	Principal   Principal
	RecordingID string // empty for a data subject request
	Action      Action
	Reason      string
}

// Authorizer authenticates who asks for an access, from the host's own
// identity system (its session, single sign-on, the operating-system user):
// access to recordings needs an authenticated principal (R25).
//
// Authorize returns the authenticated Principal: its ID (pseudonymous, as
// audited) and the Roles the host grants them (Role: the requested role,
// kept when granted). It returns an error wrapping ErrUnauthenticated when
// it cannot tell who asks, or ErrDenied when it refuses the person outright
// (a requested role they do not hold may be left to the Gate, which checks
// it against Roles and says which roles are allowed). It never returns a
// Principal with an empty ID and a nil error. It is called once per access,
// may be called concurrently, and must honour ctx (the Gate passes its
// own); it must not block on the recording itself.
type Authorizer interface {
	Authorize(ctx context.Context, req AccessRequest) (Principal, error)
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(ctx context.Context, req AccessRequest) (Principal, error)

// Authorize calls f(ctx, req).
func (f AuthorizerFunc) Authorize(ctx context.Context, req AccessRequest) (Principal, error) {
	return f(ctx, req)
}

// authenticate asks az; a failure is returned as the reason to deny.
func authenticate(ctx context.Context, az Authorizer, req AccessRequest) (Principal, string, error) {
	p, err := az.Authorize(ctx, req)
	if err == nil && strings.TrimSpace(p.ID) == "" {
		err = ErrUnauthenticated
	}
	if err != nil {
		// Audited under whom the authorizer named, never the bare claim.
		if strings.TrimSpace(p.ID) == "" {
			p.ID = "unauthenticated"
		}
		if p.Role == "" {
			p.Role = req.Principal.Role
		}
		return p, fmt.Sprintf("not authorized: %v (R25)", err), err
	}
	if req.Principal.Role != "" && p.Role == "" {
		p.Role = req.Principal.Role // asked for; checked against p.Roles
	}
	return p, "", nil
}

// DeniedError is a refused access. It wraps ErrDenied.
type DeniedError struct {
	RecordingID string
	Principal   Principal
	Action      Action
	Why         string
}

func (e *DeniedError) Error() string {
	if e.Principal.Role == "" {
		return fmt.Sprintf("access denied: %s %s by %s: %s", e.Action, e.RecordingID, e.Principal.ID, e.Why)
	}
	return fmt.Sprintf("access denied: %s %s as %q: %s", e.Action, e.RecordingID, e.Principal.Role, e.Why)
}

// Unwrap returns ErrDenied.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// Gate is the only way to read a recording: it lets a principal open one
// only if the Authorizer authenticates them, grants them a role that the
// recording's purpose allows, narrowed by the policy's access roles
// catalogued with it (deny by default; policy.RoleLegal only while the
// recording is under legal hold, R25), and they give a reason. Every
// access and every refusal is audited (KindAccess, KindAccessDenied) with
// who, what, which action and why; the caller gets a reader, never a path. A file failing its integrity check is audited
// (KindIntegrityFailure) and never handed out.
//
// Catalog, Store, Audit and Authorizer are required. Safe for concurrent use.
type Gate struct {
	Catalog    Catalog
	Store      Store
	Audit      audit.Appender
	Authorizer Authorizer       // who asks (R25); see Authorizer
	Now        func() time.Time // nil: time.Now
	// IsIntegrity reports whether an error from Store.Open is an
	// integrity failure. nil matches ErrIntegrity only; hosts using
	// recorder.Store pass
	//   func(err error) bool { return errors.Is(err, recorder.ErrIntegrity) }
	// (ErrIntegrity is always matched as well).
	IsIntegrity func(error) bool
}

// Open authenticates p (a claim, see Principal) with the Authorizer,
// checks and audits the access, then returns a reader on the recording.
// The reader re-checks the catalogued SHA-256 as it is read (unless the
// store decodes, see DecodingStore): at the end of the stream a mismatch is
// audited and Read returns an error wrapping ErrIntegrity. Errors: a *DeniedError (ErrDenied), ErrNotFound,
// ErrPendingDeletion, ErrIntegrity, ErrNotConfigured, or the audit log's
// error (then no reader is returned: nothing is read untraced).
func (g *Gate) Open(ctx context.Context, p Principal, id string, a Action, reason string) (io.ReadCloser, error) {
	rc, _, err := g.OpenAs(ctx, p, id, a, reason)
	return rc, err
}

// OpenAs is Open that also returns the authenticated principal, in the role
// the access was granted and audited for.
func (g *Gate) OpenAs(ctx context.Context, p Principal, id string, a Action, reason string) (io.ReadCloser, Principal, error) {
	if g.Store == nil {
		return nil, p, fmt.Errorf("open: catalog, store, audit log and authorizer are required: %w", ErrNotConfigured)
	}
	r, p, err := g.admit(ctx, p, id, a, reason)
	if err != nil {
		return nil, p, err
	}
	rc, err := g.open(ctx, r, p, id, a, reason)
	return rc, p, err
}

func (g *Gate) open(ctx context.Context, r Recording, p Principal, id string, a Action, reason string) (io.ReadCloser, error) {
	now := nowFunc(g.Now)
	reason = strings.TrimSpace(reason)
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
	if r, err = g.checkAndDeny(ctx, p, id, a, reason); err != nil {
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

// Admit authenticates p, checks the access like Open (role, reason, hold,
// erasure state) and audits it, granted (KindAccess) or refused
// (KindAccessDenied), without opening the recording: for a host that hands
// out something else that gives the audio away, such as the recording's own
// decryption key. It returns the recording and the authenticated principal
// acting in the role checked; attrs are added to the access event (e.g.
// which tool handed out what).
func (g *Gate) Admit(ctx context.Context, p Principal, id string, a Action, reason string, attrs ...audit.Attr) (Recording, Principal, error) {
	r, p, err := g.admit(ctx, p, id, a, reason)
	if err != nil {
		return r, p, err
	}
	e := accessEvent(audit.KindAccess, r, nowFunc(g.Now)(), p, a, strings.TrimSpace(reason))
	e.Attrs = append(e.Attrs, attrs...)
	if err := appendEvent(ctx, g.Audit, e); err != nil {
		return r, p, fmt.Errorf("admit %s: %w", id, err)
	}
	return r, p, nil
}

// admit authenticates p and checks the access, auditing a refusal.
func (g *Gate) admit(ctx context.Context, p Principal, id string, a Action, reason string) (Recording, Principal, error) {
	if g.Catalog == nil || g.Audit == nil || g.Authorizer == nil {
		return Recording{}, p, fmt.Errorf("open: catalog, store, audit log and authorizer are required (R25): %w", ErrNotConfigured)
	}
	reason = strings.TrimSpace(reason)
	ap, why, aerr := authenticate(ctx, g.Authorizer, AccessRequest{Principal: p, RecordingID: id, Action: a, Reason: reason})
	if aerr != nil {
		r, err := g.Catalog.Get(ctx, id)
		if err != nil {
			r = Recording{ID: UnknownID(id)}
		}
		e := accessEvent(audit.KindAccessDenied, r, nowFunc(g.Now)(), ap, a, reason)
		e.Attrs = append(e.Attrs, audit.Attr{Key: "denied", Value: why})
		if c := p.ID; c != "" && c != ap.ID {
			e.Attrs = append(e.Attrs, audit.Attr{Key: "claimed", Value: c})
		}
		if err := appendEvent(ctx, g.Audit, e); err != nil {
			return r, ap, fmt.Errorf("open %s: %w", id, errors.Join(aerr, err))
		}
		return r, ap, fmt.Errorf("open: %w", errors.Join(aerr, &DeniedError{RecordingID: id, Principal: ap, Action: a, Why: why}))
	}
	r, err := g.checkAndDeny(ctx, ap, id, a, reason)
	if err != nil {
		return r, ap, err
	}
	if ap.Role == "" {
		ap.Role = pickRole(r, ap)
	}
	return r, ap, nil
}

// checkAndDeny reads the recording and audits a refusal; it returns
// the recording, or the error to return.
func (g *Gate) checkAndDeny(ctx context.Context, p Principal, id string, a Action, reason string) (Recording, error) {
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
	e := accessEvent(audit.KindAccessDenied, r, nowFunc(g.Now)(), p, a, reason)
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

// AllowedRoles returns the roles that may open r through the Gate: the
// purpose's, narrowed by the access roles catalogued with it (the policy
// rule's access_roles), and policy.RoleLegal while r is under legal hold
// (R25).
func AllowedRoles(r Recording) []policy.Role {
	rules, err := r.Purpose.Rules()
	if err != nil {
		return nil
	}
	var out []policy.Role
	for _, role := range rules.AccessRoles {
		if len(r.AccessRoles) == 0 || slices.Contains(r.AccessRoles, role) {
			out = append(out, role)
		}
	}
	if r.Held() {
		out = append(out, policy.RoleLegal)
	}
	return out
}

// pickRole returns the first role p holds that may open r, or "".
func pickRole(r Recording, p Principal) policy.Role {
	allowed := AllowedRoles(r)
	for _, role := range p.granted() {
		if slices.Contains(allowed, role) {
			return role
		}
	}
	return ""
}

// check returns why the access is refused, or "".
func (g *Gate) check(r Recording, found bool, p Principal, a Action, reason string) string {
	switch {
	case !a.Valid():
		return fmt.Sprintf("unknown action %q", a)
	case strings.TrimSpace(p.ID) == "":
		return "no principal id (R25)"
	case reason == "":
		return "no reason given (R26)"
	case !found:
		return "no such recording"
	case r.Deletion != DeletionNone:
		return "recording pending deletion: its erasure or expiry began (R13, R30)"
	}
	allowed := AllowedRoles(r)
	granted := p.granted()
	switch {
	case p.Role == "" && len(granted) == 0:
		return fmt.Sprintf("no role granted to %s (R25); allowed roles: %s", p.ID, orNone(allowed))
	case p.Role == "":
		if pickRole(r, p) == "" {
			return fmt.Sprintf("none of the roles of %s (%s) may open a %s recording (R25); allowed roles: %s",
				p.ID, joinRoles(granted), r.Purpose, orNone(allowed))
		}
		return ""
	case !slices.Contains(granted, p.Role):
		return fmt.Sprintf("role %q is not granted to %s (granted: %s) (R25)", p.Role, p.ID, orNone(granted))
	case p.Role == policy.RoleLegal && !r.Held():
		return "role legal may open only recordings under legal hold (R25)"
	case !slices.Contains(allowed, p.Role):
		return fmt.Sprintf("role %q not allowed for purpose %q (R25); allowed roles: %s", p.Role, r.Purpose, orNone(allowed))
	}
	return ""
}

func orNone(rs []policy.Role) string {
	if len(rs) == 0 {
		return "none"
	}
	return joinRoles(rs)
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
