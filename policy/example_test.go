package policy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/consentrec/consentrec/policy"
)

// The zero policy records nothing: privacy by default.
func ExamplePolicy_zero() {
	e, _ := policy.New(&policy.Policy{}, policy.Options{})
	d, _ := e.Decide(context.Background(), policy.CallInfo{ID: "call-1"})
	fmt.Println(d.Record, d.Reason)
	// Output: false policy-off
}

// Recording every call without a statute is refused, naming field and rule.
func ExampleParse_systematic() {
	_, err := policy.Parse([]byte(`{"rules":[{"purpose":"quality","mode":"sampling","rate":1}]}`))
	var ce *policy.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field, ce.Rule, errors.Is(err, policy.ErrRefused))
	// Output: true rules[0].rate R1 true
}

// A 10% quality sample: the draw is a keyed hash of the call id, so the same
// call always gets the same answer and an auditor with the key can check it.
func ExampleEngine_Decide() {
	p, _ := policy.Parse([]byte(`{"profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"retention":"P30D"}]}`))
	e, _ := policy.New(p, policy.Options{Key: []byte("example-sampling-key")})
	start := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	recorded := 0
	for i := range 1000 {
		d, _ := e.Decide(context.Background(), policy.CallInfo{ID: fmt.Sprint("call-", i), Time: start})
		if d.Record {
			recorded++
			if recorded == 1 {
				fmt.Println(d.Purpose, d.Reason, d.Requires, d.OnObjection, d.Deadline.Format(time.DateOnly))
			}
		}
	}
	fmt.Println(recorded > 70 && recorded < 130)
	// Output:
	// quality sampled notice stop-and-purge 2026-12-28
	// true
}

// A call's decision follows its events: nothing is captured before the
// notice, and an objection stops recording and asks the host to purge.
func ExampleCall() {
	p, _ := policy.Parse([]byte(`{"profile":"FR","rules":[{"purpose":"contract-proof","mode":"agent"}]}`))
	e, _ := policy.New(p, policy.Options{})
	ctx := context.Background()
	call, d, _ := e.Begin(ctx, policy.CallInfo{ID: "sale-1", Agent: "a1"})
	fmt.Println(d.Record, d.Reason)
	d, _ = call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "a1"})
	fmt.Println(d.Record, d.Capture, d.Pending)
	d, _ = call.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	fmt.Println(d.Capture)
	d, _ = call.Apply(ctx, policy.Event{Kind: policy.EventObjection, Actor: "caller"})
	fmt.Println(d.Record, d.Purge, d.Reason)
	// Output:
	// false await-agent
	// true false notice
	// true
	// false true objected
}

// Retention periods are calendar periods with a legal maximum per purpose.
func ExamplePeriod_Exceeds() {
	r, _ := policy.Quality.Rules()
	fmt.Println(r.MaxRetention, policy.Days(181).Exceeds(r.MaxRetention), policy.Days(183).Exceeds(r.MaxRetention))
	// Output: P6M false true
}

func ExamplePolicy_Summary() {
	p, _ := policy.Parse([]byte(`{"name":"q","profile":"FR","rules":[{"purpose":"quality","mode":"sampling","rate":0.1}]}`))
	var b strings.Builder
	p.Summary(&b)
	for _, line := range strings.Split(b.String(), "\n")[3:9] {
		fmt.Println(line)
	}
	// Output:
	// rule 1: quality
	//   records: a random 10% of calls (keyed draw, reproducible by an auditor)
	//   lawful basis: 6(1)(f) legitimate interests
	//   retention: 30 days (P30D; maximum P6M)
	//   who may listen: quality, supervisor
	//   before recording: notice; on objection: stop-and-purge
}
