// Package policytest provides fakes of the policy package for hosts' tests,
// and a conformance suite for Counter implementations.
package policytest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
)

// Fixed is a Decider that always returns the same decision (stamped with the
// call's time for the deadline) and records the calls it was asked about.
// Its zero value decides "do not record". It is safe for concurrent use.
type Fixed struct {
	Decision policy.Decision
	Err      error // returned by every Decide when set

	mu    sync.Mutex
	Calls []policy.CallInfo // the calls decided, in order
}

var _ policy.Decider = (*Fixed)(nil)

// Record returns a Fixed that records every call for purpose p after the
// notice, with p's default retention. Use it to test a host's recording path
// without sampling.
func Record(p policy.Purpose) *Fixed {
	r, _ := p.Rules()
	return &Fixed{Decision: policy.Decision{
		Record: true, Purpose: p, Mode: policy.ModeAgent, Reason: policy.ReasonAgentStarted,
		PolicyVersion: "pv1:fixed", Retention: r.DefaultRetention, LawfulBasis: r.LawfulBasis,
		Requires: policy.NeedNotice, Pending: policy.NeedNotice, OnObjection: policy.ObjectionStopAndPurge,
	}}
}

// Decide implements policy.Decider.
func (f *Fixed) Decide(ctx context.Context, c policy.CallInfo) (policy.Decision, error) {
	f.mu.Lock()
	f.Calls = append(f.Calls, c)
	f.mu.Unlock()
	if f.Err != nil {
		return policy.Decision{Reason: policy.ReasonPolicyOff}, f.Err
	}
	if err := ctx.Err(); err != nil {
		return policy.Decision{Reason: policy.ReasonPolicyOff}, err
	}
	d := f.Decision
	if d.Record {
		t := c.Time
		if t.IsZero() {
			t = time.Now()
		}
		d.Deadline = d.Retention.AddTo(t.UTC())
	}
	return d, nil
}

// FailingCounter is a Counter whose every call fails with Err (or a default
// error): use it to check a host records nothing when counts are unavailable.
type FailingCounter struct {
	Err   error
	Tries atomic.Int64
}

var _ policy.Counter = (*FailingCounter)(nil)

func (c *FailingCounter) err() error {
	c.Tries.Add(1)
	if c.Err != nil {
		return c.Err
	}
	return errors.New("policytest: counter unavailable")
}

// Take implements policy.Counter.
func (c *FailingCounter) Take(context.Context, policy.CounterKey, int64) (bool, error) {
	return false, c.err()
}

// Count implements policy.Counter.
func (c *FailingCounter) Count(context.Context, policy.CounterKey) (int64, error) {
	return 0, c.err()
}

