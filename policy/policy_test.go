package policy_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
)

var key = []byte("0123456789abcdef-test-key")

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func engine(t testing.TB, js string, opts ...policy.Options) *policy.Engine {
	t.Helper()
	p, err := policy.Parse([]byte(js))
	require.NoError(t, err)
	o := policy.Options{Key: key}
	if len(opts) > 0 {
		o = opts[0]
	}
	e, err := policy.New(p, o)
	require.NoError(t, err)
	return e
}

const quality10 = `{"name":"q","profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"retention":"P30D"}]}`

func TestZeroPolicyRecordsNothing(t *testing.T) {
	e, err := policy.New(&policy.Policy{}, policy.Options{})
	require.NoError(t, err)
	res, err := policy.Simulate(context.Background(), e, policy.Simulation{Calls: 1000, Agents: 3, Start: t0})
	require.NoError(t, err)
	assert.Equal(t, 0, res.Recorded)
	assert.Equal(t, 1000, res.ByReason[policy.ReasonPolicyOff])
	// Nil policy too.
	e, err = policy.New(nil, policy.Options{})
	require.NoError(t, err)
	d, err := e.Decide(context.Background(), policy.CallInfo{ID: "x"})
	require.NoError(t, err)
	assert.False(t, d.Record)
	assert.False(t, d.Capture)
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, js, field, rule string
		err                   error
	}{
		{"rate 100%", `{"rules":[{"purpose":"quality","mode":"sampling","rate":1}]}`, "rules[0].rate", "R1", policy.ErrRefused},
		{"rate above 1", `{"rules":[{"purpose":"training","mode":"sampling","rate":1.5}]}`, "rules[0].rate", "R1", policy.ErrRefused},
		{"always", `{"rules":[{"purpose":"quality","mode":"always"}]}`, "rules[0].mode", "R1", policy.ErrRefused},
		{"rates add up", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.3,"cap":{"max":9,"per":"day"}},{"purpose":"training","mode":"sampling","rate":0.3,"cap":{"max":9,"per":"day"}}]}`, "rules", "R1", policy.ErrRefused},
		{"rates add up to 1 with a statute", `{"rules":[{"purpose":"legal-obligation","mode":"sampling","rate":0.6,"statute":"MiFID II Art. 16(7)"},{"purpose":"training","mode":"sampling","rate":0.4,"cap":{"max":9,"per":"day"}}]}`, "rules", "R1", policy.ErrRefused},
		{"grid covers every call", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":400,"per":"month","expected_calls_per_agent":400}}]}`, "rules[0].grid.per_agent", "R1", policy.ErrRefused},
		{"statute without legal obligation", `{"rules":[{"purpose":"quality","mode":"statute"}]}`, "rules[0].mode", "R1", policy.ErrRefused},
		{"legal obligation without statute", `{"rules":[{"purpose":"legal-obligation","mode":"statute"}]}`, "rules[0].statute", "R1", policy.ErrRefused},
		{"legal obligation rate 1", `{"rules":[{"purpose":"legal-obligation","mode":"sampling","rate":1,"statute":"MiFID II Art. 16(7)"}]}`, "rules[0].rate", "R1", policy.ErrRefused},
		{"contract proof sampled", `{"rules":[{"purpose":"contract-proof","mode":"sampling","rate":0.1}]}`, "rules[0].mode", "R4", policy.ErrRefused},
		{"contract proof supervisor", `{"rules":[{"purpose":"contract-proof","mode":"supervisor"}]}`, "rules[0].mode", "R4", policy.ErrRefused},
		{"quality 7 months", `{"rules":[{"purpose":"quality","mode":"agent","retention":"P7M"}]}`, "rules[0].retention", "R9", policy.ErrRefused},
		{"quality 183 days", `{"rules":[{"purpose":"quality","mode":"agent","retention":"P183D"}]}`, "rules[0].retention", "R9", policy.ErrRefused},
		{"contract proof 6 years", `{"rules":[{"purpose":"contract-proof","mode":"agent","retention":"P6Y"}]}`, "rules[0].retention", "R10", policy.ErrRefused},
		{"mifid 8 years", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P8Y"}]}`, "rules[0].retention", "R11", policy.ErrRefused},
		{"unknown purpose", `{"rules":[{"purpose":"marketing","mode":"agent"}]}`, "rules[0].purpose", "R6", policy.ErrUnknownPurpose},
		{"role widening", `{"rules":[{"purpose":"quality","mode":"agent","access_roles":["legal"]}]}`, "rules[0].access_roles[0]", "R25", policy.ErrRefused},
		{"unknown profile", `{"profile":"XX"}`, "profile", "R33", policy.ErrRefused},
		{"zero rate", `{"rules":[{"purpose":"quality","mode":"sampling"}]}`, "rules[0].rate", "R2", policy.ErrRefused},
		{"cap period", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"cap":{"max":3,"per":"year"}}]}`, "rules[0].cap.per", "R2", policy.ErrRefused},
		{"unknown mode", `{"rules":[{"purpose":"quality","mode":"sometimes"}]}`, "rules[0].mode", "R2", policy.ErrRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tc.js))
			require.Error(t, err)
			var ce *policy.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field, "field; error: %v", err)
			assert.Equal(t, tc.rule, ce.Rule, "rule; error: %v", err)
			assert.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestSyntaxErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ js, field string }{
		{`{"rules":[{"purpose":"quality","mode":"agent","colour":"red"}]}`, "colour"},
		{`{"rules":[{"purpose":"quality","mode":"sampling","rate":"ten"}]}`, "rules.rate"},
		{`{"rules":[{"purpose":"quality","mode":"agent","retention":"30 days"}]}`, "rules[].retention"},
		{`{"rules":[]} {}`, "(document)"},
		{`{"rules":[`, "(document)"},
	} {
		_, err := policy.Parse([]byte(tc.js))
		var ce *policy.ConfigError
		require.ErrorAs(t, err, &ce, tc.js)
		assert.Equal(t, tc.field, ce.Field, "%s: %v", tc.js, err)
	}
}

func TestAcceptsLawfulPolicies(t *testing.T) {
	for _, js := range []string{
		quality10,
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"retention":"P6M"}]}`,
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"retention":"P181D"}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"}}]}`,
		`{"rules":[{"purpose":"contract-proof","mode":"agent","retention":"P5Y"}]}`,
		`{"profile":"MiFID","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y","authority_request":"AMF letter 2026-117"}]}`,
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.3,"cap":{"max":500,"per":"week"}},{"purpose":"training","mode":"sampling","rate":0.2}]}`,
	} {
		_, err := policy.Parse([]byte(js))
		assert.NoError(t, err, js)
	}
}

func TestSamplingRateAndReproducibility(t *testing.T) {
	ctx := context.Background()
	sim := policy.Simulation{Calls: 100_000, Agents: 20, Start: t0}
	run := func(k []byte) (policy.SimResult, map[string]bool) {
		e := engine(t, quality10, policy.Options{Key: k})
		res, err := policy.Simulate(ctx, e, sim)
		require.NoError(t, err)
		picked := map[string]bool{}
		for i := range 2000 {
			d, err := e.Decide(ctx, policy.CallInfo{ID: fmt.Sprintf("call-%06d", i+1), Time: t0})
			require.NoError(t, err)
			picked[fmt.Sprint(i)] = d.Record
		}
		return res, picked
	}
	a, pa := run(key)
	rate := a.Rate()
	assert.InDelta(t, 0.10, rate, 0.005, "recorded %d of %d", a.Recorded, a.Calls)
	b, pb := run(key)
	assert.Equal(t, a.Recorded, b.Recorded)
	assert.Equal(t, pa, pb, "same key, same calls")
	c, pc := run([]byte("another-secret-key-xyz"))
	assert.InDelta(t, 0.10, c.Rate(), 0.005)
	assert.NotEqual(t, pa, pc, "another key selects other calls")
}

func TestDrawIsAuditable(t *testing.T) {
	// An auditor with the key recomputes the draw from the call id and the
	// policy version alone.
	e := engine(t, quality10)
	d, err := e.Decide(context.Background(), policy.CallInfo{ID: "call-42", Time: t0})
	require.NoError(t, err)
	assert.Equal(t, e.Draw(0, "call-42"), d.Draw)
	assert.Equal(t, e.Version(), d.PolicyVersion)
	want := policy.DrawFraction(d.Draw) < 0.1
	assert.Equal(t, want, d.Record)
	// A new policy version changes the draws.
	e2 := engine(t, strings.Replace(quality10, `"name":"q"`, `"name":"q2"`, 1))
	assert.NotEqual(t, e.Version(), e2.Version())
	assert.NotEqual(t, e.Draw(0, "call-42"), e2.Draw(0, "call-42"))
}

func TestGridExactlyKPerAgent(t *testing.T) {
	for _, per := range []struct {
		w     policy.Window
		start time.Time
	}{{policy.Month, t0}, {policy.Week, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}, {policy.Day, t0}} {
		t.Run(string(per.w), func(t *testing.T) {
			e := engine(t, fmt.Sprintf(`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":%q}}]}`, per.w))
			_, end := boundsOf(per.w, per.start)
			res, err := policy.Simulate(context.Background(), e, policy.Simulation{Calls: 20_000, Agents: 50, Start: per.start, Span: end.Sub(per.start)})
			require.NoError(t, err)
			require.Len(t, res.ByAgent, 50)
			for a, n := range res.ByAgent {
				assert.Equal(t, 4, n, a)
			}
			assert.Equal(t, 200, res.Recorded)
		})
	}
}

