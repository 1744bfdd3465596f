package retentiontest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// TestAuthorizer checks that an Authorizer honours the contract written on
// retention.Authorizer. newAuthorizer returns one that authenticates as
// known (a principal id) holding roles, and as no one (an authorizer that
// cannot tell who asks) when known is "".
func TestAuthorizer(t *testing.T, newAuthorizer func(t *testing.T, known string, roles []policy.Role) retention.Authorizer) {
	ctx := context.Background()
	roles := []policy.Role{policy.RoleQuality, policy.RoleSupervisor}
	req := retention.AccessRequest{Principal: retention.Principal{Role: policy.RoleQuality}, RecordingID: "rec-1",
		Action: retention.ActionListen, Reason: "review"}
	t.Run("Known", func(t *testing.T) {
		az := newAuthorizer(t, "alice", roles)
		p, err := az.Authorize(ctx, req)
		if err != nil || p.ID != "alice" {
			t.Fatalf("Authorize = %+v, %v; want alice", p, err)
		}
		granted := p.Roles
		if len(granted) == 0 {
			granted = []policy.Role{p.Role}
		}
		if !slices.Contains(granted, policy.RoleQuality) {
			t.Errorf("roles %v lack the granted quality", granted)
		}
		for _, r := range granted {
			if !slices.Contains(roles, r) {
				t.Errorf("role %q granted beyond %v", r, roles)
			}
		}
	})
	t.Run("NoOne", func(t *testing.T) {
		az := newAuthorizer(t, "", nil)
		p, err := az.Authorize(ctx, req)
		if err == nil {
			t.Fatalf("Authorize of no one = %+v, nil", p)
		}
		if !errors.Is(err, retention.ErrUnauthenticated) && !errors.Is(err, retention.ErrDenied) {
			t.Errorf("error %v wraps neither ErrUnauthenticated nor ErrDenied", err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		az := newAuthorizer(t, "alice", roles)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if p, err := az.Authorize(c, req); err == nil {
			t.Errorf("Authorize with a cancelled ctx = %+v, nil", p)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		az := newAuthorizer(t, "alice", roles)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if p, err := az.Authorize(ctx, req); err != nil || p.ID != "alice" {
					t.Errorf("concurrent Authorize = %+v, %v", p, err)
				}
			})
		}
		wg.Wait()
	})
}
