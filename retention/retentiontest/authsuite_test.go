package retentiontest_test

import (
	"context"
	"testing"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// The fake, knowing its principals by the claimed id.
func TestFakeAuthorizer(t *testing.T) {
	retentiontest.TestAuthorizer(t, func(t *testing.T, known string, roles []policy.Role) retention.Authorizer {
		fake := &retentiontest.Authorizer{Roles: map[string][]policy.Role{}}
		if known != "" {
			fake.Roles[known] = roles
		}
		return retention.AuthorizerFunc(func(ctx context.Context, req retention.AccessRequest) (retention.Principal, error) {
			req.Principal.ID = known // the host's session says who
			return fake.Authorize(ctx, req)
		})
	})
}

// The access table, with the host's identity.
func TestAccessTableAuthorizer(t *testing.T) {
	retentiontest.TestAuthorizer(t, func(t *testing.T, known string, roles []policy.Role) retention.Authorizer {
		tab := retention.AccessTable{Roles: map[string][]policy.Role{"bob": {policy.RoleTrainer}}}
		if known != "" {
			tab.Roles[known] = roles
		}
		return tab.Authorizer(func(context.Context) (string, error) { return known, nil })
	})
}
