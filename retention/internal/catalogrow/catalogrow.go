// Package catalogrow is the column encoding the SQL catalogs share
// (retention/sqlitecatalog, retention/pgcatalog): a recording's gap index as
// compact JSON and its access roles as a comma-separated list, so that both
// store, and fuzz, the same format.
package catalogrow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// gap is one gap in the gaps column: offsets in nanoseconds.
type gap struct {
	Start  int64  `json:"s"`
	End    int64  `json:"e"`
	Reason string `json:"r,omitempty"`
	Actor  string `json:"a,omitempty"`
	Note   string `json:"n,omitempty"`
}

// EncodeGaps renders a gap index for the gaps column ("[]" when empty).
func EncodeGaps(gs []retention.Gap) string {
	out := make([]gap, len(gs))
	for i, g := range gs {
		out[i] = gap{int64(g.Start), int64(g.End), g.Reason, g.Actor, g.Note}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// DecodeGaps parses the gaps column (nil for an empty index).
func DecodeGaps(s string) ([]retention.Gap, error) {
	if s == "[]" { // most recordings: no gap
		return nil, nil
	}
	var raw []gap
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	gs := make([]retention.Gap, len(raw))
	for i, g := range raw {
		gs[i] = retention.Gap{Start: time.Duration(g.Start), End: time.Duration(g.End), Reason: g.Reason, Actor: g.Actor, Note: g.Note}
	}
	return gs, nil
}

// EncodeRoles joins roles with commas (Validate admits only the closed list
// of roles, none holding a comma).
func EncodeRoles(rs []policy.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// DecodeRoles splits the access_roles column (nil when empty).
func DecodeRoles(s string) []policy.Role {
	if s == "" {
		return nil
	}
	var rs []policy.Role
	for _, r := range strings.Split(s, ",") {
		rs = append(rs, policy.Role(r))
	}
	return rs
}
