package policytest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
)

// Grant returns a valid grant to record call callID for purpose p, minted
// the only way grants are: by a real policy.Engine whose policy lets an agent
// start recording (a statute rule for LegalObligation), after the caller
// heard the notice. Use it to drive a recorder directly in tests. It fails
// tb if no grant can be had.
func Grant(tb testing.TB, callID string, p policy.Purpose) policy.Grant {
	tb.Helper()
	c, err := GrantCall(callID, p)
	if err != nil {
		tb.Fatalf("policytest: grant: %v", err)
	}
	g, err := c.Grant()
	if err != nil {
		tb.Fatalf("policytest: grant: %v", err)
	}
	return g
}

// Grantee is what GrantFor needs of a recorder (*recorder.Recorder has it).
type Grantee interface {
	CallID() string
	Purpose() policy.Purpose
}

// GrantFor returns a valid grant for rec's call and purpose (Quality when
// rec is not pinned to one): see Grant.
func GrantFor(tb testing.TB, rec Grantee) policy.Grant {
	tb.Helper()
	p := rec.Purpose()
	if p == "" {
		p = policy.Quality
	}
	return Grant(tb, rec.CallID(), p)
}

// GrantCall returns a policy.Call for callID whose decision allows capture
// for purpose p (an agent's start, or a statute for LegalObligation, after
// the caller's notice), under the FR profile. Its Grant method mints grants;
// applying an objection to it revokes them. For benchmarks and fuzzers that
// have no testing.TB at hand.
func GrantCall(callID string, p policy.Purpose) (*policy.Call, error) {
	pol := &policy.Policy{Name: "policytest", Profile: policy.ProfileFR,
		Rules: []policy.Rule{{Purpose: p, Mode: policy.ModeAgent}}}
	info := policy.CallInfo{ID: callID, Agent: "agent-test", Time: time.Now()}
	if p == policy.LegalObligation {
		pol.Profile = policy.ProfileMiFID
		pol.Rules[0].Mode, pol.Rules[0].Statute = policy.ModeStatute, "MiFID II Art. 16(7)"
		info.InScope = true
	}
	eng, err := policy.New(pol, policy.Options{})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	c, d, err := eng.Begin(ctx, info)
	if err != nil {
		return nil, err
	}
	if !d.Record {
		if _, err := c.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: info.Agent, Purpose: p}); err != nil {
			return nil, err
		}
	}
	if _, err := c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller,
		Evidence: "notice:policytest"}); err != nil {
		return nil, err
	}
	if d := c.Decision(); !d.Capture {
		return nil, fmt.Errorf("policytest: call %s cannot be captured: %s", callID, d)
	}
	return c, nil
}

// SelectedCallID returns a call id, starting with prefix, that eng's
// sampling and grid rules would select for a call like info (its agent,
// time and profile) when caps and grids still have room: tests get a
// selected call without searching ids themselves. It looks at each
// sampling rule's rate and each grid's first slot only, and fails tb when
// the policy samples nothing.
func SelectedCallID(tb testing.TB, eng *policy.Engine, prefix string) string {
	tb.Helper()
	return findCallID(tb, eng, prefix, true)
}

// UnselectedCallID returns a call id, starting with prefix, that none of
// eng's sampling rules selects.
func UnselectedCallID(tb testing.TB, eng *policy.Engine, prefix string) string {
	tb.Helper()
	return findCallID(tb, eng, prefix, false)
}

func findCallID(tb testing.TB, eng *policy.Engine, prefix string, selected bool) string {
	tb.Helper()
	rules := eng.Policy().Rules
	for n := 0; n < 100000; n++ {
		id := prefix + strconv.Itoa(n)
		any := false
		for i, r := range rules {
			if r.Mode == policy.ModeSampling && policy.DrawFraction(eng.Draw(i, id)) < r.Rate {
				any = true
			}
		}
		if any == selected {
			return id
		}
	}
	tb.Fatalf("policytest: no call id with prefix %q is %s by policy %q", prefix, map[bool]string{true: "selected", false: "left out"}[selected], eng.Policy().Name)
	return ""
}