func boundsOf(w policy.Window, t time.Time) (time.Time, time.Time) {
	switch w {
	case policy.Day:
		return t, t.AddDate(0, 0, 1)
	case policy.Week:
		return t, t.AddDate(0, 0, 7)
	}
	return t, t.AddDate(0, 1, 0)
}

func TestGridIsSpreadOverThePeriod(t *testing.T) {
	// 4 per month: one in each quarter of the month, never all at once.
	e := engine(t, `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"}}]}`)
	ctx := context.Background()
	span := t0.AddDate(0, 1, 0).Sub(t0)
	quarters := map[int]int{}
	for i := range 4000 {
		at := t0.Add(span / 4000 * time.Duration(i))
		d, err := e.Decide(ctx, policy.CallInfo{ID: fmt.Sprint("c", i), Agent: "a", Time: at})
		require.NoError(t, err)
		if d.Record {
			quarters[int(4*float64(at.Sub(t0))/float64(span))]++
		}
	}
	assert.Equal(t, map[int]int{0: 1, 1: 1, 2: 1, 3: 1}, quarters)
}

func TestCapNeverExceededUnderConcurrency(t *testing.T) {
	e := engine(t, `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":100,"per":"month"}}]}`)
	var recorded atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				d, err := e.Decide(context.Background(), policy.CallInfo{ID: fmt.Sprintf("w%d-%d", w, i), Time: t0.Add(time.Hour)})
				if err == nil && d.Record {
					recorded.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(100), recorded.Load())
}

