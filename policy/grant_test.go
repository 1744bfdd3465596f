package policy_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

func begin(t *testing.T, profile policy.Profile, mode policy.Mode) (*policy.Engine, *policy.Call) {
	t.Helper()
	eng, err := policy.New(&policy.Policy{Profile: profile, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: mode}}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := eng.Begin(t.Context(), policy.CallInfo{ID: "call-1", Agent: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	return eng, c
}

func apply(t *testing.T, c *policy.Call, ev policy.Event) policy.Decision {
	t.Helper()
	d, err := c.Apply(t.Context(), ev)
	if err != nil {
		t.Fatalf("apply %s: %v", ev.Kind, err)
	}
	return d
}

func TestGrantNeedsTheCallersNotice(t *testing.T) {
	_, c := begin(t, policy.ProfileFR, policy.ModeAgent)
	apply(t, c, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-1"})
	if _, err := c.Grant(); !errors.Is(err, policy.ErrNotAllowed) {
		t.Fatalf("grant before any notice: %v, want ErrNotAllowed", err)
	}
	// The employee notice heard by the agent is not the caller's (former hole).
	d := apply(t, c, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyAgent})
	if d.Capture {
		t.Fatal("the agent's notice receipt unlocked capture")
	}
	if _, err := c.Grant(); !errors.Is(err, policy.ErrNotAllowed) {
		t.Fatalf("grant after the agent's notice: %v, want ErrNotAllowed", err)
	}
	// A notice event without a party is refused, not taken for the caller's.
	if _, err := c.Apply(t.Context(), policy.Event{Kind: policy.EventNoticeCompleted}); !errors.Is(err, policy.ErrNotAllowed) {
		t.Fatalf("notice without party: %v, want ErrNotAllowed", err)
	}
	apply(t, c, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller, Evidence: "notice:v1"})
	g, err := c.Grant()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Check("call-1"); err != nil {
		t.Fatal(err)
	}
	if g.Purpose() != policy.Quality || g.LawfulBasis() == "" || g.Deadline().IsZero() || g.PolicyVersion() == "" {
		t.Fatalf("grant lacks what it fixes: %v", g)
	}
	if r := g.Receipts(); len(r) != 1 || r[0] != "notice:v1" {
		t.Fatalf("receipts %q", r)
	}
	if !errors.Is(g.Check("call-2"), policy.ErrForeignGrant) {
		t.Fatal("a grant for call-1 was accepted for call-2")
	}
	g2, _ := c.Grant()
	if g2 != g {
		t.Fatal("a second Grant while one is in force minted another")
	}
}

func TestGrantAgentConsentDoesNotUnlockOptIn(t *testing.T) {
	eng, err := policy.New(&policy.Policy{Profile: policy.ProfileDE, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := eng.Begin(t.Context(), policy.CallInfo{ID: "de-1", Agent: "a"})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, c, policy.Event{Kind: policy.EventAgentStart, Actor: "a"})
	apply(t, c, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	if _, err := c.Apply(t.Context(), policy.Event{Kind: policy.EventConsent, Party: policy.PartyAgent, Actor: "a"}); !errors.Is(err, policy.ErrNotAllowed) {
		t.Fatalf("agent-side consent: %v, want ErrNotAllowed", err)
	}
	if _, err := c.Grant(); !errors.Is(err, policy.ErrNotAllowed) {
		t.Fatalf("DE call granted without the caller's consent: %v", err)
	}
	apply(t, c, policy.Event{Kind: policy.EventConsent, Party: policy.PartyCaller, Actor: "caller"})
	g, err := c.Grant()
	if err != nil {
		t.Fatal(err)
	}
	if g.LawfulBasis() != "6(1)(a) consent" {
		t.Fatalf("DE lawful basis %q, want consent", g.LawfulBasis())
	}
	// Withdrawing consent revokes the grant.
	apply(t, c, policy.Event{Kind: policy.EventConsentWithdrawn, Party: policy.PartyCaller, Actor: "caller"})
	if !errors.Is(g.Err(), policy.ErrRevoked) {
		t.Fatalf("after withdrawal: %v, want ErrRevoked", g.Err())
	}
}

func TestGrantRevocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, c := begin(t, policy.ProfileFR, policy.ModeAgent)
		apply(t, c, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
		apply(t, c, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-1"})
		g, err := c.Grant()
		if err != nil {
			t.Fatal(err)
		}
		var fired atomic.Int32
		var cause atomic.Value
		g.AfterRevoke(func(err error) { fired.Add(1); cause.Store(err) })
		stopped := g.AfterRevoke(func(error) { fired.Add(100) })
		if !stopped() {
			t.Fatal("stop after registration reported false")
		}
		copyOf := g
		// A pause does not revoke.
		apply(t, c, policy.Event{Kind: policy.EventPause, Actor: "agent-1"})
		synctest.Wait()
		if g.Err() != nil || fired.Load() != 0 {
			t.Fatalf("pause revoked the grant: %v", g.Err())
		}
		if _, err := c.Grant(); !errors.Is(err, nil) {
			t.Fatalf("grant in force during a pause: %v", err)
		}
		apply(t, c, policy.Event{Kind: policy.EventResume, Actor: "agent-1"})
		apply(t, c, policy.Event{Kind: policy.EventObjection, Party: policy.PartyCaller, Actor: "caller"})
		synctest.Wait()
		if !errors.Is(copyOf.Err(), policy.ErrRevoked) {
			t.Fatalf("copy after objection: %v, want ErrRevoked", copyOf.Err())
		}
		if fired.Load() != 1 || !errors.Is(cause.Load().(error), policy.ErrRevoked) {
			t.Fatalf("AfterRevoke fired %d times", fired.Load())
		}
		if _, err := c.Grant(); !errors.Is(err, policy.ErrNotAllowed) {
			t.Fatalf("grant after objection: %v", err)
		}
		// Registering after revocation calls f at once.
		done := make(chan error, 1)
		g.AfterRevoke(func(err error) { done <- err })
		if err := <-done; !errors.Is(err, policy.ErrRevoked) {
			t.Fatal(err)
		}
	})
}

func TestGrantSpentAtEnd(t *testing.T) {
	_, c := begin(t, policy.ProfileFR, policy.ModeAgent)
	apply(t, c, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	apply(t, c, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-1"})
	g, err := c.Grant()
	if err != nil {
		t.Fatal(err)
	}
	c.End()
	c.End()
	if !errors.Is(g.Err(), policy.ErrRevoked) {
		t.Fatalf("grant after End: %v", g.Err())
	}
	if _, err := c.Grant(); !errors.Is(err, policy.ErrRevoked) {
		t.Fatalf("Grant after End: %v", err)
	}
	var zero policy.Grant
	if !errors.Is(zero.Check("call-1"), policy.ErrNoGrant) || !zero.IsZero() || zero.CallID() != "" {
		t.Fatal("zero grant")
	}
}

func TestEngineAuditsDecisions(t *testing.T) {
	var events []audit.Event
	log := audit.AppenderFunc(func(_ context.Context, e audit.Event) (uint64, error) {
		events = append(events, e)
		return uint64(len(events) - 1), nil
	})
	eng, err := policy.New(&policy.Policy{Profile: policy.ProfileFR, Rules: []policy.Rule{
		{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := eng.Begin(t.Context(), policy.CallInfo{ID: "call-9", Agent: "agent-4"})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, c, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-4"})
	if len(events) != 2 {
		t.Fatalf("%d decisions audited, want 2", len(events))
	}
	for i, e := range events {
		if e.Kind != audit.KindPolicyDecision || e.CallID != "call-9" || e.PolicyVersion != eng.Version() {
			t.Fatalf("event %d: %+v", i, e)
		}
		if attrOf(e, "agent") != "agent-4" {
			t.Fatalf("event %d has no agent: %+v", i, e.Attrs)
		}
	}
	if attrOf(events[1], "event") != "agent-start" || attrOf(events[1], "record") != "true" {
		t.Fatalf("second decision: %+v", events[1].Attrs)
	}
	failing := audit.AppenderFunc(func(context.Context, audit.Event) (uint64, error) { return 0, errors.New("disk full") })
	eng2, _ := policy.New(&policy.Policy{Profile: policy.ProfileFR, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{Audit: failing})
	if _, _, err := eng2.Begin(t.Context(), policy.CallInfo{ID: "x"}); err == nil {
		t.Fatal("Begin succeeded although its decision could not be audited")
	}
}

func attrOf(e audit.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}