// TestCounter checks that a Counter honours its contract: counts start at
// zero, Take stops at the limit, keys are independent, concurrent Takes
// never exceed the limit, and a cancelled context is refused. newCounter
// must return a fresh, empty counter each time.
func TestCounter(t *testing.T, newCounter func(t *testing.T) policy.Counter) {
	ctx := context.Background()
	k := policy.CounterKey{Policy: "pv1:test", Rule: 1, Agent: "agent-\t\"7\"", Period: 1764547200}
	t.Run("StartsAtZero", func(t *testing.T) {
		c := newCounter(t)
		if n, err := c.Count(ctx, k); err != nil || n != 0 {
			t.Fatalf("Count of a new key = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("StopsAtLimit", func(t *testing.T) {
		c := newCounter(t)
		for i := range 3 {
			ok, err := c.Take(ctx, k, 3)
			if err != nil || !ok {
				t.Fatalf("Take %d below limit 3 = %v, %v; want true", i, ok, err)
			}
		}
		if ok, err := c.Take(ctx, k, 3); err != nil || ok {
			t.Fatalf("Take at limit = %v, %v; want false, nil", ok, err)
		}
		if n, _ := c.Count(ctx, k); n != 3 {
			t.Fatalf("Count = %d, want 3", n)
		}
		if ok, _ := c.Take(ctx, k, 4); !ok {
			t.Fatalf("Take with a raised limit refused")
		}
	})
	t.Run("KeysIndependent", func(t *testing.T) {
		c := newCounter(t)
		k2 := k
		k2.Agent = "other"
		k3 := k
		k3.Period++
		c.Take(ctx, k, 10)
		c.Take(ctx, k, 10)
		c.Take(ctx, k2, 10)
		for _, tc := range []struct {
			key  policy.CounterKey
			want int64
		}{{k, 2}, {k2, 1}, {k3, 0}} {
			if n, _ := c.Count(ctx, tc.key); n != tc.want {
				t.Errorf("Count(%+v) = %d, want %d", tc.key, n, tc.want)
			}
		}
	})
	t.Run("ConcurrentNeverExceeds", func(t *testing.T) {
		c := newCounter(t)
		const limit, workers, tries = 25, 16, 10
		var wg sync.WaitGroup
		var granted atomic.Int64
		for range workers {
			wg.Go(func() {
				for range tries {
					if ok, err := c.Take(ctx, k, limit); err == nil && ok {
						granted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if g := granted.Load(); g != limit {
			t.Fatalf("%d Takes granted for limit %d", g, limit)
		}
		if n, _ := c.Count(ctx, k); n != limit {
			t.Fatalf("Count = %d, want %d", n, limit)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		c := newCounter(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if ok, err := c.Take(cctx, k, 10); err == nil || ok {
			t.Fatalf("Take with a cancelled context = %v, %v; want false and an error", ok, err)
		}
		if n, _ := c.Count(ctx, k); n != 0 {
			t.Fatalf("a refused Take counted: %d", n)
		}
	})
}

// AgentNotices is an in-memory policy.AgentNotices and
// policy.AgentNoticeWriter: it keeps each agent's latest acknowledgement
// and audits nothing (its limit: use policy.AgentNoticeFile to test the
// trail). Its zero value is ready to use and safe for concurrent use.
type AgentNotices struct {
	mu sync.Mutex
	m  map[string]policy.Ack
}

var (
	_ policy.AgentNotices      = (*AgentNotices)(nil)
	_ policy.AgentNoticeWriter = (*AgentNotices)(nil)
)

// Acknowledged implements policy.AgentNotices.
func (n *AgentNotices) Acknowledged(ctx context.Context, agent string) (policy.Ack, error) {
	if err := ctx.Err(); err != nil {
		return policy.Ack{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m[agent], nil
}

// Acknowledge implements policy.AgentNoticeWriter.
func (n *AgentNotices) Acknowledge(ctx context.Context, a policy.Ack) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.At = a.At.UTC()
	if err := a.Validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string]policy.Ack{}
	}
	if old, ok := n.m[a.Agent]; !ok || !old.At.After(a.At) {
		n.m[a.Agent] = a
	}
	return nil
}

// NoticeStore is what TestAgentNotices checks: notices that record acks.
type NoticeStore interface {
	policy.AgentNotices
	policy.AgentNoticeWriter
}

// TestAgentNotices checks that an AgentNotices with AgentNoticeWriter
// honours their contract: an agent never seen has a zero Ack and no error,
// the latest acknowledgement wins (by time), agents are independent,
// invalid acks are refused with ErrInvalidAck and change nothing,
// concurrent use is safe, and a cancelled context is refused. newNotices
// must return a fresh, empty store each time.
func TestAgentNotices(t *testing.T, newNotices func(t *testing.T) NoticeStore) {
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ack := func(agent, version string, d time.Duration) policy.Ack {
		return policy.Ack{Agent: agent, Version: version, At: at.Add(d), By: "hr-1"}
	}
	t.Run("NeverSeen", func(t *testing.T) {
		n := newNotices(t)
		if a, err := n.Acknowledged(ctx, "agent-1"); err != nil || a != (policy.Ack{}) {
			t.Fatalf("Acknowledged of an unknown agent = %+v, %v; want a zero Ack, nil", a, err)
		}
	})
	t.Run("LatestWins", func(t *testing.T) {
		n := newNotices(t)
		for _, a := range []policy.Ack{ack("agent-1", "v1", 0), ack("agent-1", "v2", time.Hour), ack("agent-2", "v1", 0)} {
			if err := n.Acknowledge(ctx, a); err != nil {
				t.Fatalf("Acknowledge(%+v): %v", a, err)
			}
		}
		if a, _ := n.Acknowledged(ctx, "agent-1"); a.Version != "v2" || !a.At.Equal(at.Add(time.Hour)) || a.By != "hr-1" || a.Agent != "agent-1" {
			t.Fatalf("agent-1: %+v, want v2 at %v by hr-1", a, at.Add(time.Hour))
		}
		if err := n.Acknowledge(ctx, ack("agent-1", "v0", -time.Hour)); err != nil {
			t.Fatal(err)
		}
		if a, _ := n.Acknowledged(ctx, "agent-1"); a.Version != "v2" {
			t.Fatalf("an older ack replaced a newer one: %+v", a)
		}
		if a, _ := n.Acknowledged(ctx, "agent-2"); a.Version != "v1" {
			t.Fatalf("agent-2: %+v", a)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		n := newNotices(t)
		for _, a := range []policy.Ack{{Version: "v", At: at, By: "x"}, {Agent: "a", At: at, By: "x"}, {Agent: "a", Version: "v", By: "x"},
			{Agent: "a", Version: "v", At: at}, {Agent: "a\n", Version: "v", At: at, By: "x"}} {
			if err := n.Acknowledge(ctx, a); !errors.Is(err, policy.ErrInvalidAck) {
				t.Errorf("Acknowledge(%+v) = %v, want ErrInvalidAck", a, err)
			}
		}
		if a, _ := n.Acknowledged(ctx, "a"); a != (policy.Ack{}) {
			t.Fatalf("an invalid ack was kept: %+v", a)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		n := newNotices(t)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 10 {
					a := ack("agent-"+string(rune('a'+w)), "v", time.Duration(i)*time.Second)
					if err := n.Acknowledge(ctx, a); err != nil {
						t.Error(err)
					}
					_, _ = n.Acknowledged(ctx, a.Agent)
				}
			})
		}
		wg.Wait()
		for w := range 8 {
			if a, _ := n.Acknowledged(ctx, "agent-"+string(rune('a'+w))); !a.At.Equal(at.Add(9 * time.Second)) {
				t.Errorf("agent %d: %+v, want the ack at +9s", w, a)
			}
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		n := newNotices(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := n.Acknowledge(cctx, ack("agent-1", "v1", 0)); err == nil {
			t.Fatal("Acknowledge with a cancelled context succeeded")
		}
		if a, _ := n.Acknowledged(ctx, "agent-1"); a != (policy.Ack{}) {
			t.Fatalf("a cancelled ack was kept: %+v", a)
		}
		if _, err := n.Acknowledged(cctx, "agent-1"); err == nil {
			t.Fatal("Acknowledged with a cancelled context returned no error")
		}
	})
}
