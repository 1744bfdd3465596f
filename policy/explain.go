package policy

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// String explains d in one line, e.g.
// "record quality (sampled, draw 0.0412) after notice; objection: stop-and-purge; delete by 2026-12-28".
func (d Decision) String() string {
	var b strings.Builder
	switch {
	case d.Record:
		fmt.Fprintf(&b, "record %s (%s", d.Purpose, d.Reason)
	case d.Candidate:
		fmt.Fprintf(&b, "not recording (%s", d.Reason)
	default:
		fmt.Fprintf(&b, "do not record (%s", d.Reason)
	}
	if d.Mode == ModeSampling || d.Mode == ModeGrid {
		fmt.Fprintf(&b, ", draw %.4f", DrawFraction(d.Draw))
	}
	b.WriteString(")")
	if d.Candidate {
		b.WriteString("; agent or supervisor may start it")
	}
	if d.Record {
		if req := d.Requires.String(); req != "" {
			b.WriteString(" after " + req)
		}
		fmt.Fprintf(&b, "; objection: %s; delete by %s", d.OnObjection, d.Deadline.Format(time.DateOnly))
	}
	if d.Purge {
		b.WriteString("; purge captured audio")
	}
	return b.String()
}

// String renders a requirement set ("notice", "notice+consent").
func (r Requirement) String() string {
	var s []string
	if r.Has(NeedNotice) {
		s = append(s, "notice")
	}
	if r.Has(NeedConsent) {
		s = append(s, "consent")
	}
	return strings.Join(s, "+")
}

// AuditEvent returns the audit event recording decision d for a call: the
// policy version, the rule and the draw let an auditor holding the key
// re-check it (R3). Attrs, in order: record, mode, profile, draw (16 hex
// digits), requires, on_objection, deadline, then when known agent, rule
// (its index in the policy's rules), rate (sampling), cap ("MAX/PER"), grid
// ("K/PER") and statute.
func (d Decision) AuditEvent(callID string, at time.Time) audit.Event {
	ev := audit.Event{
		Kind:          audit.KindPolicyDecision,
		Time:          at,
		CallID:        callID,
		Actor:         "policy",
		Purpose:       string(d.Purpose),
		PolicyVersion: d.PolicyVersion,
		Reason:        string(d.Reason),
		Attrs: []audit.Attr{
			{Key: "record", Value: strconv.FormatBool(d.Record)},
			{Key: "mode", Value: string(d.Mode)},
			{Key: "profile", Value: string(d.Profile)},
			{Key: "draw", Value: fmt.Sprintf("%016x", d.Draw)},
			{Key: "requires", Value: d.Requires.String()},
			{Key: "on_objection", Value: string(d.OnObjection)},
			{Key: "deadline", Value: deadline(d)},
		},
	}
	add := func(k, v string) { ev.Attrs = append(ev.Attrs, audit.Attr{Key: k, Value: v}) }
	if d.Agent != "" {
		add("agent", d.Agent)
	}
	if d.Rule > 0 {
		add("rule", strconv.Itoa(d.Rule-1))
	}
	if d.Mode == ModeSampling && d.Rate > 0 {
		add("rate", strconv.FormatFloat(d.Rate, 'g', -1, 64))
	}
	if d.Cap.Max > 0 {
		add("cap", strconv.Itoa(d.Cap.Max)+"/"+string(d.Cap.Per))
	}
	if d.Grid.PerAgent > 0 {
		add("grid", strconv.Itoa(d.Grid.PerAgent)+"/"+string(d.Grid.Per))
	}
	if d.Statute != "" {
		add("statute", d.Statute)
	}
	return ev
}

func deadline(d Decision) string {
	if d.Deadline.IsZero() {
		return ""
	}
	return d.Deadline.UTC().Format(time.RFC3339)
}

// Notice lists what the caller must be told before recording for purpose p
// (R14, R15; Art. 13 GDPR), in the order a prompt should say it.
func Notice(p Purpose, profile Profile, retention Period) []string {
	r := rules[p]
	if retention.IsZero() {
		retention = r.DefaultRetention
	}
	items := []string{
		"this call may be recorded",
		"purpose: " + string(p),
		"controller: the organisation's name and contact",
		"retention: " + humanPeriod(retention),
		"recipients: " + rolesText(r.AccessRoles),
		"rights: access, rectification, objection, complaint to the supervisory authority",
		"where to read the full notice",
	}
	_, obj := requirements(profile, p)
	switch {
	case obj == ObjectionNotApplicable:
		items = append(items, "recording is required by law ("+string(p)+"): objecting does not stop it")
	case obj == ObjectionEndCall:
		items = append(items, "if you refuse the recording, the call cannot continue")
	default:
		items = append(items, "how to object now (a key or saying so): recording stops and what was captured is deleted")
	}
	if req, _ := requirements(profile, p); req.Has(NeedConsent) {
		items = append(items, "nothing is recorded unless you agree (press the consent key or say yes)")
	}
	return items
}

