package main

import (
	"slices"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// pauseGap returns the recording's one pause gap and checks that the gap
// index and the audit log tell the pause the same way (issue 10 item 5):
// its start (from the recording's start) and its length agree to within
// one 20 ms frame, whatever the load.
func pauseGap(t *testing.T, r result, rc recording) recorder.Gap {
	t.Helper()
	var pauses []recorder.Gap
	for _, g := range rc.meta.Gaps {
		if g.Reason == recorder.GapPause {
			pauses = append(pauses, g)
		}
	}
	if len(pauses) != 1 {
		t.Fatalf("gaps %+v: want one pause", rc.meta.Gaps)
	}
	g := pauses[0]
	started := find(r.events, audit.KindRecordingStarted)
	paused, resumed := find(r.events, audit.KindRecordingPaused), find(r.events, audit.KindRecordingResumed)
	if len(started) != 1 || len(paused) != 1 || len(resumed) != 1 {
		t.Fatalf("%d started, %d paused, %d resumed events", len(started), len(paused), len(resumed))
	}
	logStart, logLen := paused[0].Time.Sub(started[0].Time), resumed[0].Time.Sub(paused[0].Time)
	if d := g.Start - logStart; d.Abs() > frame {
		t.Errorf("the gap index starts the pause %v into the recording, the audit log %v: %v apart, more than a frame", g.Start, logStart, d)
	}
	if d := (g.End - g.Start) - logLen; d.Abs() > frame {
		t.Errorf("the gap index has the pause last %v, the audit log %v: %v apart, more than a frame", g.End-g.Start, logLen, d)
	}
	t.Logf("pause: gap index %v+%v, audit log %v+%v", g.Start, g.End-g.Start, logStart, logLen)
	return g
}

// TestWidgetCardDataPause pauses a recording for card data (PCI DSS) while
// the customer talks 2 s: the gap index holds the pause with its reason and
// actor and agrees with the audit log to a frame, the file still lasts as
// long as the call, the paused span is silent on the customer channel while
// the caller's speech is there around it, and the page showed the pause
// only after the recorder and the policy had it.
func TestWidgetCardDataPause(t *testing.T) {
	e := start(t, setup{lang: "en"})
	e.call(true)
	e.record()
	e.talk(2 * time.Second)
	e.agentPress("pause")
	e.wait("pause", `(s) => s.paused`)
	e.screenshot(e.agent, "agent-paused.png")
	e.screenshot(e.cust, "customer-paused.png")
	// 2 s of the customer's audio arrive while paused (media time).
	e.do(e.cust, "2 s paused", `(() => { const from = __test.state.pausedMs;
		return __test.waitFor((s) => s.pausedMs >= from + 2000); })()`)
	e.agentPress("resume")
	e.wait("resume", `(s) => !s.paused && s.recording`)
	e.talk(2 * time.Second)
	r := e.hangup()
	if !r.report.SawRecording {
		t.Fatalf("recording never started")
	}
	checkAnnounced(t, r)
	rc := checkRecording(t, r)
	g := pauseGap(t, r, rc)
	if g.Actor != "agent-1" || g.Note != "card-data" || g.Leg != "" {
		t.Errorf("pause gap %+v: want actor agent-1, note card-data, every leg", g)
	}
	// The customer talked 2 s of media while the page showed the pause;
	// packets a busy machine delivered late may have been counted in it,
	// by at most the receive path's backlog (measured: under 300 ms at load 30).
	if got := g.End - g.Start; got < 1500*time.Millisecond {
		t.Errorf("pause gap lasts %v; the customer talked 2 s while paused", got)
	}
	// The page saw the pause, and the recorder paused before the policy
	// decided "paused".
	if !slices.ContainsFunc(r.report.States, func(s state) bool { return s.Paused }) {
		t.Errorf("the page never showed the pause")
	}
	pi := slices.IndexFunc(r.events, func(e audit.Event) bool { return e.Kind == audit.KindRecordingPaused })
	di := slices.IndexFunc(r.events, func(e audit.Event) bool {
		return e.Kind == audit.KindPolicyDecision && e.Reason == string(policy.ReasonPaused)
	})
	if pi < 0 || di < pi {
		t.Errorf("recorder paused at event %d, policy decision \"paused\" at event %d: want the recorder first", pi, di)
	}
	verifyAudit(t, r.dir)
	if rc.pcm == nil {
		return
	}
	// Silent while paused (a 60 ms margin for the codec's overlap at the
	// edges); the caller's speech before and after.
	const edge = 60 * time.Millisecond
	loud, frames := rc.loud(g.Start+edge, g.End-edge, -60)
	if frames < 60 || loud != 0 {
		t.Errorf("paused span: %d of %d 20 ms frames above -60 dBFS on the customer channel, want silence", loud, frames)
	}
	before, nb := rc.loud(0, g.Start, -40)
	after, na := rc.loud(g.End, rc.decoded(), -40)
	if nb == 0 || na == 0 || float64(before)/float64(nb) < 0.3 || float64(after)/float64(na) < 0.3 {
		t.Errorf("customer channel: %d/%d frames with speech before the pause, %d/%d after: want speech", before, nb, after, na)
	}
	t.Logf("customer channel: %d/%d frames loud while paused, %d/%d before, %d/%d after", loud, frames, before, nb, after, na)
}

// TestWidgetPauseEndsByItself: the agent pauses for card data and forgets
// to resume. The pause ends by itself after Options.MaxPause (R22),
// everywhere at once: the recorder records again, the policy and both pages
// say so.
func TestWidgetPauseEndsByItself(t *testing.T) {
	const maxPause = 2 * time.Second
	e := start(t, setup{lang: "en", maxPause: maxPause})
	e.call(true)
	e.record()
	e.talk(time.Second)
	e.agentPress("pause")
	e.wait("pause", `(s) => s.paused`)
	e.wait("pause ended by itself", `(s) => !s.paused && s.recording`)
	e.talk(time.Second)
	r := e.hangup()
	resumed := find(r.events, audit.KindRecordingResumed)
	if len(resumed) != 1 || resumed[0].Actor != "system" {
		t.Fatalf("resumed events %+v: want one, by system", resumed)
	}
	paused := find(r.events, audit.KindRecordingPaused)
	if len(paused) != 1 {
		t.Fatalf("%d paused events", len(paused))
	}
	// A timer fires no earlier than asked; how late depends on the load.
	if d := resumed[0].Time.Sub(paused[0].Time); d < maxPause {
		t.Errorf("the pause lasted %v, MaxPause is %v", d, maxPause)
	}
	// The policy learnt the resume.
	ri := slices.IndexFunc(r.events, func(e audit.Event) bool { return e.Kind == audit.KindRecordingResumed })
	if !slices.ContainsFunc(r.events[ri:], func(e audit.Event) bool {
		return e.Kind == audit.KindPolicyDecision && e.Reason != string(policy.ReasonPaused)
	}) {
		t.Errorf("no policy decision after the automatic resume")
	}
	pi := slices.IndexFunc(r.report.States, func(s state) bool { return s.Paused })
	if pi < 0 || !slices.ContainsFunc(r.report.States[pi:], func(s state) bool { return !s.Paused && s.Recording }) {
		t.Errorf("page states: want paused, then recording again")
	}
	pauseGap(t, r, checkRecording(t, r))
}

// TestWidgetCardDigitsAreNoObjection: during a card-data pause the caller
// types the card number on the keypad; a 9 in it is a digit, not the
// objection key: no objection is logged, the recording is kept, and the
// host hears of the keys only masked.
func TestWidgetCardDigitsAreNoObjection(t *testing.T) {
	e := start(t, setup{lang: "en"})
	e.call(true)
	e.record()
	e.talk(time.Second)
	e.agentPress("pause")
	e.wait("pause", `(s) => s.paused`)
	e.do(e.cust, "card digits sent", `__test.press("4970")`)
	keys := e.waitKeys(4) // the Service saw all four before the resume
	e.agentPress("resume")
	e.wait("resume", `(s) => !s.paused && s.recording`)
	e.talk(time.Second)
	r := e.hangup()
	for _, k := range keys {
		if !k.Masked || k.Digit != 0 || k.Event != 0 {
			t.Errorf("key %+v reached the host unmasked", k)
		}
	}
	if n := len(find(r.events, audit.KindObjection)); n != 0 {
		t.Errorf("%d objections logged for card digits typed during the pause", n)
	}
	if n := len(find(r.events, audit.KindRecordingPurged)); n != 0 {
		t.Errorf("the recording was purged (%d events)", n)
	}
	checkRecording(t, r)
}
