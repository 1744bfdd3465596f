// Command quickstart runs consentrec's whole flow on simulated calls, with
// nothing to install beyond Go, through the one path an application uses,
// consentrec.Service:
//
//  1. the policy decides for a batch of calls and explains each decision
//     (and audits it);
//  2. the notice is played to each caller (paced in real time) before
//     anything is recorded; a caller who objects is not recorded, a German
//     caller is recorded only after saying yes;
//  3. the selected calls are recorded dual-channel from two pion peer
//     connections on loopback, one with a card-data pause, one started by
//     its agent (contract proof, announced first); at hang-up each
//     recording is catalogued with its purpose, lawful basis and deadline;
//  4. retention holds one recording, moves time past the deadlines and
//     sweeps;
//  5. the audit log, which received every step, is verified.
//
// Everything goes to one data directory:
//
//	go run ./examples/quickstart [-data DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	auditreport "github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
	"github.com/pion/webrtc/v4"
)

// demoPolicy samples 20% of calls for quality (30 days) and lets agents
// record the contract part of a sale (5 years); the staff representative's
// line is never recorded.
const demoPolicy = `{
  "name": "quickstart",
  "profile": "FR",
  "rules": [
    {"purpose": "quality", "mode": "sampling", "rate": 0.20, "cap": {"max": 1000, "per": "month"}, "retention": "P30D"},
    {"purpose": "contract-proof", "mode": "agent", "retention": "P5Y"}
  ],
  "protected_lines": ["cse-rep"]
}`

