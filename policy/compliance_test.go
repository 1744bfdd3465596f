package policy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
)

// Issue 11, R1: quasi-systematic sampling, uncapped high rates, oversized
// grids and free-text statutes are refused, naming the field and the rule.
func TestR1Refusals(t *testing.T) {
	for _, tc := range []struct {
		name, js, field, rule string
	}{
		{"rate 0.999999999", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.999999999}]}`, "rules[0].rate", "R1"},
		{"rate 0.99", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.99,"cap":{"max":5,"per":"day"}}]}`, "rules[0].rate", "R1"},
		{"rate 0.51", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.51,"cap":{"max":5,"per":"day"}}]}`, "rules[0].rate", "R1"},
		{"rate 0.21 without cap", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.21}]}`, "rules[0].cap", "R1"},
		{"rates add above 0.5", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.2},{"purpose":"training","mode":"sampling","rate":0.2},{"purpose":"evaluation","mode":"sampling","rate":0.2}]}`, "rules", "R1"},
		{"grid 100000 a day", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":100000,"per":"day"}}]}`, "rules[0].grid.per_agent", "R1"},
		{"grid 5 a day", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":5,"per":"day"}}]}`, "rules[0].grid.per_agent", "R1"},
		{"grid 11 a week", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":11,"per":"week"}}]}`, "rules[0].grid.per_agent", "R1"},
		{"grid 21 a month", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":21,"per":"month"}}]}`, "rules[0].grid.per_agent", "R1"},
		{"grid over half the expected calls", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"day","expected_calls_per_agent":7}}]}`, "rules[0].grid.per_agent", "R1"},
		{"free-text statute", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"x"}]}`, "rules[0].statute", "R1"},
		{"near-miss statute", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II"}]}`, "rules[0].statute", "R1"},
		{"agent cap zero", `{"rules":[{"purpose":"contract-proof","mode":"agent","cap":{"max":0,"per":"day"}}]}`, "rules[0].cap.max", "R2"},
		{"grid with cap", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"},"cap":{"max":1,"per":"day"}}]}`, "rules[0].cap", "R2"},
		{"mifid P1D", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P1D"}]}`, "rules[0].retention", "R11"},
		{"mifid P7Y without request", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y"}]}`, "rules[0].retention", "R11"},
		{"mifid P6Y", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P6Y"}]}`, "rules[0].retention", "R11"},
		{"request without need", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P5Y","authority_request":"AMF 1"}]}`, "rules[0].authority_request", "R11"},
		{"blank request", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y","authority_request":" "}]}`, "rules[0].authority_request", "R11"},
		{"request without statute", `{"rules":[{"purpose":"quality","mode":"agent","authority_request":"AMF 1"}]}`, "rules[0].authority_request", "R11"},
		{"insurance extended", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2","retention":"P3Y","authority_request":"ACPR 1"}]}`, "rules[0].authority_request", "R12"},
		{"insurance 1 year", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2","retention":"P1Y"}]}`, "rules[0].retention", "R12"},
		{"insurance 3 years", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2","retention":"P3Y"}]}`, "rules[0].retention", "R12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tc.js))
			var ce *policy.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field, "field; error: %v", err)
			assert.Equal(t, tc.rule, ce.Rule, "rule; error: %v", err)
			assert.ErrorIs(t, err, policy.ErrRefused)
		})
	}
}

func TestR1Accepts(t *testing.T) {
	for _, js := range []string{
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.2}]}`,
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":50,"per":"day"}}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"day"}}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":10,"per":"week","expected_calls_per_agent":20}}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":20,"per":"month"}}]}`,
		`{"rules":[{"purpose":"contract-proof","mode":"agent","cap":{"max":3,"per":"day"}}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"supervisor","cap":{"max":2,"per":"week"}}]}`,
		`{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":" FCA SYSC 10A "}]}`,
		`{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"RG AMF 312-39","retention":"P7Y","authority_request":"AMF letter 2026-117"}]}`,
		`{"rules":[{"purpose":"legal-obligation","mode":"sampling","rate":0.9,"statute":"MiFID II Art. 16(7)"}]}`,
	} {
		_, err := policy.Parse([]byte(js))
		assert.NoError(t, err, js)
	}
	for _, s := range policy.Statutes() {
		js := fmt.Sprintf(`{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":%q}]}`, s.ID)
		p, err := policy.Parse([]byte(js))
		require.NoError(t, err, js)
		e, err := policy.New(p, policy.Options{})
		require.NoError(t, err)
		d, err := e.Decide(context.Background(), policy.CallInfo{ID: "c", InScope: true, Time: t0})
		require.NoError(t, err)
		assert.Equal(t, s.MinRetention, d.Retention, "%s: the default retention is the statute's minimum", s.ID)
		assert.Equal(t, s.ID, d.Statute)
	}
}

