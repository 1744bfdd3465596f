package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Policy is a recording policy: which calls may be recorded, why, and how.
// The zero Policy records nothing (privacy by default, R32).
//
// A Policy is a list of rules, each for one purpose. Automatic rules
// (sampling, grid, statute) are evaluated in order when the call begins and
// the first that selects the call gives the recording its purpose; manual
// rules (agent, supervisor) make the call a candidate that an agent or a
// supervisor may start later.
type Policy struct {
	Name    string  `json:"name,omitempty"`
	Profile Profile `json:"profile,omitempty"` // jurisdiction of calls the host does not label; empty: strictest (R33)
	Rules   []Rule  `json:"rules,omitempty"`
	// ProtectedLines are lines or agent ids never recorded (staff
	// representatives, R20). Private and internal calls are always excluded.
	ProtectedLines []string `json:"protected_lines,omitempty"`
	// TimeZone is the IANA zone whose calendar days, weeks and months caps
	// and grids count in (e.g. "Europe/Paris"); empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Controller names the data controller for the notice and the Art. 30
	// register entry (R14, R31), e.g. "Example SAS, dpo@example.com".
	Controller string `json:"controller,omitempty"`
}

// Rule is one way of recording for one purpose.
type Rule struct {
	Purpose Purpose `json:"purpose"`
	Mode    Mode    `json:"mode"`
	// Rate is the share of calls sampled for ModeSampling: above 0, at most
	// 0.5 without a statute, and above 0.2 only with a Cap (R1).
	Rate float64 `json:"rate,omitempty"`
	// Cap limits recordings per calendar period. For ModeSampling it counts
	// the rule's recordings (required above a rate of 0.2); for ModeAgent
	// and ModeSupervisor it counts each agent's recordings (optional): once
	// reached, a start is refused with ReasonAgentCapReached.
	Cap *Cap `json:"cap,omitempty"`
	// Grid is K calls per agent per period (ModeGrid).
	Grid *Grid `json:"grid,omitempty"`
	// Statute names the law that requires recording (LegalObligation), by
	// the ID of one of Statutes(), e.g. "MiFID II Art. 16(7)". Any other
	// text is refused (R1).
	Statute string `json:"statute,omitempty"`
	// Retention of recordings; zero means the purpose's default (the
	// statute's minimum for a statute rule). Above the purpose's or the
	// statute's maximum, or below the statute's minimum, is refused.
	Retention Period `json:"retention,omitzero"`
	// AuthorityRequest names the competent authority's request (e.g. "AMF
	// letter 2026-117") that allows a statute rule to keep recordings up
	// to the statute's extended retention (MiFID II: 7 years instead of 5,
	// R11). It is refused on any other rule, and on a retention the
	// statute allows without a request.
	AuthorityRequest string `json:"authority_request,omitempty"`
	// AccessRoles narrows the purpose's roles; it can never widen them.
	AccessRoles []Role `json:"access_roles,omitempty"`
}

// Cap limits a sampling rule to Max recordings per calendar period.
type Cap struct {
	Max int    `json:"max"`
	Per Window `json:"per"`
}

// Grid records PerAgent calls per agent per calendar period, spread over it.
// PerAgent is at most MaxGridPerAgent of the period (4 a day, 10 a week, 20
// a month), and at most half of ExpectedCallsPerAgent when that is known:
// more would record most of an agent's calls (R1).
type Grid struct {
	PerAgent int    `json:"per_agent"`
	Per      Window `json:"per"`
	// ExpectedCallsPerAgent, when known, lets the check refuse a grid that
	// would record every call of an agent (R1).
	ExpectedCallsPerAgent int `json:"expected_calls_per_agent,omitempty"`
}

// Window is a calendar counting period for caps and grids.
type Window string

// Windows (UTC calendar).
const (
	Day   Window = "day"
	Week  Window = "week" // ISO week, Monday to Sunday
	Month Window = "month"
)

