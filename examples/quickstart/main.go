// Command quickstart runs consentrec's whole flow on simulated calls, with
// nothing to install beyond Go:
//
//  1. the policy decides for a batch of calls and explains each decision;
//  2. the notice is played (paced in real time) before anything is recorded,
//     and a caller who presses 9 is not recorded;
//  3. the selected calls are recorded dual-channel from two pion peer
//     connections on loopback, and each file is inspected;
//  4. retention catalogues the recordings, holds one, moves time past the
//     deadline and sweeps;
//  5. the audit log, which received every step, is verified.
//
// Everything goes to one data directory:
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
	"sync"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/examples/internal/democall"
	"github.com/consentrec/consentrec/examples/internal/retentiondemo"
	"github.com/consentrec/consentrec/internal/atomicfile"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/sampleprompts"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
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
	callLen := flag.Duration("call", 4*time.Second, "length of each recorded demo call")
	flag.Parse()
	if err := run(context.Background(), *data, *callLen); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// demoCall is one simulated call and what happens to it.
type demoCall struct {
	info   policy.CallInfo
	caller string // the caller's number: never stored, only its keyed hash
	lang   string
	object bool // the caller presses 9 during the notice
	agent  bool // the agent presses record (contract proof)

	call     *policy.Call
	decision policy.Decision
	result   *democall.Result
	notice   string
}

