package policy

import (
	"fmt"
	"slices"
	"time"
)

// Purpose is the one declared purpose of a recording (R6). It is a closed
// list: any other value is refused. The purpose fixes the lawful basis, the
// maximum retention and the roles that may access the recording, and never
// changes after the recording is created (R7).
type Purpose string

// The closed list of purposes.
const (
	Training        Purpose = "training"         // training agents (R6, NS 57)
	Evaluation      Purpose = "evaluation"       // evaluating agents
	Quality         Purpose = "quality"          // quality of service
	ContractProof   Purpose = "contract-proof"   // proof of an oral contract, agent-triggered only (R4, R10)
	LegalObligation Purpose = "legal-obligation" // a statute requires recording (MiFID II Art. 16(7), ...)
)

// Purposes lists every valid purpose, in a fixed order.
var Purposes = []Purpose{Training, Evaluation, Quality, ContractProof, LegalObligation}

// Role is the role of a person who may access recordings (R25). Roles are
// granted per purpose: deny by default.
type Role string

// Roles used by the purpose table.
const (
	RoleTrainer    Role = "trainer"    // trainers (training)
	RoleEvaluator  Role = "evaluator"  // evaluators (evaluation)
	RoleQuality    Role = "quality"    // the quality team (quality)
	RoleSupervisor Role = "supervisor" // managers, within their attributions
	RoleContracts  Role = "contracts"  // persons specifically authorised for contract proof (R10)
	RoleCompliance Role = "compliance" // the compliance officer (AMF RG 312-40)
	RoleLegal      Role = "legal"      // lawyers: only recordings under legal hold (R25)
)

// Rules are what a purpose fixes.
type Rules struct {
	Purpose          Purpose
	LawfulBasis      string // GDPR Art. 6 basis, e.g. "6(1)(f) legitimate interests"
	DefaultRetention Period // used when a policy names none
	MaxRetention     Period // a configured retention above it is refused; zero means "per statute"
	AccessRoles      []Role // roles that may open such a recording
	AgentTriggerOnly bool   // recording may start only on an agent action (R4)
	NeedsStatute     bool   // the policy must name the statute (R1, R11)
	Erasable         bool   // subject erasure may delete it (R30)
}

var rules = map[Purpose]Rules{
	Training: {Purpose: Training, LawfulBasis: "6(1)(f) legitimate interests",
		DefaultRetention: Days(30), MaxRetention: Months(6),
		AccessRoles: []Role{RoleTrainer, RoleSupervisor}, Erasable: true},
	Evaluation: {Purpose: Evaluation, LawfulBasis: "6(1)(f) legitimate interests",
		DefaultRetention: Days(30), MaxRetention: Months(6),
		AccessRoles: []Role{RoleEvaluator, RoleSupervisor}, Erasable: true},
	Quality: {Purpose: Quality, LawfulBasis: "6(1)(f) legitimate interests",
		DefaultRetention: Days(30), MaxRetention: Months(6),
		AccessRoles: []Role{RoleQuality, RoleSupervisor}, Erasable: true},
	ContractProof: {Purpose: ContractProof, LawfulBasis: "6(1)(b) contract",
		DefaultRetention: Years(5), MaxRetention: Years(5),
		AccessRoles: []Role{RoleContracts}, AgentTriggerOnly: true, Erasable: true},
	LegalObligation: {Purpose: LegalObligation, LawfulBasis: "6(1)(c) legal obligation",
		DefaultRetention: Years(5), MaxRetention: Years(7),
		AccessRoles: []Role{RoleCompliance}, NeedsStatute: true, Erasable: false},
}

// Valid reports whether p is one of the closed list.
func (p Purpose) Valid() bool { _, ok := rules[p]; return ok }

// Rules returns what p fixes, or ErrUnknownPurpose.
func (p Purpose) Rules() (Rules, error) {
	r, ok := rules[p]
	if !ok {
		return Rules{}, fmt.Errorf("purpose %q: %w", string(p), ErrUnknownPurpose)
	}
	r.AccessRoles = slices.Clone(r.AccessRoles)
	return r, nil
}

// Allows reports whether role may access a recording made for p. Unknown
// purposes and roles are denied. RoleLegal is never allowed by purpose alone:
// the access gate grants it only on recordings under legal hold (R25).
func (p Purpose) Allows(role Role) bool {
	r, ok := rules[p]
	return ok && slices.Contains(r.AccessRoles, role)
}

// Period is a calendar retention period (years, months, days), written in
// JSON as an ISO 8601 duration such as "P30D", "P6M" or "P5Y". Calendar
// arithmetic is used so that "6 months" means six months from collection.
type Period struct {
	Years, Months, Days int
}

// Days, Months and Years build periods.
func Days(n int) Period   { return Period{Days: n} }
func Months(n int) Period { return Period{Months: n} }
func Years(n int) Period  { return Period{Years: n} }

// IsZero reports whether p is empty.
func (p Period) IsZero() bool { return p == Period{} }

// AddTo returns t moved forward by p (time.AddDate semantics).
func (p Period) AddTo(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }

// String renders p as ISO 8601 ("P30D", "P6M", "P1Y2M3D"; "P0D" when zero).
func (p Period) String() string {
	if p.IsZero() {
		return "P0D"
	}
	s := "P"
	if p.Years != 0 {
		s += fmt.Sprintf("%dY", p.Years)
	}
	if p.Months != 0 {
		s += fmt.Sprintf("%dM", p.Months)
	}
	if p.Days != 0 {
		s += fmt.Sprintf("%dD", p.Days)
	}
	return s
}

// Exceeds reports whether p ends after limit for some start date: "P183D"
// exceeds "P6M" because six months can be 181 days. Every start date of a
// four-year cycle is tried, so the answer holds whatever the start date.
func (p Period) Exceeds(limit Period) bool {
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 4*366; d++ {
		t := start.AddDate(0, 0, d)
		if p.AddTo(t).After(limit.AddTo(t)) {
			return true
		}
	}
	return false
}
