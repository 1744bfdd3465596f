package policy

import (
	"context"
	"fmt"
	"time"
)

// Simulation describes a batch of synthetic calls for Simulate.
type Simulation struct {
	Calls  int       // number of calls
	Agents int       // agents taking them in turn; 0 means 1
	Start  time.Time // first call; zero means the start of the current UTC month
	// Span is the time over which calls are spread evenly; zero means the
	// calendar month of Start.
	Span    time.Duration
	Profile Profile // the calls' profile; empty: the policy's
	// InScope marks every call as in scope of statute rules.
	InScope bool
}

// SimResult counts what Simulate decided.
type SimResult struct {
	Calls    int
	Recorded int
	ByAgent  map[string]int  // recorded calls per agent
	ByReason map[Reason]int  // decisions per reason
	ByRule   map[Purpose]int // recorded calls per purpose
	First    []SimulatedCall // the first decisions, for display (up to 10)
}

// SimulatedCall is one decision of a simulation.
type SimulatedCall struct {
	Call     CallInfo
	Decision Decision
}

// Rate is Recorded/Calls.
func (r SimResult) Rate() float64 {
	if r.Calls == 0 {
		return 0
	}
	return float64(r.Recorded) / float64(r.Calls)
}

// Simulate decides s.Calls synthetic calls (ids "call-000001"...) with e and
// counts the outcomes. Calls are spread evenly over the span and given to
// agents ("agent-01"...) in turn. Counts go to e's Counter.
func Simulate(ctx context.Context, e *Engine, s Simulation) (SimResult, error) {
	if s.Calls < 0 || s.Agents < 0 {
		return SimResult{}, fmt.Errorf("simulate: negative calls or agents")
	}
	agents := max(s.Agents, 1)
	start := s.Start
	if start.IsZero() {
		start, _ = Month.bounds(time.Now(), e.loc)
	}
	span := s.Span
	if span == 0 {
		_, end := Month.bounds(start, e.loc)
		span = end.Sub(start)
	}
	res := SimResult{Calls: s.Calls, ByAgent: map[string]int{}, ByReason: map[Reason]int{}, ByRule: map[Purpose]int{}}
	names := make([]string, agents)
	for i := range names {
		names[i] = fmt.Sprintf("agent-%02d", i+1)
	}
	step := span / time.Duration(max(s.Calls, 1))
	for i := range s.Calls {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("simulate: %w", err)
		}
		c := CallInfo{ID: fmt.Sprintf("call-%06d", i+1), Agent: names[i%agents], Time: start.Add(time.Duration(i) * step), Profile: s.Profile, InScope: s.InScope}
		d, err := e.Decide(ctx, c)
		if err != nil {
			return res, fmt.Errorf("simulate: %w", err)
		}
		res.ByReason[d.Reason]++
		if d.Record {
			res.Recorded++
			res.ByAgent[c.Agent]++
			res.ByRule[d.Purpose]++
		}
		if len(res.First) < 10 {
			res.First = append(res.First, SimulatedCall{c, d})
		}
	}
	return res, nil
}