func TestCounterFailureRecordsNothing(t *testing.T) {
	p, err := policy.Parse([]byte(`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":100,"per":"day"}}]}`))
	require.NoError(t, err)
	fc := &policytest.FailingCounter{}
	e, err := policy.New(p, policy.Options{Key: key, Counter: fc})
	require.NoError(t, err)
	for i := range 50 {
		d, err := e.Decide(context.Background(), policy.CallInfo{ID: fmt.Sprint(i)})
		assert.False(t, d.Record)
		if policy.DrawFraction(e.Draw(0, fmt.Sprint(i))) < 0.5 {
			assert.Error(t, err)
		}
	}
	assert.Positive(t, fc.Tries.Load())
}

func TestKeyRequired(t *testing.T) {
	p, _ := policy.Parse([]byte(quality10))
	_, err := policy.New(p, policy.Options{Key: []byte("short")})
	assert.ErrorIs(t, err, policy.ErrNoKey)
}

func TestExclusions(t *testing.T) {
	e := engine(t, `{"protected_lines":["rep-1"],"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":1000,"per":"day"}}]}`)
	ctx := context.Background()
	for _, c := range []policy.CallInfo{
		{ID: "1", Private: true}, {ID: "2", Internal: true}, {ID: "3", Agent: "rep-1"}, {ID: "4", Line: "rep-1"},
	} {
		d, err := e.Decide(ctx, c)
		require.NoError(t, err)
		assert.False(t, d.Record)
		assert.Equal(t, policy.ReasonExcluded, d.Reason)
	}
	call, _, err := engine(t, `{"rules":[{"purpose":"contract-proof","mode":"agent"}]}`).Begin(ctx, policy.CallInfo{ID: "p", Private: true})
	require.NoError(t, err)
	_, err = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart})
	assert.ErrorIs(t, err, policy.ErrNotAllowed)
}

