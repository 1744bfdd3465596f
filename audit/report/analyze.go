package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// unknown names a value the log does not hold (an attribute absent from
// entries written before it existed).
const unknown = "(unknown)"

// cohort is the calls whose first decision shares month, agent, purpose,
// policy version, mode and rule: the unit the sampling tables sum, so that
// per-call work is one map lookup.
type cohort struct {
	key                cohortKey
	rate, cap, grid    string
	decided, drawn     int
	selected, recorded int // filled by finishSampling
	first, last        time.Time
}

type cohortKey struct {
	month                               int // year*12 + month-1
	agent, purpose, version, mode, rule string
}

type callState struct {
	cohort      *cohort // the first decision's, nil if none or outside the period
	decided     bool    // a decision was seen (in the period or not)
	selected    bool
	recorded    bool
	startedIn   bool // a recording started in the period
	onObjection string
	purpose     string // from a decision or a recording
	recs        []string
	requires    string    // what must happen before capture (the first decision saying)
	noticeAt    time.Time // first completed notice
	consentAt   time.Time // first consent
	start       *startRef // first recording started
}

type startRef struct {
	t     time.Time
	index uint64
	rec   string
}

type recState struct {
	call     string
	purgedAt time.Time // zero: never purged
	holds    int       // open holds according to the log
}

type objection struct {
	t      time.Time
	index  uint64
	call   string
	method string
}

type pause struct {
	call, rec   string
	start, end  time.Time
	index       uint64
	auto, ended bool
}

type accessCheck struct {
	row  int // index in rep.Access.Openings
	held bool
}

type analyzer struct {
	o   Options
	rep *Report

	calls     map[string]*callState
	cohorts   map[cohortKey]*cohort
	recs      map[string]*recState
	prunedMax map[audit.Kind]time.Time // latest pruned entry of each kind
	pruned    map[audit.Kind]uint64    // pruned entries of the period

	objections []objection
	openPauses map[string][]*pause // by call
	pauses     []*pause            // started in the period
	legal      []accessCheck       // openings by RoleLegal to check against holds
	catHeld    map[string]bool
	deleted    map[string]bool   // recordings whose deletion at expiry was counted
	windows    map[windowKey]int // selections per cap or grid window
	loc        *time.Location    // the policy's calendar (caps, grids)

	byRole, byPerson map[string]*AccessCount
	interruptions    map[string]int
	versions         map[string]*VersionRow
	lateness         []int
}

func newAnalyzer(o Options, rep *Report) *analyzer {
	return &analyzer{
		o: o, rep: rep,
		calls:         make(map[string]*callState),
		cohorts:       make(map[cohortKey]*cohort),
		recs:          make(map[string]*recState),
		prunedMax:     make(map[audit.Kind]time.Time),
		pruned:        make(map[audit.Kind]uint64),
		openPauses:    make(map[string][]*pause),
		catHeld:       make(map[string]bool),
		deleted:       make(map[string]bool),
		windows:       make(map[windowKey]int),
		loc:           policyLocation(o.Policy),
		byRole:        make(map[string]*AccessCount),
		byPerson:      make(map[string]*AccessCount),
		interruptions: make(map[string]int),
		versions:      make(map[string]*VersionRow),
		lateness:      make([]int, len(latenessLabels)),
	}
}

func (a *analyzer) inPeriod(t time.Time) bool {
	return !t.Before(a.o.From) && t.Before(a.o.To)
}

func attr(e *audit.Event, key string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Key == key {
			return e.Attrs[i].Value
		}
	}
	return ""
}

func (a *analyzer) call(id string) *callState {
	c := a.calls[id]
	if c == nil {
		c = &callState{}
		a.calls[id] = c
	}
	return c
}

// cohortOf returns the cohort of a call's first decision, counting it.
func (a *analyzer) cohortOf(en *audit.Entry) *cohort {
	e := &en.Event
	k := cohortKey{month: en.Time.Year()*12 + int(en.Time.Month()) - 1, agent: attr(e, "agent"), purpose: e.Purpose,
		version: e.PolicyVersion, mode: attr(e, "mode"), rule: attr(e, "rule")}
	co := a.cohorts[k]
	if co == nil {
		co = &cohort{key: k, first: en.Time, last: en.Time}
		a.cohorts[k] = co
	}
	co.decided++
	if e.Reason == string(policy.ReasonSampled) || e.Reason == string(policy.ReasonCapReached) {
		co.drawn++
	}
	if en.Time.Before(co.first) {
		co.first = en.Time
	}
	if en.Time.After(co.last) {
		co.last = en.Time
	}
	co.rate, co.cap, co.grid = cmp.Or(co.rate, attr(e, "rate")), cmp.Or(co.cap, attr(e, "cap")), cmp.Or(co.grid, attr(e, "grid"))
	if attr(e, "record") == "true" {
		rk := ruleKey{k.version, orUnknown(k.mode), orUnknown(k.rule)}
		if c := attr(e, "cap"); c != "" {
			if _, per, ok := strings.Cut(c, "/"); ok {
				a.windows[windowKey{rule: rk, window: window(en.Time.In(a.loc), per)}]++
			}
		}
		if g := attr(e, "grid"); g != "" {
			if _, per, ok := strings.Cut(g, "/"); ok {
				a.windows[windowKey{rule: rk, window: window(en.Time.In(a.loc), per), agent: orUnknown(k.agent)}]++
			}
		}
	}
	return co
}

