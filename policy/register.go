package policy

import (
	"fmt"
	"io"
	"strings"
)

// RegisterEntry is the record of processing activities that GDPR Art. 30(1)
// asks of the controller for call recording (R31), derived from a policy. It
// is the starting point of the register entry and of the DPIA (R32): the
// controller completes what a policy cannot know (its DPO, its processors).
type RegisterEntry struct {
	Activity       string            `json:"activity"`
	Controller     string            `json:"controller"`
	PolicyVersion  string            `json:"policy_version"`
	Purposes       []RegisterPurpose `json:"purposes"`
	DataSubjects   []string          `json:"data_subjects"`
	DataCategories []string          `json:"data_categories"`
	Excluded       []string          `json:"excluded"`
	Transfers      string            `json:"transfers_outside_eea"`
	Security       []string          `json:"security_measures"`
}

// RegisterPurpose is one purpose of the register entry.
type RegisterPurpose struct {
	Purpose     Purpose `json:"purpose"`
	Trigger     string  `json:"trigger"`
	LawfulBasis string  `json:"lawful_basis"`
	Retention   Period  `json:"retention"`
	Recipients  []Role  `json:"recipients"`
	Statute     string  `json:"statute,omitempty"`
}

// Register returns the Art. 30 register entry of p.
func (p *Policy) Register() RegisterEntry {
	controller := p.Controller
	if controller == "" {
		controller = "(to complete: the controller's name and contact, and its DPO's)"
	}
	e := RegisterEntry{
		Activity:      "recording of telephone and WebRTC calls with customers",
		Controller:    controller,
		PolicyVersion: p.Version(),
		DataSubjects:  []string{"callers (customers, prospects)", "employees (agents, supervisors)"},
		DataCategories: []string{
			"voice of the caller and of the agent (audio, one purpose per recording)",
			"call metadata: call id, pseudonymous agent id, date, time, duration, gaps (pauses, losses)",
			"keyed hash of the caller's number or customer id (no identifier in clear)",
			"notice receipts, consent and objection events (without audio)",
		},
		Excluded: []string{
			"private and internal calls, protected lines (R20)",
			"payment card data: recording paused while it is spoken (PCI DSS, R21)",
			"special categories of data (Art. 9): no free-text field (R24)",
		},
		Transfers: "none by default (the embedded store keeps everything in one local data directory)",
		Security: []string{
			"tamper-evident audit log of every decision, notice, access, deletion and hold (hash chain, RFC 6962 tree, signed checkpoints)",
			"access only through an audited gate, by the roles of the recording's purpose, with a reason",
			"SHA-256 of every recording checked before it is handed out",
			"optional encryption at rest to public keys (age X25519), with per-recording keys for crypto-shredding",
			"automatic deletion at the retention deadline, blocked only by a legal hold with a case and an approver",
		},
	}
	if len(p.Rules) == 0 {
		e.Activity += " (this policy records nothing)"
	}
	for _, r := range p.Rules {
		rr := rules[r.Purpose]
		ret := r.retention()
		roles := r.AccessRoles
		if len(roles) == 0 {
			roles = rr.AccessRoles
		}
		basis := rr.LawfulBasis
		if req, _ := requirements(p.Profile, r.Purpose); req.Has(NeedConsent) {
			basis = "6(1)(a) consent"
		}
		e.Purposes = append(e.Purposes, RegisterPurpose{Purpose: r.Purpose, Trigger: describeMode(r), LawfulBasis: basis,
			Retention: ret, Recipients: append([]Role(nil), roles...), Statute: strings.TrimSpace(r.Statute)})
	}
	return e
}

// WriteText writes e for a person to read.
func (e RegisterEntry) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Record of processing activities (GDPR Art. 30)\n\nactivity:   %s\ncontroller: %s\npolicy:     %s\n", e.Activity, e.Controller, e.PolicyVersion)
	for _, p := range e.Purposes {
		fmt.Fprintf(&b, "\npurpose %s\n  trigger:      %s\n  lawful basis: %s\n  retention:    %s (%s)\n  recipients:   %s\n", p.Purpose, p.Trigger, p.LawfulBasis, humanPeriod(p.Retention), p.Retention, rolesText(p.Recipients))
		if p.Statute != "" {
			fmt.Fprintf(&b, "  statute:      %s\n", p.Statute)
			if st, ok := LookupStatute(p.Statute); ok && st.FromSignature {
				fmt.Fprintf(&b, "                (retention runs from the contract's signature)\n")
			}
		}
	}
	list := func(title string, items []string) {
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, it := range items {
			fmt.Fprintf(&b, "  - %s\n", it)
		}
	}
	list("data subjects", e.DataSubjects)
	list("data categories", e.DataCategories)
	list("excluded", e.Excluded)
	fmt.Fprintf(&b, "\ntransfers outside the EEA: %s\n", e.Transfers)
	list("security measures", e.Security)
	_, err := io.WriteString(w, b.String())
	return err
}