func TestProfiles(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":1000,"per":"day"}}]}`)
	var id string
	for i := 0; ; i++ { // a call the draw selects
		id = fmt.Sprint("sel-", i)
		if policy.DrawFraction(e.Draw(0, id)) < 0.5 {
			break
		}
	}
	for _, tc := range []struct {
		p    policy.Profile
		req  policy.Requirement
		obj  policy.ObjectionEffect
		base string
	}{
		{policy.ProfileFR, policy.NeedNotice, policy.ObjectionStopAndPurge, "6(1)(f)"},
		{policy.ProfileDE, policy.NeedNotice | policy.NeedConsent, policy.ObjectionStopAndPurge, "6(1)(a)"},
		{policy.ProfileUnknown, policy.NeedNotice | policy.NeedConsent, policy.ObjectionStopAndPurge, "6(1)(a)"},
		{policy.ProfileUSAllParty, policy.NeedNotice, policy.ObjectionStopAndPurge, "6(1)(f)"},
		{policy.ProfileUK, policy.NeedNotice, policy.ObjectionStopAndPurge, "6(1)(f)"},
		{policy.ProfileFRInsurance, policy.NeedNotice, policy.ObjectionEndCall, "6(1)(f)"},
	} {
		d, err := e.Decide(ctx, policy.CallInfo{ID: id, Profile: tc.p, Time: t0})
		require.NoError(t, err)
		assert.True(t, d.Record, tc.p)
		assert.Equal(t, tc.req, d.Requires, tc.p)
		assert.Equal(t, tc.obj, d.OnObjection, tc.p)
		assert.Contains(t, d.LawfulBasis, tc.base, tc.p)
		assert.False(t, d.Capture, "%s: nothing captured before the notice", tc.p)
	}
}