func rolesText(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func humanPeriod(p Period) string {
	var s []string
	plural := func(n int, unit string) {
		if n == 1 {
			s = append(s, "1 "+unit)
		} else if n > 1 {
			s = append(s, strconv.Itoa(n)+" "+unit+"s")
		}
	}
	plural(p.Years, "year")
	plural(p.Months, "month")
	plural(p.Days, "day")
	if len(s) == 0 {
		return "0 days"
	}
	return strings.Join(s, " ")
}

// Summary writes a human summary of p for the controller and its DPIA (R32):
// what is recorded, retention per purpose, what the caller is told, who may
// listen.
func (p *Policy) Summary(w io.Writer) error {
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	profile := string(p.Profile)
	if profile == "" {
		profile = "strictest (caller location unknown: opt-in consent, R33)"
	}
	fmt.Fprintf(w, "policy %s, version %s\njurisdiction profile: %s\n", name, p.Version(), profile)
	if len(p.Rules) == 0 {
		_, err := fmt.Fprintln(w, "records nothing (privacy by default, R32)")
		return err
	}
	for i, r := range p.Rules {
		rr := rules[r.Purpose]
		ret := r.retention()
		roles := r.AccessRoles
		if len(roles) == 0 {
			roles = rr.AccessRoles
		}
		fmt.Fprintf(w, "\nrule %d: %s\n", i+1, r.Purpose)
		fmt.Fprintf(w, "  records: %s\n", describeMode(r))
		fmt.Fprintf(w, "  lawful basis: %s\n", rr.LawfulBasis)
		fmt.Fprintf(w, "  retention: %s (%s; maximum %s)\n", humanPeriod(ret), ret, r.maxRetention())
		if st, ok := LookupStatute(r.Statute); ok {
			fmt.Fprintf(w, "  statute: %s (%s)\n", st.ID, st.Title)
			if st.FromSignature {
				fmt.Fprintf(w, "  retention runs from the contract's signature (R12)\n")
			}
			if a := strings.TrimSpace(r.AuthorityRequest); a != "" {
				fmt.Fprintf(w, "  extended on the competent authority's request: %s\n", a)
			}
		}
		fmt.Fprintf(w, "  who may listen: %s\n", rolesText(roles))
		req, obj := requirements(p.Profile, r.Purpose)
		fmt.Fprintf(w, "  before recording: %s; on objection: %s\n", req, obj)
		fmt.Fprintf(w, "  the caller is told:\n")
		for _, it := range Notice(r.Purpose, p.Profile, ret) {
			fmt.Fprintf(w, "    - %s\n", it)
		}
	}
	fmt.Fprintln(w, "\nnever recorded: private calls, internal calls, protected lines (R20)")
	if len(p.ProtectedLines) > 0 {
		fmt.Fprintf(w, "protected lines: %s\n", strings.Join(p.ProtectedLines, ", "))
	}
	_, err := fmt.Fprintln(w, "card data: pause recording while it is spoken (R21)")
	return err
}

func agentCap(r Rule) string {
	if r.Cap == nil {
		return ""
	}
	return fmt.Sprintf(", at most %d per agent per %s", r.Cap.Max, r.Cap.Per)
}

func describeMode(r Rule) string {
	switch r.Mode {
	case ModeOff:
		return "nothing (off)"
	case ModeAgent:
		return "calls the agent chooses to record (start/stop/start again)" + agentCap(r)
	case ModeSupervisor:
		return "calls a supervisor asks to record, on demand" + agentCap(r)
	case ModeSampling:
		s := fmt.Sprintf("a random %.4g%% of calls (keyed draw, reproducible by an auditor)", r.Rate*100)
		if r.Cap != nil {
			s += fmt.Sprintf(", at most %d per %s", r.Cap.Max, r.Cap.Per)
		}
		return s
	case ModeGrid:
		return fmt.Sprintf("%d calls per agent per %s, spread over the %s", r.Grid.PerAgent, r.Grid.Per, r.Grid.Per)
	case ModeStatute:
		return "every in-scope call, as required by " + strings.TrimSpace(r.Statute)
	}
	return string(r.Mode)
}