// MaxGridPerAgent is the largest grid a period holds without becoming
// systematic (R1): an agent takes dozens of calls a day, so 4 a day, 10 a
// week or 20 a month stay a small, occasional share ("ponctuel").
func MaxGridPerAgent(w Window) int {
	switch w {
	case Day:
		return 4
	case Week:
		return 10
	case Month:
		return 20
	}
	return 0
}

// Sampling limits without a statute (R1): a rate above MaxSamplingRate, or
// rates adding up above it, record most calls (quasi-systematic); a rate
// above CapRequiredAbove needs a cap per period.
const (
	MaxSamplingRate  = 0.5
	CapRequiredAbove = 0.2
)

// Load reads a policy from JSON, rejecting unknown fields, trailing data and
// unlawful configurations. Errors are *ConfigError naming the field.
func Load(r io.Reader) (*Policy, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("policy: read: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, &ConfigError{Field: "(document)", Msg: "larger than 1 MiB", Err: errors.New("too large")}
	}
	return Parse(data)
}

// Parse is Load on a byte slice.
func Parse(data []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, jsonError(err)
	}
	if dec.More() {
		return nil, &ConfigError{Field: "(document)", Msg: "trailing data after the policy object", Err: errors.New("trailing data")}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

var unknownField = regexp.MustCompile(`unknown field "([^"]*)"`)

func jsonError(err error) error {
	ce := &ConfigError{Field: "(document)", Msg: err.Error(), Err: err}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var pe *periodError
	switch {
	case errors.As(err, &pe):
		ce.Field = "rules[].retention" // the only period field
		ce.Rule = "R9"
		ce.Msg = pe.Error()
	case errors.As(err, &te):
		if te.Field != "" {
			ce.Field = te.Field
		}
		ce.Msg = fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	case errors.As(err, &se):
		ce.Msg = fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)
	default:
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			ce.Field, ce.Msg = m[1], "unknown field"
			if m[1] == "" {
				ce.Field = "(field with an empty name)"
			}
		}
	}
	return ce
}

// Validate checks p against the rules it must obey and returns the first
// problem as a *ConfigError naming the field and the rule. A nil error means
// the policy may be used.
func (p *Policy) Validate() error {
	switch p.Profile {
	case ProfileUnknown, ProfileFR, ProfileDE, ProfileUSAllParty, ProfileUSOneParty, ProfileUK, ProfileMiFID, ProfileFRInsurance:
	default:
		return &ConfigError{Field: "profile", Rule: "R33", Msg: fmt.Sprintf("unknown profile %q", p.Profile), Err: ErrRefused}
	}
	if _, err := p.location(); err != nil {
		return &ConfigError{Field: "time_zone", Msg: fmt.Sprintf("unknown time zone %q: want an IANA name such as \"Europe/Paris\"", p.TimeZone), Err: err}
	}
	sumRates, sumFree := 0.0, 0.0
	for i := range p.Rules {
		if err := p.Rules[i].validate(i, &sumRates, &sumFree); err != nil {
			return err
		}
	}
	if sumFree > MaxSamplingRate {
		return refuse("rules", "R1", "sampling rates add up to %.4g: above %v they record most calls (quasi-systematic) without a statute", sumFree, MaxSamplingRate)
	}
	if sumRates >= 1 {
		return refuse("rules", "R1", "sampling rates add up to %.2f: together they record every call (systematic)", sumRates)
	}
	return nil
}

