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
