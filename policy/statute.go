package policy

import (
	"slices"
	"strings"
	"time"
)

// Statute is a law that requires recording calls, from a closed list (R1,
// R11, R12). A legal-obligation rule names one by its exact ID; any other
// text is refused, so that "systematic recording because a law says so" is
// always a law this library knows the figures of.
//
// Each statute fixes its retention: at least MinRetention (recordings it
// requires may not go sooner, R11, R12) and at most MaxRetention, or up to
// ExtendedRetention when the competent authority asked for it (the rule
// then names the request in "authority_request").
type Statute struct {
	ID      string  // what a rule's "statute" field says, e.g. "MiFID II Art. 16(7)"
	Title   string  // what it covers, for summaries and the register
	Profile Profile // the jurisdiction profile of the calls it covers
	// MinRetention and MaxRetention bound the rule's retention; the
	// default is MinRetention.
	MinRetention, MaxRetention Period
	// ExtendedRetention, when not zero, is the longest retention the
	// competent authority may ask for (MiFID II: 7 years).
	ExtendedRetention Period
	// FromSignature: the retention runs from the contract's signature, not
	// from the call (FR insurance, R12). The decision's deadline is then a
	// first estimate, moved by Decision.Signed once the date is known.
	FromSignature bool
}

// The statutes of regulation.md whose retention figures are known. The
// emergency services' statutes are not listed: their retention is "per
// statute" and no figure was checked.
var statutes = []Statute{
	{ID: "MiFID II Art. 16(7)", Profile: ProfileMiFID,
		Title:        "investment services: calls on own-account dealing and client orders (Dir. 2014/65 Art. 16(7), Del. Reg. 2017/565 Art. 76)",
		MinRetention: Years(5), MaxRetention: Years(5), ExtendedRetention: Years(7)},
	{ID: "RG AMF 312-39", Profile: ProfileMiFID,
		Title:        "France, investment services (CMF L.533-10 III; 7 years in exceptional circumstances)",
		MinRetention: Years(5), MaxRetention: Years(5), ExtendedRetention: Years(7)},
	{ID: "FCA SYSC 10A", Profile: ProfileUK,
		Title:        "UK, investment services (SYSC 10A.1.15: 7 years if the FCA asks)",
		MinRetention: Years(5), MaxRetention: Years(5), ExtendedRetention: Years(7)},
	{ID: "Code des assurances L.112-2-2", Profile: ProfileFRInsurance,
		Title:        "France, insurance telephone canvassing (R.112-7, décret 2022-34): 2 years from the contract's signature",
		MinRetention: Years(2), MaxRetention: Years(2), FromSignature: true},
}

// Statutes returns the closed list of statutes a legal-obligation rule may
// name.
func Statutes() []Statute { return slices.Clone(statutes) }

// LookupStatute returns the statute whose ID is id (spaces around it
// ignored, case sensitive).
func LookupStatute(id string) (Statute, bool) {
	id = strings.TrimSpace(id)
	for _, s := range statutes {
		if s.ID == id {
			return s, true
		}
	}
	return Statute{}, false
}

func statuteIDs() string {
	ids := make([]string, len(statutes))
	for i, s := range statutes {
		ids[i] = "\"" + s.ID + "\""
	}
	return strings.Join(ids, ", ")
}

// InsuranceDeadline returns when a recording made under the FR insurance
// canvassing rule (Code des assurances L.112-2-2, R12) must be deleted: 2
// years after the contract's signature, in UTC.
func InsuranceDeadline(signed time.Time) time.Time { return Years(2).AddTo(signed.UTC()) }