// Issue 11: "an agent mode with a script pressing start recorded 10000 of
// 10000 calls". With a cap per agent per period, the decision says when it
// is reached.
func TestAgentCapPerPeriod(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"FR","rules":[{"purpose":"contract-proof","mode":"agent","cap":{"max":3,"per":"day"}}]}`)
	recorded := 0
	var last policy.Decision
	for i := range 100 {
		call, _, err := e.Begin(ctx, policy.CallInfo{ID: fmt.Sprint("script-", i), Agent: "a1", Time: t0.Add(time.Duration(i) * time.Minute)})
		require.NoError(t, err)
		d, err := call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "a1", Time: t0.Add(time.Duration(i) * time.Minute)})
		if err == nil && d.Record {
			recorded++
			// Start, stop and start again: one call counts once.
			_, err = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStop, Actor: "a1"})
			require.NoError(t, err)
			d, err = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "a1"})
			require.NoError(t, err, "restart on a call already counted")
			require.True(t, d.Record)
			continue
		}
		if i == 3 {
			require.ErrorIs(t, err, policy.ErrNotAllowed)
			assert.Equal(t, policy.ReasonAgentCapReached, d.Reason)
			assert.False(t, d.Record)
			assert.Equal(t, policy.ReasonAgentCapReached, call.Decision().Reason)
		}
		last = d
	}
	assert.Equal(t, 3, recorded)
	assert.Equal(t, policy.ReasonAgentCapReached, last.Reason)
	// A new call of the same agent that day is no candidate any more.
	d, err := e.Decide(ctx, policy.CallInfo{ID: "later", Agent: "a1", Time: t0.Add(20 * time.Hour)})
	require.NoError(t, err)
	assert.False(t, d.Candidate)
	assert.Equal(t, policy.ReasonAgentCapReached, d.Reason)
	ev := d.AuditEvent("later", t0)
	assert.Equal(t, "3/day", attr(ev, "cap"))
	// Another agent, and the next day, are not affected.
	for _, c := range []policy.CallInfo{{ID: "b", Agent: "a2", Time: t0}, {ID: "next", Agent: "a1", Time: t0.AddDate(0, 0, 1)}} {
		call, d, err := e.Begin(ctx, c)
		require.NoError(t, err)
		assert.True(t, d.Candidate, c.ID)
		d, err = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Time: c.Time})
		require.NoError(t, err, c.ID)
		assert.True(t, d.Record, c.ID)
	}
}

func TestSupervisorCapConcurrent(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"UK","rules":[{"purpose":"evaluation","mode":"supervisor","cap":{"max":5,"per":"week"}}]}`)
	var mu sync.Mutex
	recorded := 0
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				call, _, err := e.Begin(ctx, policy.CallInfo{ID: fmt.Sprint(w, "-", i), Agent: "a1", Time: t0})
				if err != nil {
					t.Error(err)
					return
				}
				if d, err := call.Apply(ctx, policy.Event{Kind: policy.EventSupervisorStart, Time: t0}); err == nil && d.Record {
					mu.Lock()
					recorded++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 5, recorded)
}