func main() {
	data := flag.String("data", "", "data directory (default: a new folder under the system temp dir, printed)")
	callLen := flag.Duration("call", 4*time.Second, "length of each recorded demo call")
	flag.Parse()
	if err := run(context.Background(), *data, *callLen); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// demoCall is one simulated call and what happens to it.
type demoCall struct {
	info    policy.CallInfo
	caller  string // the caller's number: never stored, only its keyed hash
	lang    string
	object  bool // the caller objects during the notice
	consent bool // the caller says yes (opt-in profile)
	agent   bool // the agent presses record (contract proof)
	pause   bool // card data: the agent pauses the recording

	call *consentrec.Call
	p    *peers
	out  strings.Builder
	res  consentrec.Result
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
	p, err := policy.Parse([]byte(demoPolicy))
	if err != nil {
		return err
	}
	// The embedded defaults: audit log, recordings, catalog and keys in
	// the data directory. Opus prompts need the pure-Go encoder.
	svc, err := consentrec.Open(ctx, dir, consentrec.Options{Policy: p, Encoders: opusprompt.Encoders,
		Keys: notice.Keys{Object: '9', Consent: '1'}})
	if err != nil {
		return err
	}
	defer svc.Close()
	speech, tone, err := fixtures()
	if err != nil {
		return err
	}

	// 1. The policy decides (and audits each decision).
	engine := svc.Engine()
	fmt.Printf("== 1. policy decides (policy %s, version %s)\n", p.Name, engine.Version())
	calls := []*demoCall{
		{info: policy.CallInfo{ID: "call-0001", Agent: "agent-01"}, caller: "+33 1 23 45 67 01", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0003", Agent: "agent-01", Private: true}, caller: "+33 1 23 45 67 03", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0004", Agent: "cse-rep"}, caller: "+33 1 23 45 67 04", lang: "fr"},
		{info: policy.CallInfo{ID: "call-0005", Agent: "agent-03", Profile: policy.ProfileUSAllParty}, caller: "+1 415 555 0105", lang: "en"},
		{info: policy.CallInfo{ID: "call-0007", Agent: "agent-01", Internal: true}, caller: "internal", lang: "fr"},
	}
	// More calls until three FR calls (two kept, one objecting) and one
	// German call are sampled; the first FR call not sampled is the sale
	// whose agent records the contract part.
	fr, de, agent := 0, 0, false
	for i := 8; (fr < 3 || de < 1 || !agent) && i < 500; i++ {
		c := &demoCall{info: policy.CallInfo{ID: fmt.Sprintf("call-%04d", i), Agent: fmt.Sprintf("agent-%02d", 1+i%3)},
			caller: fmt.Sprintf("+33 1 23 45 %02d %02d", i/100, i%100), lang: "fr"}
		if i%2 == 0 {
			c.info.Profile, c.caller, c.lang = policy.ProfileDE, fmt.Sprintf("+49 30 1234 %04d", i), "de"
		}
		switch sel := policy.DrawFraction(engine.Draw(0, c.info.ID)) < p.Rules[0].Rate; {
		case sel && c.info.Profile == policy.ProfileDE && de < 1:
			c.consent, de = true, de+1
		case sel && c.info.Profile == "" && fr < 3:
			fr++
			c.object, c.pause = fr == 3, fr == 1
		case !sel && c.info.Profile == "" && !agent:
			c.agent, agent = true, true
		case i > 12:
			continue
		}
		calls = append(calls, c)
	}
	start := time.Now().UTC().Truncate(time.Second)
	for i, c := range calls {
		c.info.Time = start.Add(time.Duration(i) * time.Second)
		if c.p, err = newPeers(); err != nil {
			return err
		}
		defer c.p.close(nil)
		if c.call, err = answer(ctx, svc, c.p.backend, c.p.toCaller, c.info, c.lang, c.caller); err != nil {
			return err
		}
		d := c.call.Decision()
		fmt.Printf("%s %-9s %-12s %s%s\n", c.info.ID, c.info.Agent, profileName(d.Profile), d, why(c.info, d))
	}

	// 2 and 3. Inform, then record: the selected calls run concurrently,
	// each in real time, over WebRTC on loopback.
	fmt.Printf("\n== 2. notice informs, 3. recorder captures (each call in real time, concurrently)\n")
	var wg sync.WaitGroup
	errs := make([]error, len(calls))
	for i, c := range calls {
		d := c.call.Decision()
		if !d.Record && !c.agent {
			if _, err := c.call.Hangup(ctx); err != nil { // nothing to record
				return err
			}
			continue
		}
		wg.Go(func() { errs[i] = c.play(ctx, svc, speech, tone, callLen) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var kept []*demoCall
	for _, c := range calls {
		fmt.Print(c.out.String())
		if len(c.res.Recordings) > 0 {
			kept = append(kept, c)
		}
	}

	// 4. Retention expires.
	fmt.Printf("\n== 4. retention expires\n")
	if err := retentionStep(ctx, svc, dir, kept); err != nil {
		return err
	}

	// 5. The audit log seals it all.
	if err := svc.Close(); err != nil {
		return err
	}
	rep, err := audit.VerifyDir(ctx, root, nil)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	fmt.Printf("\n== 5. audit seals\naudit verify: ok: %d entries, root %s, signed checkpoint at %d\n", rep.Entries, rep.Root, rep.Checkpoint.Size)

	// 6. The compliance report a DPO reads, proven from the audit log.
	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		return err
	}
	defer cat.Close()
	report, err := auditreport.Build(ctx, auditreport.DirSource(root, cat), auditreport.Options{Policy: p})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	page := filepath.Join(root, "report.html")
	if err := report.SaveHTML(page); err != nil {
		return err
	}
	fmt.Printf("\n== 6. compliance report\n%s\nreport: %s\n", report.Summary(), page)
	fmt.Printf("\nnext: consentrec audit show --data %s   (go install github.com/consentrec/consentrec/cmd/consentrec@latest)\n", root)
	return nil
}

// play places the call over WebRTC through the backend's glue (answer),
// informs the caller, records if the policy allows, and hangs up.
func (c *demoCall) play(ctx context.Context, svc *consentrec.Service, speech, tone [][]byte, callLen time.Duration) error {
	say := func(format string, a ...any) { fmt.Fprintf(&c.out, "%s %s\n", c.info.ID, fmt.Sprintf(format, a...)) }
	p, call, info := c.p, c.call, c.info
	// The demo's agent leg: what the caller hears from the support side.
	// A real backend consumes the agent's own track instead.
	p.customer.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go call.Consume(ctx, recorder.Agent, t) })
	if err := p.connect(ctx); err != nil {
		return err
	}
	media, stop := context.WithCancel(ctx)
	defer stop()
	go play(media, p.fromCaller, speech) // the caller speaks throughout
	if c.object {
		time.AfterFunc(time.Second, func() { call.Object(ctx, notice.MethodButton, "caller") })
	}
	r, err := call.Inform(ctx) // plays the notice; recording starts if allowed
	if err != nil {
		return err
	}
	how := "completed"
	if !r.Completed() {
		how = "interrupted: " + string(r.Interrupted)
	}
	say("notice %s (version %.12s) played %v to the caller over WebRTC, %s; receipt audited", r.Prompt, r.Version, r.Played.Round(10*time.Millisecond), how)
	if c.object {
		say("the caller objected 1 s into the notice: nothing is recorded")
	}
	if c.consent {
		say("the caller says yes (opt-in)")
		if _, err := call.Consent(ctx, notice.MethodButton, "caller"); err != nil {
			return err
		}
	}
	if c.agent {
		d, err := call.AgentStart(ctx, info.Agent, policy.ContractProof)
		if err != nil {
			return err
		}
		say("agent %s pressed record: the caller heard the announcement; %s", info.Agent, d)
	}
	go play(media, p.toCaller, tone) // the agent speaks
	if call.Recording() {
		say("recording: %s", call.Decision())
	}
	if c.pause {
		time.Sleep(callLen / 3)
		say("card data: the agent pauses for %v", (callLen / 4).Round(10*time.Millisecond))
		if err := call.Pause(ctx, "card-data", info.Agent); err != nil {
			return err
		}
		time.Sleep(callLen / 4)
		if err := call.Resume(ctx, info.Agent); err != nil {
			return err
		}
		time.Sleep(callLen - callLen/3 - callLen/4)
	} else {
		time.Sleep(callLen)
	}
	if c.res, err = call.Hangup(ctx); err != nil {
		return err
	}
	for _, r := range c.res.Recordings {
		m, err := svc.Store().Stat(ctx, r.ID)
		if err != nil {
			return err
		}
		say("hang-up: %s catalogued: %s, basis %s, delete by %s, %v, %d gap(s)", r.ID, r.Purpose, r.LawfulBasis,
			r.Deadline.Format(time.DateOnly), m.Duration.Round(10*time.Millisecond), len(r.Gaps))
		for _, g := range r.Gaps {
			if g.Actor != "" {
				say("  gap %.2fs-%.2fs %s by %s (%s)", g.Start.Seconds(), g.End.Seconds(), g.Reason, g.Actor, g.Note)
			}
		}
	}
	if c.res.Purged {
		say("hang-up: purged after the objection, nothing kept")
	}
	return nil
}

// why says why a call is not recorded when the reason alone does not.
func why(info policy.CallInfo, d policy.Decision) string {
	if d.Reason != policy.ReasonExcluded {
		return ""
	}
	switch {
	case info.Private:
		return " [a private call: never recorded, R20]"
	case info.Internal:
		return " [an internal call between employees: never recorded]"
	default:
		return " [a protected line (staff representative): never recorded, R20]"
	}
}

func profileName(p policy.Profile) string {
	switch p {
	case policy.ProfileUnknown:
		return "(strictest)"
	case policy.ProfileDE:
		return "DE (opt-in)"
	}
	return string(p)
}