// windowKey counts the calls a rule selected in one calendar window (and,
// for a grid, for one agent).
type windowKey struct {
	rule          ruleKey
	window, agent string
}

// window names the calendar period of t: "2026-11-03", "2026-W45", "2026-11".
func window(t time.Time, per string) string {
	switch policy.Window(per) {
	case policy.Day:
		return t.Format(time.DateOnly)
	case policy.Week:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case policy.Month:
		return t.Format("2006-01")
	}
	return per + "?"
}

func policyLocation(p *policy.Policy) *time.Location {
	if p != nil && p.TimeZone != "" {
		if loc, err := time.LoadLocation(p.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// overruns lists the windows in which rule k selected more calls than its
// cap or grid allows ("2026-11-03: 12 > 10", "agent-3 2026-W45: 6 > 5").
func (a *analyzer) overruns(k ruleKey, r *ruleAcc) []string {
	limit := func(s string) int {
		n, _, _ := strings.Cut(s, "/")
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 {
			return -1
		}
		return v
	}
	capMax, gridK := limit(r.cap), limit(r.grid)
	var out []string
	for w, n := range a.windows {
		if w.rule != k {
			continue
		}
		switch {
		case w.agent == "" && capMax >= 0 && r.cap != "" && n > capMax:
			out = append(out, fmt.Sprintf("%s: %d > cap %d", w.window, n, capMax))
		case w.agent != "" && gridK >= 0 && r.grid != "" && n > gridK:
			out = append(out, fmt.Sprintf("%s %s: %d > grid %d", w.agent, w.window, n, gridK))
		}
	}
	slices.Sort(out)
	return out
}

func (a *analyzer) rec(id, call string) *recState {
	r := a.recs[id]
	if r == nil {
		r = &recState{call: call}
		a.recs[id] = r
	}
	return r
}

func (a *analyzer) finding(en *audit.Entry, detail string) Finding {
	e := &en.Event
	return Finding{Time: en.Time, Index: en.Index, CallID: e.CallID, RecordingID: e.RecordingID, Actor: e.Actor, Detail: detail}
}

func (a *analyzer) violate(kind, rule string, en *audit.Entry, detail string) {
	v := Violation{Kind: kind, Rule: rule, Detail: detail}
	if en != nil {
		i := en.Index
		v.Index, v.Time, v.CallID, v.RecordingID = &i, en.Time, en.Event.CallID, en.Event.RecordingID
	}
	a.rep.Violations = append(a.rep.Violations, v)
}

// entry accounts for one verified entry, in log order.
func (a *analyzer) entry(en *audit.Entry) {
	in := a.inPeriod(en.Time)
	if in {
		a.rep.Integrity.InPeriod++
		if en.Shredded {
			a.rep.Integrity.Shredded++
		}
	}
	if en.Pruned {
		if en.Time.After(a.prunedMax[en.Kind]) {
			a.prunedMax[en.Kind] = en.Time
		}
		if in {
			a.pruned[en.Kind]++
		}
		return
	}
	e := &en.Event
	switch e.Kind {
	case audit.KindPolicyDecision:
		c := a.call(e.CallID)
		if !c.decided {
			c.decided = true
			if in {
				c.cohort = a.cohortOf(en)
			}
		}
		if attr(e, "record") == "true" {
			c.selected = true
		}
		if o := attr(e, "on_objection"); o != "" {
			c.onObjection = o
		}
		if c.requires == "" {
			c.requires = attr(e, "requires")
		}
		if c.purpose == "" && e.Purpose != "" {
			c.purpose = e.Purpose
		}
	case audit.KindPolicyChange:
		if in {
			a.rep.Sampling.PolicyChanges = append(a.rep.Sampling.PolicyChanges, a.finding(en, "policy "+e.PolicyVersion+" loaded"))
		}
	case audit.KindNoticePlayed:
		completed := attr(e, "completed") == "true"
		if completed {
			if c := a.calls[e.CallID]; c != nil && (c.noticeAt.IsZero() || en.Time.Before(c.noticeAt)) {
				c.noticeAt = en.Time
			} else if c == nil {
				a.call(e.CallID).noticeAt = en.Time
			}
		}
		if in {
			n := &a.rep.Notices
			n.Played++
			if completed {
				n.Completed++
			} else {
				n.Interrupted++
				cause := attr(e, "interrupted")
				if cause == "" {
					cause = unknown
				}
				a.interruptions[cause]++
			}
		}
	case audit.KindConsentGiven:
		if c := a.call(e.CallID); c.consentAt.IsZero() || en.Time.Before(c.consentAt) {
			c.consentAt = en.Time
		}
		if in {
			a.rep.Notices.Consents++
		}
	case audit.KindObjection:
		if in {
			a.rep.Notices.Objections++
			a.objections = append(a.objections, objection{t: en.Time, index: en.Index, call: e.CallID, method: attr(e, "method")})
		}
	case audit.KindRecordingStarted:
		c := a.call(e.CallID)
		c.recorded = true
		if in {
			c.startedIn = true
		}
		if c.start == nil || en.Time.Before(c.start.t) {
			c.start = &startRef{t: en.Time, index: en.Index, rec: e.RecordingID}
		}
		if c.purpose == "" {
			c.purpose = e.Purpose
		}
		if _, seen := a.recs[e.RecordingID]; !seen {
			c.recs = append(c.recs, e.RecordingID)
		}
		a.rec(e.RecordingID, e.CallID)
	case audit.KindRecordingPurged:
		r := a.rec(e.RecordingID, e.CallID)
		if en.Time.After(r.purgedAt) {
			r.purgedAt = en.Time
		}
		a.endPauses(e.CallID, en.Time)
	case audit.KindRecordingPaused:
		p := &pause{call: e.CallID, rec: e.RecordingID, start: en.Time, index: en.Index}
		a.openPauses[e.CallID] = append(a.openPauses[e.CallID], p)
		if in {
			a.pauses = append(a.pauses, p)
		}
	case audit.KindRecordingResumed:
		ps := a.openPauses[e.CallID]
		for i, p := range ps {
			if p.rec == e.RecordingID {
				p.end, p.ended, p.auto = en.Time, true, e.Reason == "max-pause"
				a.openPauses[e.CallID] = slices.Delete(ps, i, i+1)
				break
			}
		}
	case audit.KindRecordingStopped, audit.KindRecordingFinalized:
		a.endPauses(e.CallID, en.Time)
	case audit.KindRetentionDeleted, audit.KindErasure:
		if !in || e.RecordingID == "" || (e.Kind == audit.KindErasure && attr(e, "outcome") != "erased") {
			return
		}
		if e.Kind == audit.KindErasure {
			a.rep.Retention.Erased++
			return
		}
		// A sweep killed between its audit append and the catalog's
		// removal logs the deletion again (resumed=true): count it once.
		if a.deleted[e.RecordingID] {
			return
		}
		a.deleted[e.RecordingID] = true
		a.rep.Retention.Deleted++
		dl, err := time.Parse(time.RFC3339Nano, attr(e, "deadline"))
		if err != nil {
			a.lateness[0]++ // no deadline logged: shown as unknown
			return
		}
		late := en.Time.Sub(dl)
		a.lateness[latenessBucket(late)]++
		if late > a.o.Grace {
			a.rep.Retention.Late++
			a.violate(ViolationLateDeletion, "R13", en, fmt.Sprintf("recording %s deleted %s after its deadline %s (grace %s)",
				e.RecordingID, humanDuration(late), dl.Format(time.RFC3339), humanDuration(a.o.Grace)))
		}
	case audit.KindRetentionOverdue:
		if in {
			a.rep.Retention.Overdue = append(a.rep.Retention.Overdue, a.finding(en, e.Reason+" (late "+attr(e, "late")+")"))
		}
	case audit.KindLegalHoldSet:
		a.rec(e.RecordingID, e.CallID).holds++
		if in {
			a.rep.Retention.HoldsSet++
		}
	case audit.KindLegalHoldReleased:
		if r := a.rec(e.RecordingID, e.CallID); r.holds > 0 {
			r.holds--
		}
		if in {
			a.rep.Retention.HoldsRelease++
		}
	case audit.KindAccess:
		if !in {
			return
		}
		row := AccessRow{Time: en.Time, Index: en.Index, Actor: e.Actor, Role: e.Role, RecordingID: e.RecordingID,
			CallID: e.CallID, Purpose: e.Purpose, Action: attr(e, "action"), Reason: e.Reason}
		ac := &a.rep.Access
		ac.Granted++
		a.count(a.byRole, e.Role, true)
		a.count(a.byPerson, e.Actor, true)
		switch {
		case policy.Role(e.Role) == policy.RoleLegal:
			r := a.recs[e.RecordingID]
			a.legal = append(a.legal, accessCheck{row: len(ac.Openings), held: r != nil && r.holds > 0})
			row.WithinRoles = true // until finish checks the holds
		default:
			row.WithinRoles = a.allows(policy.Purpose(e.Purpose), policy.Role(e.Role))
			if !row.WithinRoles {
				a.outsideRoles(en, fmt.Sprintf("%s opened %s (%s) as %q, a role purpose %q does not allow",
					e.Actor, e.RecordingID, row.Action, e.Role, e.Purpose))
			}
		}
		ac.Openings = append(ac.Openings, row)
	case audit.KindAccessDenied:
		if !in {
			return
		}
		a.rep.Access.Denied++
		a.count(a.byRole, e.Role, false)
		a.count(a.byPerson, e.Actor, false)
		a.rep.Access.Refusals = append(a.rep.Access.Refusals, AccessRow{Time: en.Time, Index: en.Index, Actor: e.Actor,
			Role: e.Role, RecordingID: e.RecordingID, CallID: e.CallID, Purpose: e.Purpose, Action: attr(e, "action"),
			Reason: e.Reason, Why: attr(e, "denied")})
	case audit.KindIntegrityFailure:
		if in {
			f := a.finding(en, e.Reason+": "+attr(e, "error"))
			a.rep.Integrity.Failures = append(a.rep.Integrity.Failures, f)
			a.rep.Integrity.Breaches = append(a.rep.Integrity.Breaches, f)
			a.violate(ViolationIntegrity, "R27", en, fmt.Sprintf("recording %s failed its integrity check: %s", e.RecordingID, attr(e, "error")))
		}
	case audit.KindAuditPruned:
		if in {
			a.rep.Integrity.AuditPrunes = append(a.rep.Integrity.AuditPrunes,
				a.finding(en, fmt.Sprintf("%s entries logged before %s pruned", attr(e, "count"), attr(e, "before"))))
		}
	}
}

func (a *analyzer) outsideRoles(en *audit.Entry, detail string) {
	a.rep.Access.OutsideRoles++
	a.rep.Integrity.Breaches = append(a.rep.Integrity.Breaches, a.finding(en, detail))
	a.violate(ViolationAccessRole, "R25", en, detail)
}

func (a *analyzer) count(m map[string]*AccessCount, key string, granted bool) {
	if key == "" {
		key = unknown
	}
	c := m[key]
	if c == nil {
		c = &AccessCount{Key: key}
		m[key] = c
	}
	if granted {
		c.Granted++
	} else {
		c.Denied++
	}
}

// allows reports whether role may open a recording made for p: the purpose
// allows it and, when Options.Policy has rules for p that narrow the roles,
// one of them lists it.
func (a *analyzer) allows(p policy.Purpose, role policy.Role) bool {
	if !p.Allows(role) {
		return false
	}
	if a.o.Policy == nil {
		return true
	}
	narrowed := false
	for _, r := range a.o.Policy.Rules {
		if r.Purpose != p {
			continue
		}
		if len(r.AccessRoles) == 0 || slices.Contains(r.AccessRoles, role) {
			return true
		}
		narrowed = true
	}
	return !narrowed
}

func (a *analyzer) endPauses(call string, t time.Time) {
	for _, p := range a.openPauses[call] {
		p.end, p.ended = t, true
	}
	delete(a.openPauses, call)
}

// catalog reads every catalogued recording once, in deadline order.
func (a *analyzer) catalog(ctx context.Context, cat retention.Catalog) error {
	rt := &a.rep.Retention
	rt.AgeBuckets = slices.Clone(ageLabels)
	if cat == nil {
		return nil
	}
	rt.Catalog = true
	byPurpose := map[string]*AgeRow{}
	end := time.Unix(0, math.MaxInt64).UTC()
	var cur retention.Cursor
	for {
		page, err := cat.Expired(ctx, end, cur, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			rt.Catalogued++
			row := byPurpose[string(r.Purpose)]
			if row == nil {
				row = &AgeRow{Purpose: string(r.Purpose), Ages: make([]int, len(ageLabels))}
				byPurpose[string(r.Purpose)] = row
			}
			row.Count++
			row.Ages[ageBucket(a.o.Now.Sub(r.Created))]++
			if r.Held() {
				row.Held++
				a.catHeld[r.ID] = true
				for _, h := range r.Holds {
					rt.Holds = append(rt.Holds, HoldRow{RecordingID: r.ID, CallID: r.CallID, Purpose: string(r.Purpose),
						Case: h.Case, Approver: h.Approver, Since: h.Since, Deadline: r.Deadline,
						AgeDays: int(a.o.Now.Sub(h.Since) / (24 * time.Hour))})
				}
			} else if r.Deadline.Add(a.o.Grace).Before(a.o.Now) {
				row.PastDeadline++
				rr := RecordingRow{RecordingID: r.ID, CallID: r.CallID, Purpose: string(r.Purpose), Created: r.Created,
					Deadline: r.Deadline, Deletion: string(r.Deletion)}
				rt.PastDeadline = append(rt.PastDeadline, rr)
				detail := fmt.Sprintf("recording %s (%s) still kept %s after its deadline %s, not under legal hold",
					r.ID, r.Purpose, humanDuration(a.o.Now.Sub(r.Deadline)), r.Deadline.Format(time.RFC3339))
				if r.Deletion != retention.DeletionNone {
					detail += " (deletion begun, not finished)"
				}
				a.rep.Violations = append(a.rep.Violations, Violation{Kind: ViolationPastDeadline, Rule: "R13",
					Time: r.Deadline, CallID: r.CallID, RecordingID: r.ID, Detail: detail})
			}
		}
		if len(page) < 1000 {
			break
		}
		cur = retention.After(page[len(page)-1])
	}
	for _, p := range sortedKeys(byPurpose) {
		rt.ByPurpose = append(rt.ByPurpose, *byPurpose[p])
	}
	return nil
}

// finish computes what needs the whole log and the catalog.
func (a *analyzer) finish() {
	a.finishSampling()
	a.finishNotices()
	a.finishRetention()
	a.finishAccess()
	a.finishPauses()
	a.finishIntegrity()
	slices.SortStableFunc(a.rep.Violations, func(x, y Violation) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.CallID, y.CallID),
			cmp.Compare(x.RecordingID, y.RecordingID))
	})
	if a.rep.Violations == nil {
		a.rep.Violations = []Violation{}
	}
}

