package retention_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// TestNewRetentionRules: the catalogue entry takes the decision's lawful
// basis and deadline, and refuses a deadline beyond the purpose's maximum
// (R9-R11) or before a statute's minimum (R11), naming the rule.
func TestNewRetentionRules(t *testing.T) {
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ok := func(e retention.Entry) retention.Recording {
		t.Helper()
		r, err := retention.New(e)
		if err != nil {
			t.Fatalf("New(%+v) = %v", e, err)
		}
		return r
	}
	refused := func(e retention.Entry, rule string) {
		t.Helper()
		_, err := retention.New(e)
		if !errors.Is(err, retention.ErrInvalid) || !strings.Contains(err.Error(), rule) {
			t.Errorf("New(%+v) = %v, want ErrInvalid naming %s", e, err, rule)
		}
	}
	// R8: a German consent-based recording keeps its basis.
	r := ok(retention.Entry{ID: "de", Purpose: policy.Quality, Created: created, LawfulBasis: "6(1)(a) consent"})
	if r.LawfulBasis != "6(1)(a) consent" {
		t.Errorf("lawful basis %q, want the decision's", r.LawfulBasis)
	}
	refused(retention.Entry{ID: "x", Purpose: policy.LegalObligation, Created: created, LawfulBasis: "6(1)(f) legitimate interests"}, "R8")
	// The decision's deadline is kept when within the maximum.
	d := created.AddDate(0, 0, 30)
	if r := ok(retention.Entry{ID: "q", Purpose: policy.Quality, Created: created, Deadline: d}); !r.Deadline.Equal(d) {
		t.Errorf("deadline %v, want %v", r.Deadline, d)
	}
	ok(retention.Entry{ID: "q6", Purpose: policy.Quality, Created: created, Deadline: created.AddDate(0, 6, 0)})
	refused(retention.Entry{ID: "q50", Purpose: policy.Quality, Created: created, Deadline: created.AddDate(50, 0, 0)}, "R9")
	refused(retention.Entry{ID: "q6+", Purpose: policy.Quality, Created: created, Deadline: created.AddDate(0, 6, 0).Add(time.Second)}, "R9")
	refused(retention.Entry{ID: "cp", Purpose: policy.ContractProof, Created: created, Deadline: created.AddDate(5, 0, 1)}, "R10")
	refused(retention.Entry{ID: "lo", Purpose: policy.LegalObligation, Created: created, Deadline: created.AddDate(50, 0, 0)}, "R11")
	// R11: MiFID, 5 years minimum; a 1-day deadline is refused.
	five := created.AddDate(5, 0, 0)
	refused(retention.Entry{ID: "mifid", Purpose: policy.LegalObligation, Created: created,
		Deadline: created.AddDate(0, 0, 1), KeepUntil: five}, "R11")
	m := ok(retention.Entry{ID: "mifid", Purpose: policy.LegalObligation, Created: created, Deadline: five, KeepUntil: five})
	if !m.KeepUntil.Equal(five) {
		t.Errorf("keep until %v, want %v", m.KeepUntil, five)
	}
	// A minimum on an erasable purpose makes no sense.
	refused(retention.Entry{ID: "qk", Purpose: policy.Quality, Created: created, KeepUntil: created.AddDate(0, 1, 0)}, "R11")
	// R25: the rule's roles narrow the purpose's.
	if r := ok(retention.Entry{ID: "n", Purpose: policy.Quality, Created: created, AccessRoles: []policy.Role{policy.RoleQuality}}); len(r.AccessRoles) != 1 {
		t.Errorf("access roles %v", r.AccessRoles)
	}
	refused(retention.Entry{ID: "w", Purpose: policy.Quality, Created: created, AccessRoles: []policy.Role{policy.RoleLegal}}, "R25")
}

// TestAddRefusesFiftyYears: Catalog.Add checks the deadline itself, not
// only New (a host may build a Recording by hand).
func TestAddRefusesFiftyYears(t *testing.T) {
	r, err := retention.New(retention.Entry{ID: "a", Purpose: policy.Quality, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.Deadline = r.Created.AddDate(50, 0, 0)
	err = retention.NewMemCatalog().Add(t.Context(), r)
	if !errors.Is(err, retention.ErrInvalid) || !strings.Contains(err.Error(), "R9") {
		t.Errorf("Add of a 50-year deadline = %v, want ErrInvalid (R9)", err)
	}
}
