package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"

	"github.com/consentrec/consentrec/policy"
)

func init() {
	register(&command{name: "policy check", args: "FILE",
		short: "validate a policy (exit 1 if refused) and print what it records, keeps and tells",
		run:   policyCheck})
	register(&command{name: "policy register", args: "FILE [--json]",
		short: "print the GDPR Art. 30 register entry the policy implies (purposes, bases, retention, recipients, security)",
		run:   policyRegister})
	register(&command{name: "policy statutes", args: "",
		short: "list the statutes a legal-obligation rule may name, with the retention each fixes (R1, R11, R12)",
		run:   policyStatutes})
	register(&command{name: "policy simulate", args: "FILE --calls N [--agents A] [--key K]",
		short: "decide N synthetic calls and count the recorded ones",
		run:   policySimulate})
}

func loadPolicy(path string) (*policy.Policy, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := policy.Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func policyCheck(e *env, args []string) error {
	fs := flag.NewFlagSet("policy check", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one policy FILE")
	}
	p, err := loadPolicy(pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %s is a lawful policy\n\n", pos[0])
	return p.Summary(e.stdout)
}

func policyRegister(e *env, args []string) error {
	fs := flag.NewFlagSet("policy register", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one policy FILE")
	}
	p, err := loadPolicy(pos[0])
	if err != nil {
		return err
	}
	entry := p.Register()
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entry)
	}
	return entry.WriteText(e.stdout)
}

func policySimulate(e *env, args []string) error {
	fs := flag.NewFlagSet("policy simulate", flag.ContinueOnError)
	calls := fs.Int("calls", 0, "number of synthetic calls, `N` (required)")
	agents := fs.Int("agents", 10, "number of agents, `A`, taking the calls in turn")
	keyHex := fs.String("key", "", "sampling key `K`, hex or text (default: a fixed demo key; use the real one to replay decisions)")
	profile := fs.String("profile", "", "jurisdiction `PROFILE` of the calls, e.g. FR or DE (default: the policy's)")
	inScope := fs.Bool("in-scope", false, "mark every call in scope of statute rules")
	verbose := fs.Bool("v", false, "print the first decisions")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one policy FILE")
	}
	if *calls <= 0 {
		return usagef("--calls must be a positive number")
	}
	if *agents <= 0 {
		return usagef("--agents must be a positive number")
	}
	p, err := loadPolicy(pos[0])
	if err != nil {
		return err
	}
	key := []byte("consentrec-demo-sampling-key")
	if *keyHex != "" {
		if b, err := hex.DecodeString(*keyHex); err == nil && len(b) >= 16 {
			key = b
		} else {
			key = []byte(*keyHex)
		}
	}
	eng, err := policy.New(p, policy.Options{Key: key})
	if errors.Is(err, policy.ErrNoKey) {
		return usagef("--key must be at least 16 bytes")
	}
	if err != nil {
		return err
	}
	res, err := policy.Simulate(context.Background(), eng, policy.Simulation{Calls: *calls, Agents: *agents, Profile: policy.Profile(*profile), InScope: *inScope})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "policy %s, version %s\n", p.Name, eng.Version())
	if *verbose {
		for _, c := range res.First {
			fmt.Fprintf(e.stdout, "  %s %s: %s\n", c.Call.ID, c.Call.Agent, c.Decision)
		}
	}
	reasons := make([]string, 0, len(res.ByReason))
	for r := range res.ByReason {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(e.stdout, "  %-20s %d\n", r, res.ByReason[policy.Reason(r)])
	}
	if len(res.ByAgent) > 0 {
		lo, hi := -1, 0
		for i := 1; i <= *agents; i++ {
			n := res.ByAgent[fmt.Sprintf("agent-%02d", i)]
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		fmt.Fprintf(e.stdout, "  per agent: min %d, max %d over %d agents\n", lo, hi, *agents)
	}
	fmt.Fprintf(e.stdout, "recorded %d of %d calls (%.2f%%)\n", res.Recorded, res.Calls, 100*res.Rate())
	return nil
}

func policyStatutes(e *env, args []string) error {
	fs := flag.NewFlagSet("policy statutes", flag.ContinueOnError)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	for _, s := range policy.Statutes() {
		fmt.Fprintf(e.stdout, "%q (profile %s)\n  %s\n  retention: at least %s, at most %s", s.ID, s.Profile, s.Title, s.MinRetention, s.MaxRetention)
		if !s.ExtendedRetention.IsZero() {
			fmt.Fprintf(e.stdout, ", %s with \"authority_request\"", s.ExtendedRetention)
		}
		if s.FromSignature {
			fmt.Fprint(e.stdout, ", from the contract's signature")
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
