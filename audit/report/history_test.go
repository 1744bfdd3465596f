package report_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// Times of the histories: calls on 2026-11-02, deletions a month later; the
// report covers November and December 2026 and is judged on 2027-01-01.
var (
	nov    = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
	jan    = time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC)
	period = report.Options{From: nov, To: jan, Now: jan}
)

const (
	pvA = "pv1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pvB = "pv1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// history writes a known story into an in-memory audit log and catalog,
// through the real producers where they exist (policy decisions, notice
// receipts and answers, the retention sweeper, gate and holds) and in the
// recorder's exact shape otherwise.
type history struct {
	t     *testing.T
	ctx   context.Context
	log   *audittest.MemLog
	cat   *retention.MemCatalog
	store *retentiontest.Store
	now   time.Time // the clock of the retention components
}

func newHistory(t *testing.T) *history {
	t.Helper()
	return &history{t: t, ctx: context.Background(), log: audittest.NewLog("test.example/audit", nil),
		cat: retention.NewMemCatalog(), store: &retentiontest.Store{}}
}

func (h *history) append(e audit.Event) uint64 {
	h.t.Helper()
	i, err := h.log.Append(h.ctx, e)
	if err != nil {
		h.t.Fatal(err)
	}
	return i
}

// decide logs the decision at the start of a call, with the attributes the
// engine adds (agent, rule, rate).
func (h *history) decide(call, agent string, at time.Time, record bool, version string) {
	d := policy.Decision{Record: record, Capture: record, Mode: policy.ModeSampling, Profile: policy.ProfileFR,
		PolicyVersion: version, Reason: policy.ReasonNotSampled, OnObjection: policy.ObjectionStopAndPurge,
		Requires: policy.NeedNotice}
	if record {
		d.Purpose, d.Reason, d.Deadline = policy.Quality, policy.ReasonSampled, at.AddDate(0, 0, 30)
	}
	e := d.AuditEvent(call, at)
	e.Attrs = append(e.Attrs, audit.Attr{Key: "agent", Value: agent}, audit.Attr{Key: "rule", Value: "0"},
		audit.Attr{Key: "rate", Value: "0.1"})
	h.append(e)
}

func (h *history) notice(call string, at time.Time, completed bool) {
	r := notice.Receipt{CallID: call, Party: notice.PartyCaller, Prompt: "fr-quality", Version: "v1",
		Start: at.Add(-8 * time.Second), End: at, Played: 8 * time.Second}
	if !completed {
		r.Interrupted = notice.InterruptHangup
	}
	h.append(r.Event())
}

func (h *history) object(call string, at time.Time) uint64 {
	a := notice.Answer{Action: notice.ActionObjection, Key: '9', Method: notice.MethodRFC4733,
		Party: notice.PartyCaller, Time: at, Version: "v1", Actor: "system"}
	return h.append(a.Event(call))
}

// rec logs a recorder event in the shape recorder.Recorder appends it.
func (h *history) rec(k audit.Kind, call, id string, at time.Time, actor, reason string, attrs ...audit.Attr) {
	h.append(audit.Event{Kind: k, Time: at, CallID: call, RecordingID: id, Actor: actor, Reason: reason,
		Purpose: string(policy.Quality), PolicyVersion: pvA, Attrs: attrs})
}

// record logs a dual-channel recording of call from at to at+d, and
// catalogues it (created at the end).
func (h *history) record(call, id string, at time.Time, d time.Duration) retention.Recording {
	h.t.Helper()
	h.rec(audit.KindRecordingStarted, call, id, at, "policy", "", audit.Attr{Key: "layout", Value: "dual"}, audit.Attr{Key: "group", Value: id})
	h.rec(audit.KindRecordingStopped, call, id, at.Add(d), "policy", "")
	sum := h.store.Put(id, []byte("audio of "+id))
	h.append(audit.Event{Kind: audit.KindRecordingFinalized, Time: at.Add(d), CallID: call, RecordingID: id, Actor: "policy",
		Purpose: string(policy.Quality), PolicyVersion: pvA, SHA256: sum,
		Attrs: []audit.Attr{{Key: "layout", Value: "dual"}, {Key: "duration", Value: d.String()}, {Key: "gaps", Value: "0"}}})
	r, err := retention.New(retention.Entry{ID: id, CallID: call, Purpose: policy.Quality, Created: at.Add(d), SHA256: sum})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.cat.Add(h.ctx, r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *history) purge(call, id string, at time.Time) {
	h.rec(audit.KindRecordingPurged, call, id, at, "system", "objection")
}

func (h *history) clock() time.Time { return h.now }

// sweep runs the real sweeper at at.
func (h *history) sweep(at time.Time) retention.Report {
	h.t.Helper()
	h.now = at
	s := &retention.Sweeper{Catalog: h.cat, Store: h.store, Audit: h.log, Now: h.clock}
	rep, err := s.Sweep(h.ctx, at)
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// open asks the real gate at at.
func (h *history) open(at time.Time, who string, role policy.Role, id, reason string) error {
	h.now = at
	// The fake authorizer believes the claim: the history is the test's.
	g := &retention.Gate{Catalog: h.cat, Store: h.store, Audit: h.log, Now: h.clock, Authorizer: &retentiontest.Authorizer{}}
	rc, err := g.Open(h.ctx, retention.Principal{ID: who, Role: role}, id, retention.ActionListen, reason)
	if err == nil {
		rc.Close()
	}
	return err
}

func (h *history) hold(at time.Time, id, ref string) {
	h.t.Helper()
	h.now = at
	hs := &retention.Holds{Catalog: h.cat, Audit: h.log, Now: h.clock}
	if _, err := hs.Set(h.ctx, id, ref, "dpo-1"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *history) build(opts report.Options) *report.Report {
	h.t.Helper()
	rep, err := report.Build(h.ctx, report.Source{Log: h.log, Catalog: h.cat}, opts)
	if err != nil {
		h.t.Fatalf("Build: %v", err)
	}
	return rep
}

// clean writes a month of lawful activity: 40 calls over 4 agents, 4 of
// them sampled and recorded after a completed notice, one objection
// honoured by a purge, recordings opened by the quality team and deleted
// on time, a legal hold and a lawyer's access under it, one short pause.
func (h *history) clean() {
	h.t.Helper()
	day := nov.Add(24*time.Hour + 9*time.Hour) // 2026-11-02 09:00
	for i := range 40 {
		call := fmt.Sprintf("call-%02d", i)
		at := day.Add(time.Duration(i) * 30 * time.Minute)
		agent := "agent-" + strconv.Itoa(i%4)
		sampled := i%10 == 3
		h.decide(call, agent, at, sampled, pvA)
		if !sampled {
			continue
		}
		h.notice(call, at.Add(10*time.Second), true)
		id := "rec-" + call
		start := at.Add(11 * time.Second)
		if i == 13 {
			// The caller objects mid-call: the recording is purged.
			h.rec(audit.KindRecordingStarted, call, id, start, "policy", "", audit.Attr{Key: "group", Value: id})
			h.object(call, start.Add(40*time.Second))
			h.rec(audit.KindRecordingStopped, call, id, start.Add(41*time.Second), "policy", "")
			h.purge(call, id, start.Add(41*time.Second))
			continue
		}
		if i == 23 {
			// A 30-second card-data pause.
			h.rec(audit.KindRecordingStarted, call, id, start, "policy", "", audit.Attr{Key: "group", Value: id})
			h.rec(audit.KindRecordingPaused, call, id, start.Add(time.Minute), "agent-3", "card data")
			h.rec(audit.KindRecordingResumed, call, id, start.Add(90*time.Second), "agent-3", "")
			h.rec(audit.KindRecordingStopped, call, id, start.Add(3*time.Minute), "policy", "")
			continue
		}
		h.record(call, id, start, 5*time.Minute)
	}
	// The quality team listens, a supervisor too.
	if err := h.open(day.Add(48*time.Hour), "q-ann", policy.RoleQuality, "rec-call-03", "monthly quality review"); err != nil {
		h.t.Fatal(err)
	}
	if err := h.open(day.Add(49*time.Hour), "sup-bob", policy.RoleSupervisor, "rec-call-33", "coaching"); err != nil {
		h.t.Fatal(err)
	}
	// A trainer is refused (the gate's refusal is no violation).
	if err := h.open(day.Add(50*time.Hour), "tr-carl", policy.RoleTrainer, "rec-call-03", "training"); err == nil {
		h.t.Fatal("trainer let in")
	}
	// A legal hold, then a lawyer listens.
	h.hold(day.Add(72*time.Hour), "rec-call-33", "RG 26/00042")
	if err := h.open(day.Add(73*time.Hour), "law-dan", policy.RoleLegal, "rec-call-33", "court request"); err != nil {
		h.t.Fatal(err)
	}
	// The sweeper deletes rec-call-03 (deadline 30 days after creation)
	// within the hour; rec-call-33 is held.
	r, err := h.cat.Get(h.ctx, "rec-call-03")
	if err != nil {
		h.t.Fatal(err)
	}
	if rep := h.sweep(r.Deadline.Add(20 * time.Minute)); len(rep.Deleted) != 1 {
		h.t.Fatalf("sweep: %+v", rep)
	}
}