// validate checks rule i, adding its sampling rate to sumRates (and to
// sumFree when no statute requires it).
func (r *Rule) validate(i int, sumRates, sumFree *float64) error {
	f := func(name string) string { return fmt.Sprintf("rules[%d].%s", i, name) }
	rules, ok := rules[r.Purpose]
	if !ok {
		return &ConfigError{Field: f("purpose"), Rule: "R6", Msg: fmt.Sprintf("unknown purpose %q: one of training, evaluation, quality, contract-proof, legal-obligation", r.Purpose), Err: ErrUnknownPurpose}
	}
	text := strings.TrimSpace(r.Statute)
	hasStatute := text != ""
	if rules.NeedsStatute && !hasStatute {
		return refuse(f("statute"), "R1", "purpose %s must name the statute that requires recording, one of %s", r.Purpose, statuteIDs())
	}
	if hasStatute && r.Purpose != LegalObligation {
		return refuse(f("statute"), "R6", "a statute is only named by a legal-obligation rule, not %s", r.Purpose)
	}
	st, known := LookupStatute(text)
	if hasStatute && !known {
		return refuse(f("statute"), "R1", "unknown statute %q: recording required by law must name one of %s", r.Statute, statuteIDs())
	}
	if rules.AgentTriggerOnly && r.Mode != ModeAgent {
		return refuse(f("mode"), "R4", "%s recording may only start on an agent action (mode \"agent\"), not %q", r.Purpose, r.Mode)
	}
	switch r.Mode {
	case ModeOff:
	case ModeAgent, ModeSupervisor:
		if r.Cap != nil {
			if err := r.Cap.validate(f); err != nil {
				return err
			}
		}
	case ModeSampling:
		if math.IsNaN(r.Rate) || r.Rate <= 0 {
			return refuse(f("rate"), "R2", "sampling rate must be above 0, got %v", r.Rate)
		}
		if r.Rate >= 1 {
			if r.Purpose == LegalObligation {
				return refuse(f("rate"), "R1", "rate %v records every call: a statute's recording uses mode \"statute\"", r.Rate)
			}
			return refuse(f("rate"), "R1", "rate %v records every call: systematic recording is only lawful when a statute requires it (CNIL: \"ponctuel et aléatoire\"; sanctions S1-S5)", r.Rate)
		}
		*sumRates += r.Rate
		if !hasStatute {
			if r.Rate > MaxSamplingRate {
				return refuse(f("rate"), "R1", "rate %v records most calls (quasi-systematic): without a statute a sampling rate is at most %v (CNIL: \"ponctuel et aléatoire\")", r.Rate, MaxSamplingRate)
			}
			if r.Rate > CapRequiredAbove && r.Cap == nil {
				return refuse(f("cap"), "R1", "rate %v is above %v: it needs a cap of recordings per day, week or month ({\"max\": N, \"per\": \"month\"}) so that a busy period is not recorded wholesale", r.Rate, CapRequiredAbove)
			}
			*sumFree += r.Rate
		}
		if r.Cap != nil {
			if err := r.Cap.validate(f); err != nil {
				return err
			}
		}
	case ModeGrid:
		if r.Grid == nil || r.Grid.PerAgent <= 0 {
			return refuse(f("grid.per_agent"), "R2", "a grid needs per_agent >= 1")
		}
		if !r.Grid.Per.valid() {
			return refuse(f("grid.per"), "R2", "unknown period %q: day, week or month", r.Grid.Per)
		}
		if r.Grid.ExpectedCallsPerAgent < 0 {
			return refuse(f("grid.expected_calls_per_agent"), "R2", "expected calls per agent must not be negative, got %d", r.Grid.ExpectedCallsPerAgent)
		}
		if limit := MaxGridPerAgent(r.Grid.Per); r.Grid.PerAgent > limit {
			return refuse(f("grid.per_agent"), "R1", "%d calls per agent per %s is more than a %s holds without becoming systematic: at most %d (4 a day, 10 a week, 20 a month)", r.Grid.PerAgent, r.Grid.Per, r.Grid.Per, limit)
		}
		if e := r.Grid.ExpectedCallsPerAgent; e > 0 && 2*r.Grid.PerAgent > e {
			return refuse(f("grid.per_agent"), "R1", "%d per agent of %d expected calls records most calls of an agent (quasi-systematic): at most half, %d", r.Grid.PerAgent, e, e/2)
		}
	case ModeStatute:
		if r.Purpose != LegalObligation {
			return refuse(f("mode"), "R1", "mode \"statute\" records every in-scope call: only for purpose legal-obligation naming its statute, not %s", r.Purpose)
		}
	case "always", "all", "systematic", "permanent":
		return refuse(f("mode"), "R1", "mode %q records every call: systematic recording is only lawful when a statute requires it (use purpose legal-obligation, mode \"statute\", and name the statute)", r.Mode)
	default:
		return refuse(f("mode"), "R2", "unknown mode %q: off, agent, supervisor, sampling, grid or statute", r.Mode)
	}
	if r.Mode != ModeSampling && r.Rate != 0 {
		return refuse(f("rate"), "R2", "rate only applies to mode sampling")
	}
	if r.Cap != nil && r.Mode != ModeSampling && r.Mode != ModeAgent && r.Mode != ModeSupervisor {
		return refuse(f("cap"), "R2", "cap only applies to modes sampling, agent and supervisor")
	}
	if r.Mode != ModeGrid && r.Grid != nil {
		return refuse(f("grid"), "R2", "grid only applies to mode grid")
	}
	if r.Retention.Years < 0 || r.Retention.Months < 0 || r.Retention.Days < 0 {
		return refuse(f("retention"), "R9", "negative retention %s", r.Retention)
	}
	if !r.Retention.IsZero() && r.Retention.Exceeds(rules.MaxRetention) {
		return refuse(f("retention"), retentionRule(r.Purpose, st), "retention %s exceeds the maximum %s for %s", r.Retention, rules.MaxRetention, r.Purpose)
	}
	if known {
		if err := r.validateStatuteRetention(f, st); err != nil {
			return err
		}
	} else if r.AuthorityRequest != "" {
		return refuse(f("authority_request"), "R11", "an authority's request only extends the retention of a statute rule")
	}
	for j, role := range r.AccessRoles {
		if !r.Purpose.Allows(role) {
			return refuse(fmt.Sprintf("rules[%d].access_roles[%d]", i, j), "R25", "role %q may not access %s recordings (allowed: %v)", role, r.Purpose, rules.AccessRoles)
		}
	}
	return nil
}