func TestCallFRNoticeThenObjectionPurges(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.2}]}`)
	id := selected(t, e, 0.2)
	c, d, err := e.Begin(ctx, policy.CallInfo{ID: id, Time: t0})
	require.NoError(t, err)
	assert.True(t, d.Record)
	assert.False(t, d.Capture)
	assert.Equal(t, policy.NeedNotice, d.Pending)
	assert.Equal(t, t0.AddDate(0, 0, 30), d.Deadline)
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventNoticeInterrupted, Party: policy.PartyCaller})
	assert.False(t, d.Capture, "an interrupted notice is no notice")
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	assert.True(t, d.Capture)
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventPause, Actor: "agent-1"})
	assert.False(t, d.Capture)
	assert.Equal(t, policy.ReasonPaused, d.Reason)
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventResume, Actor: "agent-1"})
	assert.True(t, d.Capture)
	d, err = c.Apply(ctx, policy.Event{Kind: policy.EventObjection, Actor: "caller"})
	require.NoError(t, err)
	assert.False(t, d.Record)
	assert.False(t, d.Capture)
	assert.True(t, d.Purge)
	assert.Equal(t, policy.ReasonObjected, d.Reason)
	_, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStart})
	assert.ErrorIs(t, err, policy.ErrNotAllowed, "no restart after an objection")
}

func selected(t *testing.T, e *policy.Engine, rate float64) string {
	for i := 0; ; i++ {
		id := fmt.Sprint("call-sel-", i)
		if policy.DrawFraction(e.Draw(0, id)) < rate {
			return id
		}
	}
}

func TestCallDEOptIn(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"DE","rules":[{"purpose":"training","mode":"sampling","rate":0.2}]}`)
	c, d, err := e.Begin(ctx, policy.CallInfo{ID: selected(t, e, 0.2)})
	require.NoError(t, err)
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	assert.False(t, d.Capture, "notice alone is not consent in Germany")
	assert.Equal(t, policy.NeedConsent, d.Pending)
	assert.Equal(t, policy.ReasonNoConsent, d.Reason)
	d, _ = c.Apply(ctx, policy.Event{Kind: policy.EventConsent, Actor: "caller", Party: policy.PartyCaller})
	assert.True(t, d.Capture)
}

func TestCallMiFIDObjectionDoesNotStop(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"MiFID","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)"}]}`)
	c, d, err := e.Begin(ctx, policy.CallInfo{ID: "order-1", InScope: true, Time: t0})
	require.NoError(t, err)
	assert.True(t, d.Record)
	assert.Equal(t, policy.ReasonStatute, d.Reason)
	assert.Equal(t, t0.AddDate(5, 0, 0), d.Deadline)
	c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	d, err = c.Apply(ctx, policy.Event{Kind: policy.EventObjection})
	require.NoError(t, err)
	assert.True(t, d.Capture)
	assert.Equal(t, policy.ObjectionNotApplicable, d.OnObjection)
	_, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStop})
	assert.ErrorIs(t, err, policy.ErrNotAllowed)
	// Out of scope calls are not recorded.
	d, _ = e.Decide(ctx, policy.CallInfo{ID: "chat"})
	assert.False(t, d.Record)
	assert.Equal(t, policy.ReasonOutOfScope, d.Reason)
}

func TestCallFRInsuranceRefusalEndsCall(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"FR-insurance","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2","retention":"P2Y"}]}`)
	c, _, err := e.Begin(ctx, policy.CallInfo{ID: "ins", InScope: true})
	require.NoError(t, err)
	d, err := c.Apply(ctx, policy.Event{Kind: policy.EventObjection})
	assert.ErrorIs(t, err, policy.ErrRecordingRefused)
	assert.False(t, d.Record)
	assert.True(t, d.Purge)
}

