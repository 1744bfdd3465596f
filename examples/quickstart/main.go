// Command quickstart runs consentrec's flow on simulated calls, with nothing
// to install: the policy decides for each call and explains why; later
// steps (notice, recording, audit, retention) write to one data directory.
//
//	go run ./examples/quickstart [-data DIR]
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
)

// demoPolicy samples 20% of calls for quality (30 days) and lets agents
// record the contract part of a sale (5 years); the staff representative's
// line is never recorded.
const demoPolicy = `{
  "name": "quickstart",
  "profile": "FR",
  "rules": [
    {"purpose": "quality", "mode": "sampling", "rate": 0.20, "retention": "P30D"},
    {"purpose": "contract-proof", "mode": "agent", "retention": "P5Y"}
  ],
  "protected_lines": ["cse-rep"]
}`

func main() {
	data := flag.String("data", "", "data directory (default: a new folder under the system temp dir)")
	flag.Parse()
	if err := run(context.Background(), *data); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string) error {
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "consentrec-quickstart-"); err != nil {
			return err
		}
	}
	dir := consentrec.DataDir{Root: root}
	fmt.Printf("data directory: %s\n\n", root)
	if err := os.MkdirAll(dir.Keys(), 0o700); err != nil {
		return err
	}
	key, err := secret(filepath.Join(dir.Keys(), "sampling.key"))
	if err != nil {
		return err
	}
	p, err := policy.Parse([]byte(demoPolicy))
	if err != nil {
		return err
	}
	counter, err := policy.OpenFileCounter(filepath.Join(root, "policy-counts"))
	if err != nil {
		return err
	}
	defer counter.Close()
	engine, err := policy.New(p, policy.Options{Key: key, Counter: counter})
	if err != nil {
		return err
	}
	fmt.Printf("== 1. policy decides (policy %s, version %s)\n", p.Name, engine.Version())
	start := time.Now().UTC().Truncate(time.Second)
	calls := []policy.CallInfo{
		{ID: "call-0001", Agent: "agent-01"},
		{ID: "call-0002", Agent: "agent-02", Profile: policy.ProfileDE},
		{ID: "call-0003", Agent: "agent-01", Private: true},
		{ID: "call-0004", Agent: "cse-rep"},
		{ID: "call-0005", Agent: "agent-03", Profile: policy.ProfileUSAllParty},
		{ID: "call-0006", Agent: "agent-02"},
		{ID: "call-0007", Agent: "agent-01", Internal: true},
		{ID: "call-0008", Agent: "agent-03"},
	}
	// Add calls until one is sampled, so the demo always shows a recording.
	for i := 9; !anySampled(engine, calls) && i < 100; i++ {
		calls = append(calls, policy.CallInfo{ID: fmt.Sprintf("call-%04d", i), Agent: "agent-02"})
	}
	for i := range calls {
		calls[i].Time = start.Add(time.Duration(i) * time.Minute)
		c, d, err := engine.Begin(ctx, calls[i])
		if err != nil {
			return err
		}
		fmt.Printf("%s %-9s %-13s %s\n", calls[i].ID, calls[i].Agent, profileName(d.Profile), d)
		if d.Candidate && calls[i].ID == "call-0006" {
			// The agent records the contract part of a sale, after the notice.
			c.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted})
			d, err = c.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: calls[i].Agent, Purpose: policy.ContractProof})
			if err != nil {
				return err
			}
			fmt.Printf("%s %-9s %-13s   agent pressed record: %s\n", calls[i].ID, calls[i].Agent, "", d)
		}
	}
	return nil
}

func anySampled(e *policy.Engine, calls []policy.CallInfo) bool {
	for _, c := range calls {
		if !c.Private && !c.Internal && c.Agent != "cse-rep" && policy.DrawFraction(e.Draw(0, c.ID)) < 0.20 {
			return true
		}
	}
	return false
}

func profileName(p policy.Profile) string {
	if p == policy.ProfileUnknown {
		return "(strictest)"
	}
	return string(p)
}

// secret returns the 32-byte secret kept at path, creating it on first use.
func secret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 16 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	return b, os.WriteFile(path, b, 0o600)
}