func (c *Cap) validate(f func(string) string) error {
	if c.Max <= 0 {
		return refuse(f("cap.max"), "R2", "cap must be at least 1, got %d", c.Max)
	}
	if !c.Per.valid() {
		return refuse(f("cap.per"), "R2", "unknown period %q: day, week or month", c.Per)
	}
	return nil
}

// validateStatuteRetention checks the retention of a rule naming st
// against the statute's minimum, maximum and extended maximum.
func (r *Rule) validateStatuteRetention(f func(string) string, st Statute) error {
	rule := retentionRule(LegalObligation, st)
	ret := r.Retention
	if ret.IsZero() {
		ret = st.MinRetention
	}
	if st.MinRetention.Exceeds(ret) {
		return refuse(f("retention"), rule, "retention %s is shorter than the %s the statute %q requires: its recordings may not be deleted sooner", ret, st.MinRetention, st.ID)
	}
	req := strings.TrimSpace(r.AuthorityRequest)
	if r.AuthorityRequest != "" {
		switch {
		case st.ExtendedRetention.IsZero():
			return refuse(f("authority_request"), rule, "the statute %q has no extended retention on an authority's request", st.ID)
		case req == "" || len(req) > 256 || strings.ContainsFunc(req, unicode.IsControl):
			return refuse(f("authority_request"), rule, "the authority's request must be named in 1 to 256 printable characters (its reference, e.g. \"AMF letter 2026-117\")")
		case !ret.Exceeds(st.MaxRetention):
			return refuse(f("authority_request"), rule, "retention %s is within the statute's %s: an authority's request only applies to a longer retention (up to %s)", ret, st.MaxRetention, st.ExtendedRetention)
		case ret.Exceeds(st.ExtendedRetention):
			return refuse(f("retention"), rule, "retention %s exceeds %s, the most the statute %q allows even on an authority's request", ret, st.ExtendedRetention, st.ID)
		}
		return nil
	}
	if ret.Exceeds(st.MaxRetention) {
		if !st.ExtendedRetention.IsZero() && !ret.Exceeds(st.ExtendedRetention) {
			return refuse(f("retention"), rule, "retention %s exceeds the %s of the statute %q: up to %s only on the competent authority's request, named in \"authority_request\"", ret, st.MaxRetention, st.ID, st.ExtendedRetention)
		}
		return refuse(f("retention"), rule, "retention %s exceeds the maximum %s of the statute %q", ret, st.MaxRetention, st.ID)
	}
	return nil
}