func TestCallAgentStartStopStartAgain(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"FR","rules":[{"purpose":"contract-proof","mode":"agent"}]}`)
	c, d, err := e.Begin(ctx, policy.CallInfo{ID: "sale", Agent: "a1", Time: t0})
	require.NoError(t, err)
	assert.False(t, d.Record)
	assert.True(t, d.Candidate)
	assert.Equal(t, policy.ReasonAwaitAgent, d.Reason)
	_, err = c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	require.NoError(t, err)
	for i := range 2 {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		d, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "a1", Time: at})
		require.NoError(t, err, "start #%d", i+1)
		assert.True(t, d.Capture)
		assert.Equal(t, policy.ContractProof, d.Purpose)
		assert.Equal(t, at.AddDate(5, 0, 0), d.Deadline)
		assert.Equal(t, "6(1)(b) contract", d.LawfulBasis)
		d, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStop, Actor: "a1"})
		require.NoError(t, err)
		assert.False(t, d.Record)
		assert.Equal(t, policy.ReasonAgentStopped, d.Reason)
	}
	_, err = c.Apply(ctx, policy.Event{Kind: policy.EventSupervisorStart})
	assert.ErrorIs(t, err, policy.ErrNotAllowed, "no supervisor rule")
}

func TestCallSupervisorOnDemand(t *testing.T) {
	ctx := context.Background()
	e := engine(t, `{"profile":"UK","rules":[{"purpose":"evaluation","mode":"supervisor","retention":"P14D"}]}`)
	c, d, err := e.Begin(ctx, policy.CallInfo{ID: "s"})
	require.NoError(t, err)
	assert.Equal(t, policy.ReasonAwaitSupervisor, d.Reason)
	_, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStart})
	assert.ErrorIs(t, err, policy.ErrNotAllowed)
	d, err = c.Apply(ctx, policy.Event{Kind: policy.EventSupervisorStart, Actor: "sup-1"})
	require.NoError(t, err)
	assert.True(t, d.Record)
	assert.Equal(t, policy.Days(14), d.Retention)
	assert.False(t, d.Capture, "the caller must be informed first (R17)")
}

func TestPeriod(t *testing.T) {
	var p policy.Period
	for in, want := range map[string]policy.Period{
		"P30D": policy.Days(30), "P6M": policy.Months(6), "P5Y": policy.Years(5),
		"P1Y2M3D": {Years: 1, Months: 2, Days: 3}, "P2W": policy.Days(14),
	} {
		require.NoError(t, p.UnmarshalText([]byte(in)), in)
		assert.Equal(t, want, p, in)
	}
	for _, bad := range []string{"", "P", "30D", "P30", "PT1H", "P1D1Y", "P1M1M", "P-1D", "P9999999D"} {
		assert.Error(t, p.UnmarshalText([]byte(bad)), bad)
	}
	assert.True(t, policy.Days(183).Exceeds(policy.Months(6)))
	assert.False(t, policy.Days(181).Exceeds(policy.Months(6)))
	assert.False(t, policy.Months(6).Exceeds(policy.Months(6)))
	assert.Equal(t, "P1Y2M3D", policy.Period{Years: 1, Months: 2, Days: 3}.String())
}

func TestVersionStable(t *testing.T) {
	a, _ := policy.Parse([]byte(quality10))
	b, _ := policy.Parse([]byte(`{ "rules" : [ {"retention":"P30D","rate":0.1,"mode":"sampling","purpose":"quality"} ], "profile":"FR", "name":"q" }`))
	assert.Equal(t, a.Version(), b.Version(), "field order and spacing do not change the version")
	c, _ := policy.Parse([]byte(`{"name":"q","profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.1}]}`))
	assert.Equal(t, a.Version(), c.Version(), "an explicit default retention is the same policy")
}

func TestCounters(t *testing.T) {
	t.Run("Mem", func(t *testing.T) {
		policytest.TestCounter(t, func(*testing.T) policy.Counter { return &policy.MemCounter{} })
	})
	t.Run("File", func(t *testing.T) {
		policytest.TestCounter(t, func(t *testing.T) policy.Counter {
			c, err := policy.OpenFileCounter(filepath.Join(t.TempDir(), "counts"))
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return c
		})
	})
}

func TestFileCounterSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counts")
	k := policy.CounterKey{Policy: "pv1:x", Rule: 0, Agent: "a\nb", Period: 10}
	c, err := policy.OpenFileCounter(path)
	require.NoError(t, err)
	for range 3 {
		c.Take(ctx, k, 5)
	}
	require.NoError(t, c.Close())
	// A torn, unacknowledged tail is dropped.
	appendFile(t, path, "pv1:x\t0\t\"a")
	c, err = policy.OpenFileCounter(path)
	require.NoError(t, err)
	n, _ := c.Count(ctx, k)
	assert.Equal(t, int64(3), n)
	ok, _ := c.Take(ctx, k, 4)
	assert.True(t, ok)
	ok, _ = c.Take(ctx, k, 4)
	assert.False(t, ok)
	c.Close()
	// Garbage in the middle is an error, never a silent reset.
	appendFile(t, path, "garbage\n")
	_, err = policy.OpenFileCounter(path)
	assert.ErrorIs(t, err, policy.ErrCounterCorrupt)
}

func TestFixedDecider(t *testing.T) {
	f := policytest.Record(policy.Quality)
	d, err := f.Decide(context.Background(), policy.CallInfo{ID: "x", Time: t0})
	require.NoError(t, err)
	assert.True(t, d.Record)
	assert.Equal(t, t0.AddDate(0, 0, 30), d.Deadline)
	assert.Len(t, f.Calls, 1)
	f.Err = errors.New("down")
	_, err = f.Decide(context.Background(), policy.CallInfo{ID: "y"})
	assert.Error(t, err)
	var zero policytest.Fixed
	d, _ = zero.Decide(context.Background(), policy.CallInfo{})
	assert.False(t, d.Record)
}

func TestSummaryAndNotice(t *testing.T) {
	p, _ := policy.Parse([]byte(quality10))
	var b strings.Builder
	require.NoError(t, p.Summary(&b))
	s := b.String()
	for _, want := range []string{"10% of calls", "30 days (P30D; maximum P6M)", "who may listen: quality, supervisor", "how to object", "before recording: notice"} {
		assert.Contains(t, s, want)
	}
	items := policy.Notice(policy.LegalObligation, policy.ProfileMiFID, policy.Years(5))
	assert.Contains(t, strings.Join(items, "\n"), "objecting does not stop it")
	assert.Contains(t, strings.Join(items, "\n"), "5 years")
}

func TestPurposeRules(t *testing.T) {
	for _, p := range policy.Purposes {
		r, err := p.Rules()
		require.NoError(t, err)
		assert.NotEmpty(t, r.AccessRoles, p)
		assert.False(t, r.DefaultRetention.Exceeds(r.MaxRetention), p)
		assert.False(t, p.Allows(policy.RoleLegal), "legal only through a hold: %s", p)
	}
	_, err := policy.Purpose("marketing").Rules()
	assert.ErrorIs(t, err, policy.ErrUnknownPurpose)
	assert.True(t, policy.Quality.Allows(policy.RoleQuality))
	assert.False(t, policy.Quality.Allows(policy.RoleTrainer))
}

func TestSubjectKey(t *testing.T) {
	s := []byte("subject-secret")
	a := policy.SubjectKey(s, "+33 1 23 45 67 89")
	assert.Equal(t, a, policy.SubjectKey(s, "+33123456789"))
	assert.NotEqual(t, a, policy.SubjectKey([]byte("other"), "+33123456789"))
	assert.NotContains(t, a, "33123456789")
	assert.Len(t, a, 4+64)
}

func TestAuditEvent(t *testing.T) {
	e := engine(t, quality10)
	d, _ := e.Decide(context.Background(), policy.CallInfo{ID: "c1", Time: t0})
	ev := d.AuditEvent("c1", t0)
	assert.Equal(t, "c1", ev.CallID)
	assert.Equal(t, e.Version(), ev.PolicyVersion)
	assert.Equal(t, fmt.Sprintf("%016x", d.Draw), ev.Attrs[3].Value)
	assert.False(t, math.IsNaN(policy.DrawFraction(d.Draw)))
	// A draw below 2^60 keeps its leading zeros (was "55c3fe2c2b39089").
	small := policy.Decision{Draw: 0x55c3fe2c2b39089}.AuditEvent("c2", t0)
	assert.Equal(t, "draw", small.Attrs[3].Key)
	assert.Equal(t, "055c3fe2c2b39089", small.Attrs[3].Value)
}

