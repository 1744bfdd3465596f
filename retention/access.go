package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/consentrec/consentrec/policy"
)

// knownRoles are the roles an AccessTable may grant: the policy's closed
// list and RoleDPO.
var knownRoles = []policy.Role{policy.RoleTrainer, policy.RoleEvaluator, policy.RoleQuality, policy.RoleSupervisor,
	policy.RoleContracts, policy.RoleCompliance, policy.RoleLegal, RoleDPO}

// AccessTable grants roles to principal ids: the roles a host keeps in a
// file, such as the CLI's access.json (R25). It says what each person may
// do, not who asks: Authorizer pairs it with the host's way of knowing that.
// It is read-only once parsed and safe for concurrent use.
type AccessTable struct {
	Roles map[string][]policy.Role // principal id -> roles granted
}

// ParseAccessTable parses the JSON form of an access table:
//
//	{"roles": {"alice": ["quality", "supervisor"], "bob": ["dpo"]}}
//
// It refuses (ErrInvalid) unknown fields, an empty or blank id, an unknown
// role (the policy's roles and "dpo"), a duplicate, and trailing data.
func ParseAccessTable(b []byte) (AccessTable, error) {
	var f struct {
		Roles map[string][]policy.Role `json:"roles"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return AccessTable{}, fmt.Errorf("access table: %w", invalid("json", "%v", err))
	}
	if dec.More() {
		return AccessTable{}, fmt.Errorf("access table: %w", invalid("json", "data after the table"))
	}
	if f.Roles == nil {
		return AccessTable{}, fmt.Errorf("access table: %w", invalid("roles", `missing: want {"roles": {"user": ["role", ...]}}`))
	}
	for id, rs := range f.Roles {
		if strings.TrimSpace(id) == "" || id != strings.TrimSpace(id) {
			return AccessTable{}, fmt.Errorf("access table: %w", invalid("roles", "principal id %q is empty or padded", id))
		}
		for i, r := range rs {
			if !slices.Contains(knownRoles, r) {
				return AccessTable{}, fmt.Errorf("access table: %w", invalid("roles", "%s: unknown role %q (known: %s)", id, r, joinRoles(knownRoles)))
			}
			if slices.Contains(rs[:i], r) {
				return AccessTable{}, fmt.Errorf("access table: %w", invalid("roles", "%s: role %q twice", id, r))
			}
		}
	}
	return AccessTable{Roles: f.Roles}, nil
}

// Authorizer returns an Authorizer that authenticates with who (the host's
// identity: a session, the operating-system user) and grants the roles the
// table gives that id. who's error, or an id the request claims that differs
// from who's, fails with ErrUnauthenticated; an id the table does not know
// fails with ErrDenied.
func (t AccessTable) Authorizer(who func(ctx context.Context) (string, error)) Authorizer {
	return AuthorizerFunc(func(ctx context.Context, req AccessRequest) (Principal, error) {
		if err := ctx.Err(); err != nil {
			return Principal{}, err
		}
		id, err := who(ctx)
		if err != nil {
			return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
		}
		if strings.TrimSpace(id) == "" {
			return Principal{}, fmt.Errorf("no identity: %w", ErrUnauthenticated)
		}
		if c := req.Principal.ID; c != "" && c != id {
			return Principal{ID: id}, fmt.Errorf("%s claims to be %s: %w", id, c, ErrUnauthenticated)
		}
		roles, ok := t.Roles[id]
		if !ok || len(roles) == 0 {
			return Principal{ID: id}, fmt.Errorf("%s has no role in the access table: %w", id, ErrDenied)
		}
		return Principal{ID: id, Role: req.Principal.Role, Roles: slices.Clone(roles)}, nil
	})
}
