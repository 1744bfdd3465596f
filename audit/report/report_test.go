package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"golang.org/x/mod/sumdb/note"
)

func kinds(vs []report.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind)
	}
	return out
}

func TestCleanHistoryHasNoViolation(t *testing.T) {
	h := newHistory(t)
	h.clean()
	rep := h.build(period)
	if len(rep.Violations) != 0 {
		t.Fatalf("violations in a clean history: %+v", rep.Violations)
	}
	if !rep.Integrity.Verified || rep.Integrity.Entries != h.log.Size() || rep.Integrity.Root == "" {
		t.Fatalf("integrity: %+v (log has %d entries)", rep.Integrity, h.log.Size())
	}
	s := rep.Sampling
	if s.Decided != 40 || s.Selected != 4 || s.Recorded != 4 || s.Share.K != 4 || s.Share.N != 40 {
		t.Errorf("sampling: decided %d selected %d recorded %d share %+v", s.Decided, s.Selected, s.Recorded, s.Share)
	}
	if len(s.Agents) != 4 || s.Agents[3].Key != "agent-3" || s.Agents[3].Recorded != 2 || s.Agents[0].Recorded != 0 {
		t.Errorf("agents: %+v", s.Agents)
	}
	if len(s.Rules) != 1 || s.Rules[0].Rate != 0.1 || s.Rules[0].Consistent == nil || !*s.Rules[0].Consistent ||
		s.Rules[0].Target != "rate 10 %" || s.Rules[0].Drawn != 4 {
		t.Errorf("rules: %+v", s.Rules)
	}
	// agent-3 recorded on 2 of its 10 calls: [5.7 %, 51.0 %], not flagged
	// (the lower bound is under the default 50 %).
	if len(s.Flagged) != 0 {
		t.Errorf("flagged: %v", s.Flagged)
	}
	n := rep.Notices
	if n.Played != 4 || n.Completed != 4 || n.Objections != 1 || n.Honoured != 1 || n.NotHonoured != 0 {
		t.Errorf("notices: %+v", n)
	}
	rt := rep.Retention
	if !rt.Catalog || rt.Catalogued != 1 || rt.Deleted != 1 || rt.Late != 0 || len(rt.Holds) != 1 ||
		rt.Holds[0].Case != "RG 26/00042" || rt.Lateness[1].Count != 1 {
		t.Errorf("retention: %+v", rt)
	}
	ac := rep.Access
	if ac.Granted != 3 || ac.Denied != 1 || ac.OutsideRoles != 0 || len(ac.ByRole) != 4 || len(ac.ByPerson) != 4 {
		t.Errorf("access: %+v", ac)
	}
	for _, o := range ac.Openings {
		if !o.WithinRoles || o.Reason == "" {
			t.Errorf("opening %+v", o)
		}
	}
	if ac.Refusals[0].Why == "" || ac.Refusals[0].Actor != "tr-carl" {
		t.Errorf("refusal %+v", ac.Refusals[0])
	}
	p := rep.Pauses
	if p.Pauses != 1 || p.Calls != 1 || p.TooLong != 0 || p.PerCall[0].LongestSecs != 30 || p.Lengths[1].Count != 1 {
		t.Errorf("pauses: %+v", p)
	}
	if !strings.Contains(rep.Summary(), "40 calls decided, 4 recorded") || !strings.Contains(rep.Summary(), "0 violation") ||
		!strings.Contains(rep.Summary(), rep.Integrity.Root) {
		t.Errorf("summary: %s", rep.Summary())
	}
}