func attr(ev audit.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func TestAuditEventNamesRuleAgentRate(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"}},{"purpose":"quality","mode":"sampling","rate":0.3,"cap":{"max":1000,"per":"week"}}]}`)
	// A call the grid does not select and the sampling rule does.
	var d policy.Decision
	var id string
	for i := 0; ; i++ {
		id = fmt.Sprint("c", i)
		var err error
		d, err = e.Decide(ctx, policy.CallInfo{ID: id, Agent: "agent-7", Time: t0})
		require.NoError(t, err)
		if d.Record && d.Purpose == policy.Quality {
			break
		}
	}
	ev := d.AuditEvent(id, t0)
	assert.Equal(t, "agent-7", attr(ev, "agent"))
	assert.Equal(t, "1", attr(ev, "rule"))
	assert.Equal(t, "0.3", attr(ev, "rate"))
	assert.Equal(t, "1000/week", attr(ev, "cap"))
	assert.Equal(t, "", attr(ev, "grid"))
	assert.Equal(t, fmt.Sprintf("%016x", e.Draw(1, id)), attr(ev, "draw"), "the draw is the deciding rule's")
	assert.Len(t, attr(ev, "draw"), 16)
	// The grid rule decides a call nothing selects (first automatic rule).
	for i := 0; ; i++ {
		id = fmt.Sprint("n", i)
		var err error
		d, err = e.Decide(ctx, policy.CallInfo{ID: id, Time: t0})
		require.NoError(t, err)
		if !d.Record {
			break
		}
	}
	ev = d.AuditEvent(id, t0)
	assert.Equal(t, "0", attr(ev, "rule"))
	assert.Equal(t, "4/month", attr(ev, "grid"))
	assert.Equal(t, "", attr(ev, "rate"))
	assert.Equal(t, "", attr(ev, "agent"))
	assert.Equal(t, fmt.Sprintf("%016x", e.Draw(0, id)), attr(ev, "draw"))
	// A statute decision names its statute; a zero draw is 16 zeros.
	e = engine(t, `{"profile":"MiFID","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)"}]}`)
	d, _ = e.Decide(ctx, policy.CallInfo{ID: "o", InScope: true, Time: t0})
	ev = d.AuditEvent("o", t0)
	assert.Equal(t, "MiFID II Art. 16(7)", attr(ev, "statute"))
	assert.Equal(t, "0000000000000000", attr(ev, "draw"))
	assert.Equal(t, "0", attr(ev, "rule"))
}

// R12: FR insurance canvassing keeps recordings 2 years from the contract's
// signature; the deadline moves once the signature date is known.
func TestInsuranceDeadlineFromSignature(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"FR-insurance","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2"}]}`)
	d, err := e.Decide(ctx, policy.CallInfo{ID: "ins-1", InScope: true, Time: t0})
	require.NoError(t, err)
	require.True(t, d.Record)
	assert.Equal(t, policy.Years(2), d.Retention)
	assert.Equal(t, t0.AddDate(2, 0, 0), d.Deadline, "before the signature: 2 years from the call")
	signed := t0.AddDate(0, 0, 12)
	moved, err := d.Signed(signed)
	require.NoError(t, err)
	assert.Equal(t, signed.AddDate(2, 0, 0), moved.Deadline)
	assert.Equal(t, policy.InsuranceDeadline(signed), moved.Deadline)
	assert.Equal(t, t0.AddDate(2, 0, 0), d.Deadline, "Signed returns a copy")
	_, err = d.Signed(t0.AddDate(0, 0, -1))
	assert.ErrorIs(t, err, policy.ErrNotAllowed, "a signature before the call would shorten the minimum")
	_, err = d.Signed(time.Time{})
	assert.ErrorIs(t, err, policy.ErrNotAllowed)
	// Other recordings do not run from a signature.
	mifid := engine(t, `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)"}]}`)
	d, _ = mifid.Decide(ctx, policy.CallInfo{ID: "o", InScope: true, Time: t0})
	_, err = d.Signed(signed)
	assert.ErrorIs(t, err, policy.ErrNotAllowed)
	var b strings.Builder
	p, _ := policy.Parse([]byte(`{"profile":"FR-insurance","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2"}]}`))
	require.NoError(t, p.Summary(&b))
	assert.Contains(t, b.String(), "from the contract's signature")
	assert.Contains(t, b.String(), "retention: 2 years (P2Y; maximum P2Y)")
}

func TestStatuteRetentionBounds(t *testing.T) {
	p, err := policy.Parse([]byte(`{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y","authority_request":"AMF letter 2026-117"}]}`))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, p.Summary(&b))
	assert.Contains(t, b.String(), "maximum P7Y")
	assert.Contains(t, b.String(), "AMF letter 2026-117")
	st, ok := policy.LookupStatute("MiFID II Art. 16(7)")
	require.True(t, ok)
	assert.Equal(t, policy.Years(5), st.MinRetention)
	assert.Equal(t, policy.Years(7), st.ExtendedRetention)
	_, ok = policy.LookupStatute("x")
	assert.False(t, ok)
	// The list handed out is a copy.
	l := policy.Statutes()
	l[0].ID = "x"
	_, ok = policy.LookupStatute("x")
	assert.False(t, ok)
}

type appended struct {
	mu sync.Mutex
	ev []audit.Event
}