type group struct {
	decided, selected, recorded int
	nsDecided, nsRecorded       int // non-statute calls, for the near-systematic flag
}

type ruleKey struct{ version, mode, rule string }

type ruleAcc struct {
	group
	drawn                    int
	purpose, rate, cap, grid string
}

func (a *analyzer) finishSampling() {
	s := &a.rep.Sampling
	s.PrunedDecisions = a.pruned[audit.KindPolicyDecision]
	months, agents, purposes := map[string]*group{}, map[string]*group{}, map[string]*group{}
	add := func(m map[string]*group, key string, decided, selected, recorded int, statute bool) {
		if key == "" {
			key = unknown
		}
		g := m[key]
		if g == nil {
			g = &group{}
			m[key] = g
		}
		g.decided += decided
		g.selected += selected
		g.recorded += recorded
		if !statute {
			g.nsDecided += decided
			g.nsRecorded += recorded
		}
	}
	// Per call: one pointer to follow, no hashing; calls whose decision
	// carries no purpose take the recording's.
	type purposeKey struct {
		co      *cohort
		purpose string
	}
	moved := map[purposeKey]*group{}
	for _, c := range a.calls {
		co := c.cohort
		if co == nil {
			if !c.decided && c.startedIn {
				s.RecordedWithoutDecision++
			}
			continue
		}
		sel, rec := b2i(c.selected), b2i(c.recorded)
		co.selected += sel
		co.recorded += rec
		if co.key.purpose == "" && c.purpose != "" {
			k := purposeKey{co, c.purpose}
			g := moved[k]
			if g == nil {
				g = &group{}
				moved[k] = g
			}
			g.decided++
			g.selected += sel
			g.recorded += rec
		}
	}
	rules := map[ruleKey]*ruleAcc{}
	for _, co := range a.cohorts {
		k := co.key
		statute := k.mode == string(policy.ModeStatute)
		s.Decided += co.decided
		s.Selected += co.selected
		s.Recorded += co.recorded
		add(months, fmt.Sprintf("%04d-%02d", k.month/12, k.month%12+1), co.decided, co.selected, co.recorded, statute)
		add(agents, k.agent, co.decided, co.selected, co.recorded, statute)
		purpose := cmp.Or(k.purpose, "(none)")
		add(purposes, purpose, co.decided, co.selected, co.recorded, statute)
		v := a.versions[k.version]
		if v == nil {
			v = &VersionRow{Version: k.version, First: co.first, Last: co.last}
			a.versions[k.version] = v
		}
		v.Decided += co.decided
		v.Recorded += co.recorded
		if co.first.Before(v.First) {
			v.First = co.first
		}
		if co.last.After(v.Last) {
			v.Last = co.last
		}
		rk := ruleKey{k.version, orUnknown(k.mode), orUnknown(k.rule)}
		r := rules[rk]
		if r == nil {
			r = &ruleAcc{}
			rules[rk] = r
		}
		r.decided += co.decided
		r.selected += co.selected
		r.recorded += co.recorded
		r.drawn += co.drawn
		r.purpose, r.rate, r.cap, r.grid = cmp.Or(r.purpose, k.purpose), cmp.Or(r.rate, co.rate), cmp.Or(r.cap, co.cap), cmp.Or(r.grid, co.grid)
	}
	for k, g := range moved {
		// Those calls were counted under "(none)": move them.
		statute := k.co.key.mode == string(policy.ModeStatute)
		add(purposes, "(none)", -g.decided, -g.selected, -g.recorded, statute)
		add(purposes, k.purpose, g.decided, g.selected, g.recorded, statute)
	}
	for k, g := range purposes {
		if g.decided == 0 {
			delete(purposes, k)
		}
	}
	s.Share = NewShare(s.Recorded, s.Decided)
	rows := func(m map[string]*group, flag bool) []GroupRow {
		out := []GroupRow{}
		for _, k := range sortedKeys(m) {
			g := m[k]
			row := GroupRow{Key: k, Decided: g.decided, Selected: g.selected, Recorded: g.recorded, Share: NewShare(g.recorded, g.decided)}
			if flag && g.nsDecided > 0 {
				if lo, _ := Wilson(g.nsRecorded, g.nsDecided); lo > a.o.NearSystematic {
					row.Flagged = true
					s.Flagged = append(s.Flagged, k)
				}
			}
			out = append(out, row)
		}
		return out
	}
	s.Months, s.Agents, s.Purposes = rows(months, false), rows(agents, true), rows(purposes, false)
	if s.Flagged == nil {
		s.Flagged = []string{}
	}
	s.Versions = []VersionRow{}
	for _, k := range sortedKeys(a.versions) {
		s.Versions = append(s.Versions, *a.versions[k])
	}
	keys := make([]ruleKey, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y ruleKey) int {
		return cmp.Or(cmp.Compare(x.version, y.version), cmp.Compare(x.rule, y.rule), cmp.Compare(x.mode, y.mode))
	})
	s.Rules = []RuleRow{}
	for _, k := range keys {
		r := rules[k]
		row := RuleRow{PolicyVersion: k.version, Purpose: orUnknown(r.purpose), Mode: k.mode, Rule: k.rule,
			Decided: r.decided, Selected: r.selected, Recorded: r.recorded, Drawn: r.drawn,
			DrawShare: NewShare(r.drawn, r.decided), Share: NewShare(r.recorded, r.decided)}
		row.Target, row.Rate = a.target(k, r)
		row.Overruns = nonNil(a.overruns(k, r))
		if k.mode == string(policy.ModeSampling) && row.Rate > 0 {
			ok := row.DrawShare.Contains(row.Rate)
			row.Consistent = &ok
		}
		s.Rules = append(s.Rules, row)
	}
	if s.PolicyChanges == nil {
		s.PolicyChanges = []Finding{}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// target describes what a rule promises, from the decision's attributes,
// else from Options.Policy when its version matches.
func (a *analyzer) target(k ruleKey, r *ruleAcc) (string, float64) {
	rate, capS, grid := r.rate, r.cap, r.grid
	if p := a.o.Policy; p != nil && rate == "" && capS == "" && grid == "" && p.Version() == k.version {
		for i, pr := range p.Rules {
			if (r.purpose != "" && string(pr.Purpose) != r.purpose) || string(pr.Mode) != k.mode || (k.rule != unknown && k.rule != strconv.Itoa(i)) {
				continue
			}
			if pr.Rate > 0 {
				rate = strconv.FormatFloat(pr.Rate, 'g', -1, 64)
			}
			if pr.Cap != nil {
				capS = fmt.Sprintf("%d/%s", pr.Cap.Max, pr.Cap.Per)
			}
			if pr.Grid != nil {
				grid = fmt.Sprintf("%d/%s", pr.Grid.PerAgent, pr.Grid.Per)
			}
			break
		}
	}
	var parts []string
	var rv float64
	if rate != "" {
		if f, err := strconv.ParseFloat(rate, 64); err == nil && f > 0 && f <= 1 {
			rv = f
			parts = append(parts, "rate "+strconv.FormatFloat(f*100, 'g', 4, 64)+" %")
		} else {
			parts = append(parts, "rate "+rate)
		}
	}
	if capS != "" {
		parts = append(parts, "cap "+strings.Replace(capS, "/", " per ", 1))
	}
	if grid != "" {
		parts = append(parts, strings.Replace(grid, "/", " per agent per ", 1))
	}
	if len(parts) == 0 {
		switch policy.Mode(k.mode) {
		case policy.ModeStatute:
			parts = append(parts, "every in-scope call (statute)")
		case policy.ModeAgent:
			parts = append(parts, "on the agent's action")
		case policy.ModeSupervisor:
			parts = append(parts, "on a supervisor's request")
		case policy.ModeOff:
			parts = append(parts, "never")
		default:
			parts = append(parts, unknown)
		}
	}
	return strings.Join(parts, ", "), rv
}

func (a *analyzer) finishNotices() {
	n := &a.rep.Notices
	n.Pruned = a.pruned[audit.KindNoticePlayed] + a.pruned[audit.KindConsentGiven] + a.pruned[audit.KindObjection]
	n.Interruptions = []KeyCount{}
	for _, k := range sortedKeys(a.interruptions) {
		n.Interruptions = append(n.Interruptions, KeyCount{Key: k, Count: a.interruptions[k]})
	}
	a.checkBeforeCapture()
	n.List = []ObjectionRow{}
	for _, o := range a.objections {
		row := ObjectionRow{Time: o.t, Index: o.index, CallID: o.call, Method: o.method}
		c := a.calls[o.call]
		var missing []string
		if c != nil {
			row.Recordings = len(c.recs)
			for _, id := range c.recs {
				if r := a.recs[id]; !r.purgedAt.IsZero() && !r.purgedAt.Before(o.t) {
					row.Purged++
				} else {
					missing = append(missing, id)
				}
			}
		}
		switch {
		case c != nil && c.onObjection == string(policy.ObjectionNotApplicable):
			row.Outcome = "not-applicable"
			n.NotApplicable++
		case len(missing) == 0:
			row.Outcome = "honoured"
			n.Honoured++
		case a.prunedSince(audit.KindRecordingPurged, o.t) || (!c.decided && a.prunedSince(audit.KindPolicyDecision, time.Time{})):
			// The purge, or the decision saying the statute applies,
			// may be among the pruned entries: not evidence either way.
			row.Outcome = "uncheckable"
			n.Uncheckable++
		default:
			row.Outcome = "not-honoured"
			n.NotHonoured++
			i := o.index
			a.rep.Violations = append(a.rep.Violations, Violation{Kind: ViolationObjection, Rule: "R15", Time: o.t, Index: &i,
				CallID: o.call, RecordingID: strings.Join(missing, " "),
				Detail: fmt.Sprintf("the caller of call %s objected at %s, yet %d recording(s) of the call were not purged after it: %s",
					o.call, o.t.Format(time.RFC3339), len(missing), strings.Join(missing, ", "))})
		}
		n.List = append(n.List, row)
	}
}

// prunedSince reports whether an entry of kind k logged at or after t was
// pruned.
func (a *analyzer) prunedSince(k audit.Kind, t time.Time) bool {
	m, ok := a.prunedMax[k]
	return ok && !m.Before(t)
}

func (a *analyzer) finishRetention() {
	rt := &a.rep.Retention
	rt.Pruned = a.pruned[audit.KindRetentionDeleted] + a.pruned[audit.KindErasure] + a.pruned[audit.KindLegalHoldSet] +
		a.pruned[audit.KindLegalHoldReleased] + a.pruned[audit.KindRetentionOverdue]
	rt.GraceSecs = a.o.Grace.Seconds()
	rt.Lateness = make([]Bucket, len(latenessLabels))
	for i, l := range latenessLabels {
		rt.Lateness[i] = Bucket{Label: l, Count: a.lateness[i], Bad: i > 0 && latenessFloor[i] >= a.o.Grace}
	}
	slices.SortFunc(rt.Holds, func(x, y HoldRow) int {
		return cmp.Or(x.Since.Compare(y.Since), cmp.Compare(x.RecordingID, y.RecordingID), cmp.Compare(x.Case, y.Case))
	})
	slices.SortFunc(rt.PastDeadline, func(x, y RecordingRow) int {
		return cmp.Or(x.Deadline.Compare(y.Deadline), cmp.Compare(x.RecordingID, y.RecordingID))
	})
	rt.Holds = nonNil(rt.Holds)
	rt.PastDeadline = nonNil(rt.PastDeadline)
	rt.Overdue = nonNil(rt.Overdue)
	rt.ByPurpose = nonNil(rt.ByPurpose)
}

func (a *analyzer) finishAccess() {
	ac := &a.rep.Access
	ac.Pruned = a.pruned[audit.KindAccess] + a.pruned[audit.KindAccessDenied]
	for _, l := range a.legal {
		row := &ac.Openings[l.row]
		if l.held || a.catHeld[row.RecordingID] || a.prunedSince(audit.KindLegalHoldSet, time.Time{}) {
			continue
		}
		row.WithinRoles = false
		en := &audit.Entry{Leaf: audit.Leaf{Index: row.Index, Time: row.Time},
			Event: audit.Event{CallID: row.CallID, RecordingID: row.RecordingID, Actor: row.Actor}}
		a.outsideRoles(en, fmt.Sprintf("%s opened %s (%s) as \"legal\" while it was under no legal hold",
			row.Actor, row.RecordingID, row.Action))
	}
	for _, m := range []struct {
		src map[string]*AccessCount
		dst *[]AccessCount
	}{{a.byRole, &ac.ByRole}, {a.byPerson, &ac.ByPerson}} {
		*m.dst = []AccessCount{}
		for _, k := range sortedKeys(m.src) {
			*m.dst = append(*m.dst, *m.src[k])
		}
	}
	ac.Openings = nonNil(ac.Openings)
	ac.Refusals = nonNil(ac.Refusals)
}

func (a *analyzer) finishPauses() {
	ps := &a.rep.Pauses
	ps.MaxPauseSecs = a.o.MaxPause.Seconds()
	ps.Pruned = a.pruned[audit.KindRecordingPaused] + a.pruned[audit.KindRecordingResumed]
	lengths := make([]int, 5)
	floors := pauseFloors(a.o.MaxPause)
	type key struct{ call, rec string }
	per := map[key]*PauseRow{}
	var order []key
	for _, p := range a.pauses {
		ps.Pauses++
		k := key{p.call, p.rec}
		row := per[k]
		if row == nil {
			row = &PauseRow{CallID: p.call, RecordingID: p.rec}
			per[k] = row
			order = append(order, k)
		}
		row.Pauses++
		if !p.ended {
			ps.Open++
			row.OpenAtReport = true
			continue
		}
		d := p.end.Sub(p.start)
		row.TotalSecs += d.Seconds()
		row.LongestSecs = max(row.LongestSecs, d.Seconds())
		b := 0
		for i, f := range floors {
			if d >= f {
				b = i
			}
		}
		if d > a.o.MaxPause+time.Second { // the recorder's timer fires just after MaxPause
			b = len(floors)
		}
		lengths[b]++
		if p.auto {
			ps.AutoResumed++
			row.AutoResumed = true
		}
		if b == len(floors) {
			ps.TooLong++
			row.Exceeded = true
			i := p.index
			a.rep.Violations = append(a.rep.Violations, Violation{Kind: ViolationPauseTooLong, Rule: "R22", Time: p.start,
				Index: &i, CallID: p.call, RecordingID: p.rec,
				Detail: fmt.Sprintf("a card-data pause of call %s lasted %s, longer than MaxPause %s",
					p.call, humanDuration(d), humanDuration(a.o.MaxPause))})
		}
	}
	calls := map[string]bool{}
	ps.PerCall = []PauseRow{}
	for _, k := range order {
		calls[k.call] = true
		r := *per[k]
		r.TotalSecs, r.LongestSecs = round3(r.TotalSecs), round3(r.LongestSecs)
		ps.PerCall = append(ps.PerCall, r)
	}
	ps.Calls = len(calls)
	labels := pauseLabels(a.o.MaxPause)
	ps.Lengths = make([]Bucket, len(labels))
	for i := range labels {
		ps.Lengths[i] = Bucket{Label: labels[i], Count: lengths[i], Bad: i == len(labels)-1}
	}
}

func (a *analyzer) finishIntegrity() {
	in := &a.rep.Integrity
	in.PrunedByKind = []KindCount{}
	for k := audit.Kind(1); k.Valid(); k++ {
		if n := a.pruned[k]; n > 0 {
			in.Pruned += n
			in.PrunedByKind = append(in.PrunedByKind, KindCount{Kind: k.String(), Count: n})
		}
	}
	in.Failures = nonNil(in.Failures)
	slices.SortStableFunc(in.Breaches, func(x, y Finding) int { return cmp.Compare(x.Index, y.Index) })
	in.Breaches = nonNil(in.Breaches)
	in.AuditPrunes = nonNil(in.AuditPrunes)
}

func orUnknown(s string) string { return cmp.Or(s, unknown) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

var (
	ageLabels      = []string{"< 7 d", "7–30 d", "1–6 mo", "6–12 mo", "1–5 y", "> 5 y"}
	ageFloorDays   = []int{0, 7, 31, 183, 366, 1827}
	latenessLabels = []string{"unknown / early", "≤ 1 h", "1–24 h", "1–7 d", "7–30 d", "> 30 d"}
	latenessFloor  = []time.Duration{0, 0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
)

func ageBucket(d time.Duration) int {
	days := int(d / (24 * time.Hour))
	b := 0
	for i, f := range ageFloorDays {
		if days >= f {
			b = i
		}
	}
	return b
}

func latenessBucket(d time.Duration) int {
	if d < 0 {
		return 0
	}
	b := 1
	for i := 2; i < len(latenessFloor); i++ {
		if d > latenessFloor[i] {
			b = i
		}
	}
	return b
}

// pauseFloors are the lower bounds of the pause-length buckets up to
// MaxPause; one more bucket holds the pauses beyond it.
func pauseFloors(maxPause time.Duration) []time.Duration {
	return []time.Duration{0, maxPause / 10, maxPause / 4, maxPause / 2}
}

func pauseLabels(maxPause time.Duration) []string {
	f := pauseFloors(maxPause)
	return []string{
		"< " + humanDuration(f[1]),
		humanDuration(f[1]) + "–" + humanDuration(f[2]),
		humanDuration(f[2]) + "–" + humanDuration(f[3]),
		humanDuration(f[3]) + "–" + humanDuration(maxPause),
		"> " + humanDuration(maxPause),
	}
}

// humanDuration renders d compactly: "45 s", "2 min 30 s", "26 h", "3 d 4 h".
func humanDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + " s"
	case d < time.Hour:
		m, sec := int(d/time.Minute), int(d%time.Minute/time.Second)
		s = strconv.Itoa(m) + " min"
		if sec != 0 {
			s += " " + strconv.Itoa(sec) + " s"
		}
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		s = strconv.Itoa(h) + " h"
		if m != 0 {
			s += " " + strconv.Itoa(m) + " min"
		}
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		s = strconv.Itoa(days) + " d"
		if h != 0 {
			s += " " + strconv.Itoa(h) + " h"
		}
	}
	if neg {
		return "-" + s
	}
	return s
}

// checkBeforeCapture checks, for each call whose first recording started in
// the period, that what its decision required happened first: a completed
// notice (R14) and, under opt-in profiles, the caller's consent (R16). A
// call whose evidence may have been pruned is counted, not a violation.
func (a *analyzer) checkBeforeCapture() {
	n := &a.rep.Notices
	for id, c := range a.calls {
		if c.start == nil || c.requires == "" || !a.inPeriod(c.start.t) {
			continue
		}
		for _, need := range []struct {
			what, kind, rule string
			at               time.Time
			pruned           audit.Kind
		}{
			{"notice", ViolationNoNotice, "R14", c.noticeAt, audit.KindNoticePlayed},
			{"consent", ViolationNoConsent, "R16", c.consentAt, audit.KindConsentGiven},
		} {
			if !strings.Contains(c.requires, need.what) {
				continue
			}
			n.Checked++
			if !need.at.IsZero() && !need.at.After(c.start.t) {
				continue
			}
			if a.prunedSince(need.pruned, time.Time{}) {
				n.CaptureUncheckable++
				continue
			}
			i := c.start.index
			detail := fmt.Sprintf("call %s was recorded (%s) at %s with no %s before it", id, c.start.rec,
				c.start.t.Format(time.RFC3339), map[string]string{"notice": "completed notice", "consent": "consent of the caller"}[need.what])
			if !need.at.IsZero() {
				detail += " (it came at " + need.at.Format(time.RFC3339) + ")"
			}
			a.rep.Violations = append(a.rep.Violations, Violation{Kind: need.kind, Rule: need.rule, Time: c.start.t, Index: &i,
				CallID: id, RecordingID: c.start.rec, Detail: detail})
		}
	}
}