func TestTimeZone(t *testing.T) {
	ctx := context.Background()
	// One recording per calendar day, counted in Paris: 23:30 and 00:30 in
	// Paris are two days (both recorded); in UTC they are one (one recorded).
	for _, tc := range []struct {
		zone string
		want int
	}{{"Europe/Paris", 2}, {"", 1}} {
		e := engine(t, fmt.Sprintf(`{"time_zone":%q,"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":1,"per":"day"}}]}`, tc.zone))
		// Two calls the draw selects, one hour apart across midnight in Paris.
		a := selected(t, e, 0.5)
		b := a
		for i := 0; b == a || policy.DrawFraction(e.Draw(0, b)) >= 0.5; i++ {
			b = fmt.Sprint("other-", i)
		}
		calls := []policy.CallInfo{
			{ID: a, Time: time.Date(2026, 11, 10, 22, 30, 0, 0, time.UTC)},
			{ID: b, Time: time.Date(2026, 11, 10, 23, 30, 0, 0, time.UTC)},
		}
		n := 0
		for _, c := range calls {
			d, err := e.Decide(ctx, c)
			require.NoError(t, err)
			if d.Record {
				n++
			}
		}
		assert.Equal(t, tc.want, n, "zone %q", tc.zone)
	}
	for _, bad := range []string{"Mars/Olympus", "../../etc/passwd", "/etc/localtime"} {
		_, err := policy.Parse([]byte(fmt.Sprintf(`{"time_zone":%q}`, bad)))
		var ce *policy.ConfigError
		require.ErrorAs(t, err, &ce, bad)
		assert.Equal(t, "time_zone", ce.Field)
	}
}

func TestRegister(t *testing.T) {
	p, err := policy.Parse([]byte(`{"controller":"Example SAS","profile":"MiFID","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y","authority_request":"AMF letter 2026-117"}]}`))
	require.NoError(t, err)
	r := p.Register()
	assert.Equal(t, "Example SAS", r.Controller)
	require.Len(t, r.Purposes, 1)
	assert.Equal(t, policy.Years(7), r.Purposes[0].Retention)
	assert.Equal(t, []policy.Role{policy.RoleCompliance}, r.Purposes[0].Recipients)
	assert.Equal(t, "MiFID II Art. 16(7)", r.Purposes[0].Statute)
	assert.Contains(t, r.Purposes[0].LawfulBasis, "6(1)(c)")
	var b strings.Builder
	require.NoError(t, r.WriteText(&b))
	assert.Contains(t, b.String(), "7 years (P7Y)")
	empty := (&policy.Policy{}).Register()
	assert.Contains(t, empty.Activity, "records nothing")
}

func TestFileCounterPrune(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "counts")
	c, err := policy.OpenFileCounter(path)
	require.NoError(t, err)
	old := policy.CounterKey{Policy: "pv1:x", Agent: "a", Period: t0.AddDate(0, -2, 0).Unix()}
	cur := policy.CounterKey{Policy: "pv1:x", Agent: "a", Period: t0.Unix()}
	for range 3 {
		c.Take(ctx, old, 10)
		c.Take(ctx, cur, 10)
	}
	n, err := c.Prune(ctx, t0.AddDate(0, -1, 0))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got, _ := c.Count(ctx, old)
	assert.Zero(t, got)
	ok, _ := c.Take(ctx, cur, 10) // still appends after the rewrite
	assert.True(t, ok)
	require.NoError(t, c.Close())
	c, err = policy.OpenFileCounter(path)
	require.NoError(t, err)
	defer c.Close()
	got, _ = c.Count(ctx, cur)
	assert.Equal(t, int64(4), got)
	got, _ = c.Count(ctx, old)
	assert.Zero(t, got)
}
