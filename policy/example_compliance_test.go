package policy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

// A sampling rate above one half is quasi-systematic: refused without a
// statute, naming the field and the rule.
func ExampleParse_quasiSystematic() {
	_, err := policy.Parse([]byte(`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.51,"cap":{"max":100,"per":"day"}}]}`))
	var ce *policy.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field, ce.Rule)
	// Output: true rules[0].rate R1
}

// FR insurance canvassing: 2 years from the contract's signature. The
// decision's deadline counts from the call until the signature is known.
func ExampleDecision_Signed() {
	p, _ := policy.Parse([]byte(`{"profile":"FR-insurance","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"Code des assurances L.112-2-2"}]}`))
	e, _ := policy.New(p, policy.Options{})
	call := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	d, _ := e.Decide(context.Background(), policy.CallInfo{ID: "ins-1", InScope: true, Time: call})
	fmt.Println(d.Statute, d.Retention, d.Deadline.Format(time.DateOnly))
	d, _ = d.Signed(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
	fmt.Println(d.Deadline.Format(time.DateOnly))
	// Output:
	// Code des assurances L.112-2-2 P2Y 2028-03-02
	// 2028-03-20
}

// The statutes a legal-obligation rule may name, with their retention.
func ExampleStatutes() {
	for _, s := range policy.Statutes() {
		fmt.Printf("%s: %s to %s", s.ID, s.MinRetention, s.MaxRetention)
		if !s.ExtendedRetention.IsZero() {
			fmt.Printf(" (%s on request)", s.ExtendedRetention)
		}
		fmt.Println()
	}
	// Output:
	// MiFID II Art. 16(7): P5Y to P5Y (P7Y on request)
	// RG AMF 312-39: P5Y to P5Y (P7Y on request)
	// FCA SYSC 10A: P5Y to P5Y (P7Y on request)
	// Code des assurances L.112-2-2: P2Y to P2Y
}

// Agents who have not acknowledged the employee notice in force are never
// recorded (R19).
func ExampleAgentNoticeFile() {
	dir, _ := os.MkdirTemp("", "notices")
	defer os.RemoveAll(dir)
	notices, _ := policy.OpenAgentNoticeFile(filepath.Join(dir, "agent-notices.jsonl"), audit.Discard)
	defer notices.Close()
	p, _ := policy.Parse([]byte(`{"profile":"FR","rules":[{"purpose":"contract-proof","mode":"agent"}]}`))
	e, _ := policy.New(p, policy.Options{AgentNoticeVersion: "v2", AgentNotices: notices})
	ctx := context.Background()
	d, _ := e.Decide(ctx, policy.CallInfo{ID: "c1", Agent: "agent-07"})
	fmt.Println(d.Reason)
	notices.Acknowledge(ctx, policy.Ack{Agent: "agent-07", Version: "v2", At: time.Now(), By: "agent-07"})
	d, _ = e.Decide(ctx, policy.CallInfo{ID: "c2", Agent: "agent-07"})
	fmt.Println(d.Reason)
	// Output:
	// agent-not-informed
	// await-agent
}