func TestLateDeletionIsAViolation(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(36 * time.Hour)
	h.decide("call-late", "agent-1", at, true, pvA)
	h.notice("call-late", at.Add(9*time.Second), true)
	r := h.record("call-late", "rec-late", at.Add(10*time.Second), time.Minute)
	// The sweeper did not run for three days after the deadline.
	h.sweep(r.Deadline.Add(72 * time.Hour))
	rep := h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationLateDeletion}) {
		t.Fatalf("violations %v, want one late deletion: %+v", got, rep.Violations)
	}
	v := rep.Violations[0]
	if v.RecordingID != "rec-late" || v.CallID != "call-late" || v.Index == nil || v.Rule != "R13" ||
		!strings.Contains(v.Detail, "3 d") {
		t.Errorf("violation %+v", v)
	}
	if rep.Retention.Late != 1 || rep.Retention.Lateness[3].Count != 1 || !rep.Retention.Lateness[3].Bad {
		t.Errorf("lateness %+v", rep.Retention.Lateness)
	}
	// The same deletion with a week of grace is on time.
	o := period
	o.Grace = 7 * 24 * time.Hour
	if rep := h.build(o); len(rep.Violations) != 0 {
		t.Errorf("with a week of grace: %+v", rep.Violations)
	}
}

func TestObjectionFollowedByRecordingIsAViolation(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	h.decide("call-obj", "agent-2", at, true, pvA)
	h.notice("call-obj", at.Add(8*time.Second), false)
	h.object("call-obj", at.Add(9*time.Second))
	// Recorded all the same, and never purged.
	h.record("call-obj", "rec-obj", at.Add(12*time.Second), time.Minute)
	// A second call: recording began before the objection and was purged
	// after it (honoured); a third: purged before the objection
	// (a purge for another reason proves nothing about this objection).
	h.decide("call-ok", "agent-2", at.Add(time.Hour), true, pvA)
	h.rec(audit.KindRecordingStarted, "call-ok", "rec-ok", at.Add(time.Hour+5*time.Second), "policy", "")
	h.object("call-ok", at.Add(time.Hour+30*time.Second))
	h.purge("call-ok", "rec-ok", at.Add(time.Hour+31*time.Second))
	h.decide("call-early", "agent-2", at.Add(2*time.Hour), true, pvA)
	h.rec(audit.KindRecordingStarted, "call-early", "rec-early-1", at.Add(2*time.Hour+5*time.Second), "policy", "")
	h.purge("call-early", "rec-early-1", at.Add(2*time.Hour+6*time.Second))
	h.rec(audit.KindRecordingStarted, "call-early", "rec-early-2", at.Add(2*time.Hour+7*time.Second), "policy", "")
	h.object("call-early", at.Add(2*time.Hour+30*time.Second))

	rep := h.build(period)
	var obj []report.Violation
	for _, v := range rep.Violations {
		if v.Kind == report.ViolationObjection {
			obj = append(obj, v)
		}
	}
	if len(obj) != 2 {
		t.Fatalf("objection violations: %+v", rep.Violations)
	}
	if obj[0].CallID != "call-obj" || obj[0].RecordingID != "rec-obj" || !strings.Contains(obj[0].Detail, "call-obj") || obj[0].Rule != "R15" {
		t.Errorf("first: %+v", obj[0])
	}
	if obj[1].CallID != "call-early" || !strings.Contains(obj[1].RecordingID, "rec-early-1") || !strings.Contains(obj[1].RecordingID, "rec-early-2") {
		t.Errorf("second: %+v", obj[1])
	}
	n := rep.Notices
	if n.Objections != 3 || n.Honoured != 1 || n.NotHonoured != 2 || n.Interrupted != 1 || n.Interruptions[0].Key != "hang-up" {
		t.Errorf("notices %+v", n)
	}
}

func TestObjectionUnderStatuteIsNoViolation(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	d := policy.Decision{Record: true, Purpose: policy.LegalObligation, Mode: policy.ModeStatute, Reason: policy.ReasonStatute,
		Profile: policy.ProfileMiFID, PolicyVersion: pvA, OnObjection: policy.ObjectionNotApplicable}
	h.append(d.AuditEvent("call-mifid", at))
	h.rec(audit.KindRecordingStarted, "call-mifid", "rec-mifid", at.Add(time.Second), "policy", "")
	h.object("call-mifid", at.Add(20*time.Second))
	rep := h.build(period)
	if len(rep.Violations) != 0 || rep.Notices.NotApplicable != 1 {
		t.Fatalf("violations %+v, notices %+v", rep.Violations, rep.Notices)
	}
	// Statute calls are not near-systematic, even recorded every time.
	if len(rep.Sampling.Flagged) != 0 || rep.Sampling.Rules[0].Target != "every in-scope call (statute)" {
		t.Errorf("sampling %+v", rep.Sampling)
	}
}