func run(ctx context.Context, root string, callLen time.Duration) error {
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
	log, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		return err
	}
	defer log.Close()

	// Finalize what a crashed run may have left (none on a fresh directory).
	store, err := recorder.NewFileStore(dir.Recordings())
	if err != nil {
		return err
	}
	if recovered, err := recorder.Recover(ctx, store, log); err != nil {
		return err
	} else if len(recovered) > 0 {
		fmt.Printf("recovered %d recording(s) left by a crash\n", len(recovered))
	}

	// 1. The policy decides.
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
	if _, err := log.Append(ctx, audit.Event{Kind: audit.KindPolicyChange, Actor: "quickstart", PolicyVersion: engine.Version(), Reason: "policy loaded: " + p.Name}); err != nil {
		return err
	}
	fmt.Printf("== 1. policy decides (policy %s, version %s)\n", p.Name, engine.Version())
	calls := []*demoCall{
		{info: policy.CallInfo{ID: "call-0001", Agent: "agent-01"}, caller: "+33 1 23 45 67 01", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0002", Agent: "agent-02", Profile: policy.ProfileDE}, caller: "+49 30 1234 5602", lang: "de"},
		{info: policy.CallInfo{ID: "call-0003", Agent: "agent-01", Private: true}, caller: "+33 1 23 45 67 03", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0004", Agent: "cse-rep"}, caller: "+33 1 23 45 67 04", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0005", Agent: "agent-03", Profile: policy.ProfileUSAllParty}, caller: "+1 415 555 0105", lang: "en"},
		{info: policy.CallInfo{ID: "call-0006", Agent: "agent-02"}, caller: "+33 1 23 45 67 06", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0007", Agent: "agent-01", Internal: true}, caller: "internal", lang: "fr"},
	}
	// More calls until three FR calls are sampled: two to keep (one of
	// them held) and one whose caller objects.
	for i := 8; sampled(engine, calls) < 3 && i < 200; i++ {
		calls = append(calls, &demoCall{info: policy.CallInfo{ID: fmt.Sprintf("call-%04d", i), Agent: fmt.Sprintf("agent-%02d", 1+i%3)},
			caller: fmt.Sprintf("+33 1 23 45 %02d %02d", i/100, i%100), lang: "fr"})
	}
	start := time.Now().UTC().Truncate(time.Second)
	objector, agent, skipped := false, false, 0
	for i, c := range calls {
		c.info.Time = start.Add(time.Duration(i) * time.Second)
		c.call, c.decision, err = engine.Begin(ctx, c.info)
		if err != nil {
			return err
		}
		if _, err := log.Append(ctx, c.decision.AuditEvent(c.info.ID, c.info.Time)); err != nil {
			return err
		}
		if !agent && c.decision.Candidate && !c.decision.Record && c.decision.Profile == policy.ProfileFR {
			c.agent, agent = true, true // this call's agent will record the contract part of a sale
		}
		if c.decision.Record && !objector && c.decision.Profile == policy.ProfileFR && sampledCount(calls[:i]) >= 2 {
			c.object, objector = true, true
		}
		if i < 7 || c.decision.Record {
			if skipped > 0 {
				fmt.Printf("  ... %d more calls not sampled\n", skipped)
				skipped = 0
			}
			fmt.Printf("%s %-9s %-13s %s\n", c.info.ID, c.info.Agent, profileName(c.decision.Profile), c.decision)
		} else {
			skipped++
		}
	}

	// 2 and 3. Inform, then record: the calls run concurrently, each in
	// real time (notice, then the recorded conversation).
	fmt.Printf("\n== 2. notice informs, 3. recorder captures (each call in real time, concurrently)\n")
	lib, err := sampleprompts.Library()
	if err != nil {
		return err
	}
	var cache notice.Cache // G.711 built in; notice/opusprompt adds Opus for WebRTC legs
	var wg sync.WaitGroup
	errs := make([]error, len(calls))
	for i, c := range calls {
		if !c.decision.Record && !c.agent {
			continue
		}
		wg.Go(func() { errs[i] = c.play(ctx, log, lib, &cache, root, callLen) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var recorded []*demoCall
	for _, c := range calls {
		if c.notice != "" {
			fmt.Print(c.notice)
		}
		if c.result != nil {
			fmt.Print(indent(c.result.Summary()))
			recorded = append(recorded, c)
		}
	}

	// 4. Retention expires.
	fmt.Printf("\n== 4. retention expires\n")
	subjectKey, err := retention.SubjectSecret(dir.Keys(), true)
	if err != nil {
		return err
	}
	var entries []retention.Entry
	hold := ""
	for _, c := range recorded {
		e, err := fromrecorder.Entry(c.result.Meta, policy.SubjectKey(subjectKey, c.caller), c.decision.Retention)
		if err != nil {
			return err
		}
		if hold == "" && c.decision.Purpose == policy.Quality {
			hold = e.ID
		}
		entries = append(entries, e)
	}
	if _, err := retentiondemo.Run(ctx, retentiondemo.Config{
		Data: dir, Store: store, Audit: log, Recordings: entries, Hold: hold,
		IsIntegrity: func(err error) bool { return errors.Is(err, recorder.ErrIntegrity) },
		Out:         os.Stdout,
	}); err != nil {
		return err
	}

	// 5. The audit log seals it all.
	if err := log.Close(); err != nil {
		return err
	}
	rep, err := audit.VerifyDir(ctx, root, nil)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	fmt.Printf("\n== 5. audit seals\naudit verify: ok: %d entries, root %s, signed checkpoint at %d\n", rep.Entries, rep.Root, rep.Checkpoint.Size)
	fmt.Printf("\nnext: go run ./cmd/consentrec audit show --data %s\n", root)
	return nil
}

// play informs the caller and, if the policy then allows capture, records
// the call.
func (c *demoCall) play(ctx context.Context, log audit.Appender, lib *notice.Library, cache *notice.Cache, root string, callLen time.Duration) error {
	var out []string
	say := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	defer func() {
		for _, s := range out {
			c.notice += fmt.Sprintf("%s %s\n", c.info.ID, s)
		}
	}()
	prompt, err := lib.Select(c.lang, c.decision.Profile)
	if err != nil {
		return err
	}
	prep, err := cache.Get(prompt, notice.CodecPCMU)
	if err != nil {
		return err
	}
	in := &notice.Input{CallID: c.info.ID, Log: log, Handler: notice.HandlerFunc(func(ctx context.Context, a notice.Answer) {
		c.decision, _ = c.call.Apply(ctx, a.PolicyEvent())
	})}
	in.SetPrompt(prompt.Version())
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if c.object {
		// The caller presses 9 one second into the notice.
		time.AfterFunc(time.Second, func() {
			in.Key(pctx, '9', notice.MethodRFC4733)
			cancel(notice.ErrObjected)
		})
	}
	packets := 0
	leg := notice.FrameSinkFunc(func(notice.Frame) error { packets++; return nil }) // a SIP leg: notice.NewRTPPacketizer
	r, err := (&notice.Player{CallID: c.info.ID, Log: log}).Play(pctx, prep, leg)
	if err != nil {
		return err
	}
	how := "completed"
	if !r.Completed() {
		how = "interrupted: " + string(r.Interrupted)
	}
	say("notice %s (version %.12s) played %v in %d PCMU packets, %s; receipt audited", r.Prompt, r.Version, r.Played.Round(10*time.Millisecond), packets, how)
	d, err := c.call.Apply(ctx, r.PolicyEvent())
	if err != nil {
		return err
	}
	if c.agent {
		nd, err := c.call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: c.info.Agent, Purpose: policy.ContractProof})
		switch {
		case errors.Is(err, policy.ErrNotAllowed):
			say("agent %s pressed record: refused, %v", c.info.Agent, err)
		case err != nil:
			return err
		default:
			d = nd
			say("agent %s pressed record: %s", c.info.Agent, d)
		}
	}
	c.decision = d
	if d.Purge || !d.Capture {
		say("not recorded: %s (nothing was captured)", d)
		return nil
	}
	grant, err := c.call.Grant()
	if err != nil {
		return err
	}
	cfg := democall.Config{DataDir: root, Audit: log, CallID: c.info.ID, Grant: grant,
		Purpose: d.Purpose, PolicyVersion: d.PolicyVersion, Duration: callLen}
	if c.agent {
		// The customer reads a card number: the agent pauses the recording.
		cfg.PauseAt, cfg.PauseFor = (callLen / 3).Round(10*time.Millisecond), (callLen / 4).Round(10*time.Millisecond)
		say("card data at %v: the agent pauses the recording for %v", cfg.PauseAt, cfg.PauseFor)
	}
	res, err := democall.Run(ctx, cfg)
	if err != nil {
		return err
	}
	c.result = &res
	return nil
}

func sampled(e *policy.Engine, calls []*demoCall) int {
	n := 0
	for _, c := range calls {
		if c.info.Profile == "" && !c.info.Private && !c.info.Internal && c.info.Agent != "cse-rep" && policy.DrawFraction(e.Draw(0, c.info.ID)) < 0.20 {
			n++
		}
	}
	return n
}

func sampledCount(calls []*demoCall) int {
	n := 0
	for _, c := range calls {
		if c.decision.Record {
			n++
		}
	}
	return n
}

func profileName(p policy.Profile) string {
	if p == policy.ProfileUnknown {
		return "(strictest)"
	}
	return string(p)
}

func indent(s string) string {
	out := ""
	for _, l := range splitLines(s) {
		out += "    " + l + "\n"
	}
	return out
}

func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		lines = append(lines, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return lines
}

// secret returns the 32-byte secret kept at path, creating it on first use
// (whole or not at all: an empty key would change every later draw).
func secret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 16 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	err = atomicfile.CreateNew(path, b)
	if errors.Is(err, fs.ErrExist) {
		return secret(path)
	}
	return b, err
}