// retention returns the rule's retention: its own, else the statute's
// minimum, else the purpose's default.
func (r *Rule) retention() Period {
	if !r.Retention.IsZero() {
		return r.Retention
	}
	if st, ok := LookupStatute(r.Statute); ok && r.Purpose == LegalObligation {
		return st.MinRetention
	}
	return rules[r.Purpose].DefaultRetention
}

// maxRetention returns the most the rule may keep recordings.
func (r *Rule) maxRetention() Period {
	if st, ok := LookupStatute(r.Statute); ok && r.Purpose == LegalObligation {
		if strings.TrimSpace(r.AuthorityRequest) != "" {
			return st.ExtendedRetention
		}
		return st.MaxRetention
	}
	return rules[r.Purpose].MaxRetention
}

func retentionRule(p Purpose, st Statute) string {
	switch {
	case p == ContractProof:
		return "R10"
	case st.FromSignature:
		return "R12"
	case p == LegalObligation:
		return "R11"
	}
	return "R9"
}

func (w Window) valid() bool { return w == Day || w == Week || w == Month }

// location returns the policy's time zone (UTC when empty).
func (p *Policy) location() (*time.Location, error) {
	if p.TimeZone == "" || p.TimeZone == "UTC" {
		return time.UTC, nil
	}
	if strings.ContainsAny(p.TimeZone, "\x00") || strings.HasPrefix(p.TimeZone, "/") || strings.Contains(p.TimeZone, "..") {
		return nil, errors.New("not an IANA zone name")
	}
	return time.LoadLocation(p.TimeZone)
}

// Version returns the policy version: a hash of its canonical configuration
// ("pv1:" and 32 hex digits). Two policies with the same meaning and the same
// field values have the same version; any change gives a new one.
func (p *Policy) Version() string {
	c := *p
	c.Rules = append([]Rule(nil), p.Rules...)
	for i := range c.Rules {
		if c.Rules[i].Retention.IsZero() {
			c.Rules[i].Retention = c.Rules[i].retention()
		}
		c.Rules[i].Statute = strings.TrimSpace(c.Rules[i].Statute)
		c.Rules[i].AuthorityRequest = strings.TrimSpace(c.Rules[i].AuthorityRequest)
	}
	b, _ := json.Marshal(c) // struct fields only: a fixed order, no maps
	sum := sha256.Sum256(append([]byte("consentrec policy v1\x00"), b...))
	return "pv1:" + hex.EncodeToString(sum[:16])
}

// MarshalText renders p as an ISO 8601 duration.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

type periodError struct{ s string }

func (e *periodError) Error() string {
	return fmt.Sprintf("invalid retention %q: want an ISO 8601 period such as \"P30D\", \"P6M\" or \"P5Y\"", e.s)
}

// UnmarshalText parses an ISO 8601 period of years, months, weeks and days
// ("P30D", "P6M", "P1Y2M", "P4W"). Time components are refused: retention
// is counted in calendar days.
func (p *Period) UnmarshalText(b []byte) error {
	s := string(b)
	if len(s) < 3 || s[0] != 'P' {
		return &periodError{s}
	}
	var out Period
	rest := s[1:]
	seen := ""
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || i > 6 {
			return &periodError{s}
		}
		n, _ := strconv.Atoi(rest[:i])
		unit := rest[i]
		if strings.IndexByte(seen, unit) >= 0 || (seen != "" && strings.IndexByte("YMWD", unit) <= strings.IndexByte("YMWD", seen[len(seen)-1])) {
			return &periodError{s}
		}
		seen += string(unit)
		switch unit {
		case 'Y':
			out.Years = n
		case 'M':
			out.Months = n
		case 'W':
			if n > 99999 {
				return &periodError{s}
			}
			out.Days += 7 * n
		case 'D':
			out.Days += n
		default:
			return &periodError{s}
		}
		rest = rest[i+1:]
	}
	*p = out
	return nil
}
