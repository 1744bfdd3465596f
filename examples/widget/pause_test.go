package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// TestWidgetPauseEndsByItself: the agent pauses for card data and forgets
// to resume. The pause ends by itself after Config.MaxPause (R22), and
// everywhere at once: the recorder records again, the policy and the page
// say so. A recorder resuming alone would record while the page still
// tells the caller to give card details (R21).
func TestWidgetPauseEndsByItself(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "pauseForgotten", "en", "", func(c *Config) { c.MaxPause = 2 * time.Second })
	if !r.report.SawRecording {
		t.Fatalf("recording never started")
	}
	resumed := find(r.events, audit.KindRecordingResumed)
	if len(resumed) != 1 || resumed[0].Actor != "system" {
		t.Fatalf("resumed events %+v: want one, by system", resumed)
	}
	paused := find(r.events, audit.KindRecordingPaused)
	if len(paused) != 1 {
		t.Fatalf("%d paused events", len(paused))
	}
	if d := resumed[0].Time.Sub(paused[0].Time); d < 2*time.Second || d > 3*time.Second {
		t.Errorf("the pause lasted %v, MaxPause is 2 s", d)
	}
	// The policy learnt the resume, after the recorder.
	ri, di := -1, -1
	for i, e := range r.events {
		switch {
		case e.Kind == audit.KindRecordingResumed:
			ri = i
		case ri >= 0 && di < 0 && e.Kind == audit.KindPolicyDecision && e.Reason != string(policy.ReasonPaused):
			di = i
		}
	}
	if di < 0 {
		t.Errorf("no policy decision after the automatic resume")
	}
	// The page showed the pause, then recording again.
	var sawPaused, sawResumed bool
	for _, st := range r.report.States {
		var s struct{ Paused, Recording bool }
		if json.Unmarshal(st, &s) != nil {
			continue
		}
		if s.Paused {
			sawPaused = true
		} else if sawPaused && s.Recording {
			sawResumed = true
		}
	}
	if !sawPaused || !sawResumed {
		t.Errorf("page states: paused %v, then recording %v", sawPaused, sawResumed)
	}
	rc := checkRecording(t, r)
	var n int
	for _, g := range rc.meta.Gaps {
		if g.Reason == recorder.GapPause {
			n++
		}
	}
	if n != 1 {
		t.Errorf("gaps %+v: want one pause", rc.meta.Gaps)
	}
}

// TestWidgetCardDigitsAreNoObjection: during a card-data pause the caller
// types the card number on the keypad; a 9 in it is a digit, not the
// objection key: no objection is logged and the recording is kept.
func TestWidgetCardDigitsAreNoObjection(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "pauseKeypad", "en", "")
	if !r.report.SawRecording {
		t.Fatalf("recording never started")
	}
	if n := len(find(r.events, audit.KindObjection)); n != 0 {
		t.Errorf("%d objections logged for card digits typed during the pause", n)
	}
	if n := len(find(r.events, audit.KindRecordingPurged)); n != 0 {
		t.Errorf("the recording was purged (%d events)", n)
	}
	checkRecording(t, r)
}