func TestAccessWithoutTheRoleIsAViolation(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	h.decide("call-a", "agent-1", at, true, pvA)
	h.notice("call-a", at.Add(9*time.Second), true)
	r := h.record("call-a", "rec-a", at.Add(10*time.Second), time.Minute)
	// A host that bypassed the gate logged a trainer opening a quality
	// recording.
	h.append(audit.Event{Kind: audit.KindAccess, Time: at.Add(time.Hour), CallID: "call-a", RecordingID: "rec-a",
		Actor: "tr-eve", Role: string(policy.RoleTrainer), Reason: "curious", Purpose: string(policy.Quality),
		Attrs: []audit.Attr{{Key: "action", Value: "download"}}})
	// And a lawyer with no hold in force.
	h.append(audit.Event{Kind: audit.KindAccess, Time: at.Add(2 * time.Hour), CallID: "call-a", RecordingID: "rec-a",
		Actor: "law-fay", Role: string(policy.RoleLegal), Reason: "just checking", Purpose: string(policy.Quality),
		Attrs: []audit.Attr{{Key: "action", Value: "listen"}}})
	// A supervisor through the real gate: the purpose allows it...
	if err := h.open(at.Add(3*time.Hour), "sup-gus", policy.RoleSupervisor, "rec-a", "coaching"); err != nil {
		t.Fatal(err)
	}
	h.sweep(r.Deadline.Add(time.Minute))
	rep := h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationAccessRole, report.ViolationAccessRole}) {
		t.Fatalf("violations %+v", rep.Violations)
	}
	if v := rep.Violations[0]; v.RecordingID != "rec-a" || !strings.Contains(v.Detail, "tr-eve") || v.Rule != "R25" {
		t.Errorf("first %+v", v)
	}
	if v := rep.Violations[1]; !strings.Contains(v.Detail, "law-fay") || !strings.Contains(v.Detail, "no legal hold") {
		t.Errorf("second %+v", v)
	}
	if rep.Access.OutsideRoles != 2 || len(rep.Integrity.Breaches) != 2 || rep.Access.Openings[2].WithinRoles != true {
		t.Errorf("access %+v breaches %+v", rep.Access, rep.Integrity.Breaches)
	}
	// ... but a policy whose quality rule narrows access to the quality
	// team makes the supervisor's opening a violation too.
	pol := &policy.Policy{Profile: policy.ProfileFR, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeSampling,
		Rate: 0.1, AccessRoles: []policy.Role{policy.RoleQuality}}}}
	o := period
	o.Policy = pol
	if rep := h.build(o); len(rep.Violations) != 3 || !strings.Contains(rep.Violations[2].Detail, "sup-gus") {
		t.Errorf("with a narrowing policy: %+v", rep.Violations)
	}
}

func TestPastDeadlineNotHeldIsAViolation(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	h.record("call-p", "rec-p", at, time.Minute)                     // deadline 2026-12-02: past on 2027-01-01
	h.record("call-q", "rec-q", at, time.Minute)                     // the same, under hold
	h.record("call-r", "rec-r", jan.Add(-48*time.Hour), time.Minute) // not due
	h.hold(at.Add(time.Hour), "rec-q", "RG 1")
	rep := h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationPastDeadline}) {
		t.Fatalf("violations %+v", rep.Violations)
	}
	if v := rep.Violations[0]; v.RecordingID != "rec-p" || v.Index != nil {
		t.Errorf("violation %+v", v)
	}
	q := rep.Retention.ByPurpose[0]
	if q.Purpose != "quality" || q.Count != 3 || q.Held != 1 || q.PastDeadline != 1 || q.Ages[2] != 2 || q.Ages[0] != 1 {
		t.Errorf("by purpose %+v", rep.Retention.ByPurpose)
	}
	if hd := rep.Retention.Holds; len(hd) != 1 || hd[0].RecordingID != "rec-q" || hd[0].AgeDays != 59 {
		t.Errorf("holds %+v", hd)
	}
}