func (a *appended) Append(_ context.Context, e audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ev = append(a.ev, e)
	return uint64(len(a.ev) - 1), nil
}

// R19: a recording involving an agent who has not acknowledged the employee
// notice in force is refused with a clear reason.
func TestAgentNotInformedIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	log := &appended{}
	notices, err := policy.OpenAgentNoticeFile(filepath.Join(t.TempDir(), "agent-notices.jsonl"), log)
	require.NoError(t, err)
	defer notices.Close()
	p, err := policy.Parse([]byte(`{"profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.2},{"purpose":"contract-proof","mode":"agent"}]}`))
	require.NoError(t, err)
	e, err := policy.New(p, policy.Options{Key: key, AgentNoticeVersion: "v2", AgentNotices: notices})
	require.NoError(t, err)
	decide := func(agent string) (policy.Decision, *policy.Call) {
		c, d, err := e.Begin(ctx, policy.CallInfo{ID: "call-1", Agent: agent, Time: t0})
		require.NoError(t, err)
		return d, c
	}
	for _, agent := range []string{"a1", ""} {
		d, call := decide(agent)
		assert.False(t, d.Record, agent)
		assert.False(t, d.Candidate, agent)
		assert.Equal(t, policy.ReasonAgentNotInformed, d.Reason, agent)
		_, err := call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart})
		assert.ErrorIs(t, err, policy.ErrNotAllowed, "an agent start on an uninformed agent's call")
	}
	require.NoError(t, notices.Acknowledge(ctx, policy.Ack{Agent: "a1", Version: "v1", At: t0, By: "a1"}))
	d, _ := decide("a1")
	assert.Equal(t, policy.ReasonAgentNotInformed, d.Reason, "an older notice version")
	require.NoError(t, notices.Acknowledge(ctx, policy.Ack{Agent: "a1", Version: "v2", At: t0.Add(time.Hour), By: "hr-3"}))
	d, call := decide("a1")
	assert.NotEqual(t, policy.ReasonAgentNotInformed, d.Reason)
	assert.True(t, d.Record || d.Candidate)
	if !d.Record {
		d, err = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart})
		require.NoError(t, err)
		assert.True(t, d.Record)
	}
	// Each acknowledgement is audited.
	require.Len(t, log.ev, 2)
	assert.Equal(t, audit.KindAgentNoticeAcknowledged, log.ev[1].Kind)
	assert.Equal(t, "hr-3", log.ev[1].Actor)
	assert.Equal(t, "a1", attr(log.ev[1], "agent"))
	assert.Equal(t, "v2", attr(log.ev[1], "version"))
	// Options must name both the version and the store.
	_, err = policy.New(p, policy.Options{Key: key, AgentNoticeVersion: "v2"})
	assert.ErrorIs(t, err, policy.ErrNoAgentNotices)
	_, err = policy.New(p, policy.Options{Key: key, AgentNotices: notices})
	assert.ErrorIs(t, err, policy.ErrNoAgentNotices)
	// A store that fails: no decision, no recording.
	failing, err := policy.New(p, policy.Options{Key: key, AgentNoticeVersion: "v2", AgentNotices: failingNotices{}})
	require.NoError(t, err)
	d, err = failing.Decide(ctx, policy.CallInfo{ID: "x", Agent: "a1", Time: t0})
	assert.Error(t, err)
	assert.False(t, d.Record)
	assert.False(t, d.Candidate)
}

type failingNotices struct{}

func (failingNotices) Acknowledged(context.Context, string) (policy.Ack, error) {
	return policy.Ack{}, errors.New("store down")
}

func TestAgentNoticesConformance(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		policytest.TestAgentNotices(t, func(t *testing.T) policytest.NoticeStore { return &policytest.AgentNotices{} })
	})
	t.Run("file", func(t *testing.T) {
		policytest.TestAgentNotices(t, func(t *testing.T) policytest.NoticeStore {
			n, err := policy.OpenAgentNoticeFile(filepath.Join(t.TempDir(), "n.jsonl"), audit.Discard)
			require.NoError(t, err)
			t.Cleanup(func() { n.Close() })
			return n
		})
	})
}

func TestAgentNoticeFileSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agent-notices.jsonl")
	n, err := policy.OpenAgentNoticeFile(path, audit.Discard)
	require.NoError(t, err)
	require.NoError(t, n.Acknowledge(ctx, policy.Ack{Agent: "a1", Version: "v1", At: t0, By: "a1"}))
	require.NoError(t, n.Acknowledge(ctx, policy.Ack{Agent: "a2", Version: "v1", At: t0, By: "hr"}))
	require.NoError(t, n.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "owner-only")
	appendFile(t, path, `{"agent":"a1","vers`) // a torn last line: never confirmed
	n, err = policy.OpenAgentNoticeFile(path, audit.Discard)
	require.NoError(t, err)
	a, err := n.Acknowledged(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, policy.Ack{Agent: "a1", Version: "v1", At: t0, By: "a1"}, a)
	list, err := n.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "a2", list[1].Agent)
	require.NoError(t, n.Acknowledge(ctx, policy.Ack{Agent: "a3", Version: "v1", At: t0, By: "a3"}))
	require.NoError(t, n.Close())
	n, err = policy.OpenAgentNoticeFile(path, audit.Discard)
	require.NoError(t, err, "the torn tail was trimmed, so a later line is whole")
	list, _ = n.List(ctx)
	assert.Len(t, list, 3)
	n.Close()
	// A corrupt line that is not the last is an error, never silently dropped.
	appendFile(t, path, "garbage\n")
	_, err = policy.OpenAgentNoticeFile(path, audit.Discard)
	assert.ErrorIs(t, err, policy.ErrAgentNoticesCorrupt)
	// No audit, no acknowledgement.
	bad, err := policy.OpenAgentNoticeFile(filepath.Join(t.TempDir(), "x.jsonl"), audit.AppenderFunc(func(context.Context, audit.Event) (uint64, error) {
		return 0, errors.New("log down")
	}))
	require.NoError(t, err)
	defer bad.Close()
	assert.Error(t, bad.Acknowledge(ctx, policy.Ack{Agent: "a1", Version: "v1", At: t0, By: "a1"}))
	a, _ = bad.Acknowledged(ctx, "a1")
	assert.Equal(t, policy.Ack{}, a)
	_, err = policy.OpenAgentNoticeFile(filepath.Join(t.TempDir(), "y.jsonl"), nil)
	assert.Error(t, err)
}

func FuzzParseAck(f *testing.F) {
	f.Add([]byte(`{"agent":"a1","version":"v1","at":"2026-11-01T00:00:00Z","by":"hr"}`))
	f.Add([]byte(`{"agent":"a1","version":"v1","at":"2026-11-01T00:00:00Z","by":"hr","x":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := policy.ParseAck(b)
		if err != nil {
			if !errors.Is(err, policy.ErrInvalidAck) {
				t.Fatalf("error %v does not wrap ErrInvalidAck", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("ParseAck accepted an invalid ack: %v", err)
		}
	})
}

// An acknowledgement made by another process (the CLI while a service
// runs) is seen within a second, and a line still being written is not
// taken for a corrupt one.
func TestAgentNoticeFileSeesOtherWriters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "agent-notices.jsonl")
		service, err := policy.OpenAgentNoticeFile(path, audit.Discard)
		require.NoError(t, err)
		defer service.Close()
		cli, err := policy.OpenAgentNoticeFile(path, audit.Discard)
		require.NoError(t, err)
		a, err := service.Acknowledged(ctx, "a1")
		require.NoError(t, err)
		require.Equal(t, policy.Ack{}, a)
		require.NoError(t, cli.Acknowledge(ctx, policy.Ack{Agent: "a1", Version: "v1", At: t0, By: "hr"}))
		require.NoError(t, cli.Close())
		appendFile(t, path, `{"agent":"a2","version":"v1",`) // another writer, mid-line
		time.Sleep(time.Second)
		a, err = service.Acknowledged(ctx, "a1")
		require.NoError(t, err)
		assert.Equal(t, "v1", a.Version)
		appendFile(t, path, `"at":"2026-11-01T00:00:00Z","by":"hr"}`+"\n")
		time.Sleep(time.Second)
		a, err = service.Acknowledged(ctx, "a2")
		require.NoError(t, err)
		assert.Equal(t, "v1", a.Version, "the line completed later is read whole")
		// The service's own ack lands after the others' (O_APPEND).
		require.NoError(t, service.Acknowledge(ctx, policy.Ack{Agent: "a3", Version: "v1", At: t0, By: "a3"}))
		list, err := service.List(ctx)
		require.NoError(t, err)
		assert.Len(t, list, 3)
	})
}
