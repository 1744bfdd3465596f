package retentiontest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// Authorizer is a fake retention.Authorizer for tests.
//
// With Roles nil it believes every claim: the claimed id, granted exactly
// the claimed role. That tests a Gate's or Subjects' own rules; a host must
// never authorize like this. With Roles set it knows only those ids (others
// fail with retention.ErrUnauthenticated) and grants their roles. Err, if
// set, fails every call. Every request is recorded (Requests). Safe for
// concurrent use; the zero value believes every claim.
type Authorizer struct {
	Roles map[string][]policy.Role
	Err   error

	mu       sync.Mutex
	requests []retention.AccessRequest
}

var _ retention.Authorizer = (*Authorizer)(nil)

// Authorize implements retention.Authorizer.
func (a *Authorizer) Authorize(ctx context.Context, req retention.AccessRequest) (retention.Principal, error) {
	a.mu.Lock()
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return retention.Principal{}, err
	}
	if a.Err != nil {
		return retention.Principal{}, a.Err
	}
	p := req.Principal
	if a.Roles == nil {
		if p.ID == "" {
			return retention.Principal{}, fmt.Errorf("retentiontest: no claimed id: %w", retention.ErrUnauthenticated)
		}
		p.Roles = nil
		return p, nil
	}
	roles, ok := a.Roles[p.ID]
	if !ok {
		return retention.Principal{}, fmt.Errorf("retentiontest: unknown principal %q: %w", p.ID, retention.ErrUnauthenticated)
	}
	p.Roles = slices.Clone(roles)
	return p, nil
}

// Requests returns the requests authorized so far, oldest first.
func (a *Authorizer) Requests() []retention.AccessRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}