func TestPauseLongerThanMaxPause(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	h.rec(audit.KindRecordingStarted, "call-x", "rec-x", at, "policy", "")
	h.rec(audit.KindRecordingPaused, "call-x", "rec-x", at.Add(time.Minute), "agent-1", "card data")
	h.rec(audit.KindRecordingResumed, "call-x", "rec-x", at.Add(8*time.Minute), "agent-1", "")
	// Resumed by the recorder at MaxPause: no violation, counted.
	h.rec(audit.KindRecordingPaused, "call-x", "rec-x", at.Add(9*time.Minute), "agent-1", "card data")
	h.rec(audit.KindRecordingResumed, "call-x", "rec-x", at.Add(14*time.Minute+20*time.Millisecond), "system", "max-pause",
		audit.Attr{Key: "max_pause", Value: "5m0s"})
	// Ended by the stop.
	h.rec(audit.KindRecordingPaused, "call-x", "rec-x", at.Add(15*time.Minute), "agent-1", "card data")
	h.rec(audit.KindRecordingStopped, "call-x", "rec-x", at.Add(15*time.Minute+10*time.Second), "policy", "")
	rep := h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationPauseTooLong}) {
		t.Fatalf("violations %+v", rep.Violations)
	}
	p := rep.Pauses
	if p.Pauses != 3 || p.TooLong != 1 || p.AutoResumed != 1 || p.Open != 0 || p.Lengths[4].Count != 1 || p.Lengths[3].Count != 1 ||
		p.Lengths[0].Count != 1 || p.PerCall[0].LongestSecs != 420 {
		t.Errorf("pauses %+v", p)
	}
	// With MaxPause 10 minutes, the 7-minute pause is allowed.
	o := period
	o.MaxPause = 10 * time.Minute
	if rep := h.build(o); len(rep.Violations) != 0 {
		t.Errorf("MaxPause 10m: %+v", rep.Violations)
	}
}

func TestEmptyMonthIsAValidReport(t *testing.T) {
	h := newHistory(t)
	h.clean() // November and December
	o := report.Options{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: nov, Now: nov}
	rep := h.build(o)
	if !rep.Integrity.Verified || rep.Integrity.InPeriod != 0 || rep.Sampling.Decided != 0 || rep.Sampling.Share.N != 0 ||
		rep.Notices.Played != 0 || rep.Access.Granted != 0 || rep.Pauses.Pauses != 0 || len(rep.Violations) != 0 {
		t.Fatalf("empty month: %+v", rep)
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	checkJSONKeys(t, b.Bytes())
	// Every list is a list, never null: scripts can iterate.
	if strings.Contains(b.String(), "null") {
		t.Errorf("null in the JSON of an empty report:\n%s", b.String())
	}
	b.Reset()
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	// An empty log, too.
	empty := audittest.NewLog("empty.example/audit", nil)
	rep, err := report.Build(context.Background(), report.Source{Log: empty}, o)
	if err != nil || !rep.Integrity.Verified || rep.Integrity.Entries != 0 || len(rep.Violations) != 0 {
		t.Fatalf("empty log: %v %+v", err, rep)
	}
}

func checkJSONKeys(t *testing.T, b []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sampling", "notices", "retention", "access", "pauses", "integrity", "violations"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}

func TestTwoPolicyVersionsAreBothShown(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	for i := range 30 {
		v := pvA
		if i >= 10 {
			v = pvB
		}
		h.decide("call-v"+string(rune('a'+i)), "agent-1", at.Add(time.Duration(i)*time.Hour), i%10 == 0, v)
	}
	rep := h.build(period)
	vs := rep.Sampling.Versions
	if len(vs) != 2 || vs[0].Version != pvA || vs[0].Decided != 10 || vs[1].Version != pvB || vs[1].Decided != 20 {
		t.Fatalf("versions %+v", vs)
	}
	if len(rep.Sampling.Rules) != 2 || rep.Sampling.Rules[0].PolicyVersion != pvA || rep.Sampling.Rules[1].PolicyVersion != pvB {
		t.Errorf("rules %+v", rep.Sampling.Rules)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), pvA) || !strings.Contains(b.String(), pvB) {
		t.Errorf("text lacks a version:\n%s", b.String())
	}
}

func TestPrunedPayloadsAreCountedAsPruned(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	h.decide("call-old", "agent-1", at, true, pvA)
	h.notice("call-old", at, true)
	h.rec(audit.KindRecordingStarted, "call-old", "rec-old", at.Add(time.Second), "policy", "")
	h.object("call-old", at.Add(20*time.Second))
	h.purge("call-old", "rec-old", at.Add(21*time.Second))
	h.append(audit.Event{Kind: audit.KindAccess, Time: at.Add(time.Hour), RecordingID: "rec-x", Actor: "tr-eve",
		Role: "trainer", Reason: "r", Purpose: "quality"})
	// The purges of November are pruned (not their objection), and the
	// access log: the objection can no longer be checked, and nothing
	// pruned may read as a violation.
	if _, err := h.log.Prune(context.Background(), at.Add(2*time.Hour), audit.KindRecordingPurged, audit.KindAccess); err != nil {
		t.Fatal(err)
	}
	rep := h.build(period)
	if len(rep.Violations) != 0 {
		t.Fatalf("violations from pruned evidence: %+v", rep.Violations)
	}
	if rep.Integrity.Pruned != 2 || rep.Access.Pruned != 1 || rep.Notices.Uncheckable != 1 || rep.Notices.Objections != 1 {
		t.Errorf("pruned %d, access %+v, notices %+v", rep.Integrity.Pruned, rep.Access, rep.Notices)
	}
	if want := []report.KindCount{{Kind: "recording-purged", Count: 1}, {Kind: "access", Count: 1}}; !slices.Equal(rep.Integrity.PrunedByKind, want) {
		t.Errorf("pruned by kind %+v", rep.Integrity.PrunedByKind)
	}
	if len(rep.Integrity.AuditPrunes) != 1 {
		t.Errorf("audit prunes %+v", rep.Integrity.AuditPrunes)
	}
	// Prune everything: the report is still verified, just empty of
	// payloads.
	if _, err := h.log.Prune(context.Background(), jan); err != nil {
		t.Fatal(err)
	}
	rep = h.build(period)
	if !rep.Integrity.Verified || len(rep.Violations) != 0 || rep.Sampling.PrunedDecisions != 1 || rep.Notices.Pruned != 2 {
		t.Errorf("all pruned: %+v", rep)
	}
}

func TestNearSystematicAgentIsFlagged(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	for i := range 12 {
		call := "call-s" + string(rune('a'+i))
		h.decide(call, "agent-9", at.Add(time.Duration(i)*time.Hour), true, pvA)
		h.rec(audit.KindRecordingStarted, call, "rec-"+call, at.Add(time.Duration(i)*time.Hour+time.Second), "policy", "")
		h.decide(call+"-other", "agent-1", at.Add(time.Duration(i)*time.Hour+time.Minute), false, pvA)
	}
	rep := h.build(period)
	if !slices.Equal(rep.Sampling.Flagged, []string{"agent-9"}) || !rep.Sampling.Agents[1].Flagged || rep.Sampling.Agents[0].Flagged {
		t.Fatalf("flagged %v agents %+v", rep.Sampling.Flagged, rep.Sampling.Agents)
	}
	// 12 of 24 drawn at a 10 % rate: not consistent with the rate.
	if r := rep.Sampling.Rules[0]; r.Consistent == nil || *r.Consistent {
		t.Errorf("rule %+v", r)
	}
}

func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{47, 400, 0.08952194095010377, 0.15275496421563303}, // 11.8 % of 400 is still "10 %"
		{5, 5, 0.5655175352168251, 1},
		{0, 10, 0, 0.2775327998628899},
		{0, 0, 0, 1},
	} {
		lo, hi := report.Wilson(c.k, c.n)
		if math.Abs(lo-c.lo) > 1e-12 || math.Abs(hi-c.hi) > 1e-12 {
			t.Errorf("Wilson(%d, %d) = [%v, %v], want [%v, %v]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
	if s := report.NewShare(47, 400); !s.Contains(0.10) || s.Contains(0.2) || s.String() != "11.8 % [9.0–15.3] of 400" {
		t.Errorf("share %+v %s", s, s)
	}
}

// tampered is a log whose entry bad reads back with another leaf.
type tampered struct {
	*audittest.MemLog
	bad  uint64
	edit func(*audit.Entry)
	key  note.Verifier
}

func (l *tampered) Entry(ctx context.Context, i uint64) (audit.Entry, error) {
	en, err := l.MemLog.Entry(ctx, i)
	if i == l.bad && l.edit != nil {
		l.edit(&en)
	}
	return en, err
}

func (l *tampered) VerifierKey() note.Verifier {
	if l.key != nil {
		return l.key
	}
	return l.MemLog.VerifierKey()
}

func TestLogThatDoesNotVerify(t *testing.T) {
	h := newHistory(t)
	h.clean()
	other := audittest.NewLog("test.example/audit", nil)
	for name, l := range map[string]*tampered{
		"entry rewritten": {MemLog: h.log, bad: 5, edit: func(en *audit.Entry) { en.Commitment[0] ^= 1 }},
		"entry reordered": {MemLog: h.log, bad: 7, edit: func(en *audit.Entry) { en.Time = en.Time.Add(-time.Hour) }},
		"chain broken":    {MemLog: h.log, bad: 9, edit: func(en *audit.Entry) { en.Prev[3] ^= 1 }},
		"another key":     {MemLog: h.log, key: other.VerifierKey()},
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := report.Build(context.Background(), report.Source{Log: l, Catalog: h.cat}, period)
			if !errors.Is(err, report.ErrUnverified) {
				t.Fatalf("err = %v, want ErrUnverified", err)
			}
			if rep == nil || rep.Integrity.Verified || rep.Integrity.Error == "" || rep.Sampling.Decided != 0 ||
				len(rep.Violations) != 1 || rep.Violations[0].Kind != report.ViolationUnverified {
				t.Fatalf("report %+v", rep)
			}
			if !strings.Contains(rep.Summary(), "DOES NOT VERIFY") {
				t.Errorf("summary %q", rep.Summary())
			}
			var b bytes.Buffer
			if err := rep.WriteHTML(&b); err != nil || !strings.Contains(b.String(), "does not verify") {
				t.Errorf("html: %v", err)
			}
		})
	}
	// A Verify func that fails (audit.VerifyFS's *VerifyError) says so too.
	ve := &audit.VerifyError{Index: 3, Problem: audit.ProblemChain, Msg: "x"}
	rep, err := report.Build(context.Background(), report.Source{Log: h.log,
		Verify: func(context.Context) (*audit.Report, error) { return nil, ve }}, period)
	if !errors.Is(err, report.ErrUnverified) || !errors.As(err, &ve) || rep.Integrity.Verified {
		t.Fatalf("Verify failing: %v %+v", err, rep)
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := report.Build(ctx, report.Source{}, period); !errors.Is(err, report.ErrNoSource) {
		t.Errorf("no log: %v", err)
	}
	if _, err := report.Build(ctx, report.Source{Log: readerOnly{audittest.NewLog("x", nil)}}, period); !errors.Is(err, report.ErrNoSource) {
		t.Errorf("log without checkpoints nor Verify: %v", err)
	}
	if _, err := report.Build(ctx, report.Source{Log: audittest.NewLog("x", nil)}, report.Options{From: jan, To: nov}); err == nil {
		t.Error("a period ending before it starts was accepted")
	}
	h := newHistory(t)
	h.clean()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := report.Build(cctx, report.Source{Log: h.log}, period); !errors.Is(err, context.Canceled) || errors.Is(err, report.ErrUnverified) {
		t.Errorf("cancelled: %v", err)
	}
}

type readerOnly struct{ l *audittest.MemLog }

func (r readerOnly) Size() uint64 { return r.l.Size() }
func (r readerOnly) Entry(ctx context.Context, i uint64) (audit.Entry, error) {
	return r.l.Entry(ctx, i)
}

// TestEntriesSource reads through Source.Entries with a Verify func, as the
// command line does with audit.ReadFS and audit.VerifyFS: only the
// verified entries are reported on.
func TestEntriesSource(t *testing.T) {
	h := newHistory(t)
	h.clean()
	want := h.build(period)
	verified := h.log.Size()
	// Entries appended after the verification are not reported on.
	h.decide("call-after", "agent-1", nov.Add(50*time.Hour), true, pvA)
	src := report.Source{
		Catalog: h.cat,
		Verify: func(ctx context.Context) (*audit.Report, error) {
			return &audit.Report{Origin: "test.example/audit", Entries: verified, Checkpoint: audit.Checkpoint{Size: verified}}, nil
		},
		Entries: func(ctx context.Context, fn func(audit.Entry) error) error {
			for i := range h.log.Size() {
				en, err := h.log.Entry(ctx, i)
				if err != nil {
					return err
				}
				if err := fn(en); err != nil {
					return err
				}
			}
			return nil
		},
	}
	got, err := report.Build(context.Background(), src, period)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sampling.Decided != want.Sampling.Decided || got.Integrity.Entries != verified {
		t.Errorf("decided %d (want %d), entries %d (want %d)", got.Sampling.Decided, want.Sampling.Decided, got.Integrity.Entries, verified)
	}
	// A source that ends before the verified count is not proven.
	src.Verify = func(ctx context.Context) (*audit.Report, error) {
		return &audit.Report{Entries: verified + 5}, nil
	}
	if _, err := report.Build(context.Background(), src, period); err == nil {
		t.Error("a source shorter than what was verified was accepted")
	}
}

// TestResumedDeletionCountedOnce: a sweep killed after auditing a deletion
// and before removing the row logs it again on the next sweep.
func TestResumedDeletionCountedOnce(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	r := h.record("call-d", "rec-d", at, time.Minute)
	for i, resumed := range []bool{false, true} {
		e := audit.Event{Kind: audit.KindRetentionDeleted, Time: r.Deadline.Add(time.Duration(10+i) * time.Minute), CallID: "call-d",
			RecordingID: "rec-d", Actor: "system", Reason: "retention deadline passed", Purpose: "quality", SHA256: r.SHA256,
			Attrs: []audit.Attr{{Key: "cause", Value: "expiry"}, {Key: "deadline", Value: r.Deadline.Format(time.RFC3339Nano)}}}
		if resumed {
			e.Attrs = append(e.Attrs, audit.Attr{Key: "resumed", Value: "true"})
		}
		h.append(e)
	}
	if _, err := h.cat.BeginDelete(h.ctx, "rec-d", "expiry"); err != nil {
		t.Fatal(err)
	}
	if err := h.cat.Remove(h.ctx, "rec-d"); err != nil {
		t.Fatal(err)
	}
	rep := h.build(period)
	if rep.Retention.Deleted != 1 || rep.Retention.Lateness[1].Count != 1 || len(rep.Violations) != 0 {
		t.Errorf("retention %+v violations %+v", rep.Retention, rep.Violations)
	}
}

func TestCapAndGridOverruns(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(33 * time.Hour) // 2026-11-02 09:00
	sel := func(call, agent string, t time.Time, mode policy.Mode, rule string, extra audit.Attr) {
		d := policy.Decision{Record: true, Purpose: policy.Quality, Mode: mode, Reason: policy.ReasonSampled, PolicyVersion: pvA}
		e := d.AuditEvent(call, t)
		e.Attrs = append(e.Attrs, audit.Attr{Key: "agent", Value: agent}, audit.Attr{Key: "rule", Value: rule}, extra)
		h.append(e)
	}
	capAttr := audit.Attr{Key: "cap", Value: "2/day"}
	sel("c1", "agent-1", at, policy.ModeSampling, "0", capAttr)
	sel("c2", "agent-2", at.Add(time.Hour), policy.ModeSampling, "0", capAttr)
	sel("c3", "agent-1", at.Add(2*time.Hour), policy.ModeSampling, "0", capAttr) // third that day
	sel("c4", "agent-1", at.Add(24*time.Hour), policy.ModeSampling, "0", capAttr)
	gridAttr := audit.Attr{Key: "grid", Value: "1/week"}
	sel("g1", "agent-1", at, policy.ModeGrid, "1", gridAttr)
	sel("g2", "agent-2", at, policy.ModeGrid, "1", gridAttr)
	sel("g3", "agent-1", at.Add(48*time.Hour), policy.ModeGrid, "1", gridAttr) // same ISO week
	sel("g4", "agent-1", at.Add(7*24*time.Hour), policy.ModeGrid, "1", gridAttr)
	rep := h.build(period)
	rules := rep.Sampling.Rules
	if len(rules) != 2 || !slices.Equal(rules[0].Overruns, []string{"2026-11-02: 3 > cap 2"}) ||
		!slices.Equal(rules[1].Overruns, []string{"agent-1 2026-W45: 2 > grid 1"}) {
		t.Fatalf("rules %+v", rules)
	}
	if rules[0].Target != "cap 2 per day" || rules[1].Target != "1 per agent per week" {
		t.Errorf("targets %q %q", rules[0].Target, rules[1].Target)
	}
}

func TestRecordedBeforeNoticeOrConsent(t *testing.T) {
	h := newHistory(t)
	at := nov.Add(40 * time.Hour)
	decide := func(call string, at time.Time, req policy.Requirement) {
		d := policy.Decision{Record: true, Purpose: policy.Quality, Mode: policy.ModeSampling, Reason: policy.ReasonSampled,
			Profile: policy.ProfileDE, PolicyVersion: pvA, Requires: req, OnObjection: policy.ObjectionStopAndPurge}
		h.append(d.AuditEvent(call, at))
	}
	consent := func(call string, at time.Time) {
		h.append(notice.Answer{Action: notice.ActionConsent, Key: '1', Method: notice.MethodRFC4733, Party: notice.PartyCaller,
			Time: at, Version: "v1", Actor: "system"}.Event(call))
	}
	start := func(call string, at time.Time) {
		h.rec(audit.KindRecordingStarted, call, "rec-"+call, at, "policy", "")
	}
	// Lawful: notice, consent, then the recording.
	decide("de-ok", at, policy.NeedNotice|policy.NeedConsent)
	h.notice("de-ok", at.Add(8*time.Second), true)
	consent("de-ok", at.Add(9*time.Second))
	start("de-ok", at.Add(10*time.Second))
	// Recorded before the caller consented.
	decide("de-early", at.Add(time.Hour), policy.NeedNotice|policy.NeedConsent)
	h.notice("de-early", at.Add(time.Hour+8*time.Second), true)
	start("de-early", at.Add(time.Hour+9*time.Second))
	consent("de-early", at.Add(time.Hour+20*time.Second))
	// Recorded although the notice was interrupted.
	decide("fr-cut", at.Add(2*time.Hour), policy.NeedNotice)
	h.notice("fr-cut", at.Add(2*time.Hour+8*time.Second), false)
	start("fr-cut", at.Add(2*time.Hour+9*time.Second))
	rep := h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationNoConsent, report.ViolationNoNotice}) {
		t.Fatalf("violations %+v", rep.Violations)
	}
	if v := rep.Violations[0]; v.CallID != "de-early" || v.Rule != "R16" || !strings.Contains(v.Detail, "it came at") {
		t.Errorf("consent violation %+v", v)
	}
	if v := rep.Violations[1]; v.CallID != "fr-cut" || v.Rule != "R14" || v.RecordingID != "rec-fr-cut" {
		t.Errorf("notice violation %+v", v)
	}
	if rep.Notices.Checked != 5 || rep.Notices.CaptureUncheckable != 0 {
		t.Errorf("notices %+v", rep.Notices)
	}
	// Once the notices are pruned, the notice checks cannot be made: no
	// violation from missing evidence.
	if _, err := h.log.Prune(context.Background(), jan, audit.KindNoticePlayed); err != nil {
		t.Fatal(err)
	}
	rep = h.build(period)
	if got := kinds(rep.Violations); !slices.Equal(got, []string{report.ViolationNoConsent}) || rep.Notices.CaptureUncheckable != 3 {
		t.Errorf("after pruning the notices: %v, %+v", got, rep.Notices)
	}
}
