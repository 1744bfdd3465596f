package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes the report as one indented JSON object whose top-level
// keys are period, integrity, violations, sampling, notices, retention,
// access and pauses. Keys and the order of lists are stable; durations are
// in seconds, times in RFC 3339 UTC.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: the summary, the violations
// first, then one paragraph per section.
func (r *Report) WriteText(w io.Writer) error {
	tw := &textWriter{w: w}
	tw.f("%s\n", r.Summary())
	in := r.Integrity
	if !in.Verified {
		tw.f("\nintegrity: the audit log does NOT verify: %s\n", in.Error)
		return tw.err
	}
	if len(r.Violations) == 0 {
		tw.f("\nviolations: none\n")
	} else {
		tw.f("\nVIOLATIONS (%d)\n", len(r.Violations))
		for _, v := range r.Violations {
			idx := "catalog"
			if v.Index != nil {
				idx = fmt.Sprintf("entry %d", *v.Index)
			}
			tw.f("  %s %s [%s, %s] %s\n", v.Time.Format(time.RFC3339), v.Kind, v.Rule, idx, v.Detail)
		}
	}
	s := r.Sampling
	tw.f("\n1. sampling: %d calls decided, %d selected, %d recorded: %s\n", s.Decided, s.Selected, s.Recorded, s.Share)
	for _, v := range s.Versions {
		tw.f("   policy %s: %d calls, %d recorded (%s .. %s)\n", v.Version, v.Decided, v.Recorded,
			v.First.Format(time.DateOnly), v.Last.Format(time.DateOnly))
	}
	for _, ru := range s.Rules {
		line := fmt.Sprintf("   rule %s %s/%s (%s): recorded %s", ru.Rule, ru.Purpose, ru.Mode, ru.Target, ru.Share)
		if ru.Consistent != nil {
			verdict := "consistent with the rate"
			if !*ru.Consistent {
				verdict = "NOT consistent with the rate"
			}
			line += fmt.Sprintf("; drawn %s: %s", ru.DrawShare, verdict)
		}
		tw.f("%s\n", line)
		if len(ru.Overruns) > 0 {
			tw.f("     OVER ITS LIMIT in %d window(s): %s\n", len(ru.Overruns), strings.Join(ru.Overruns, "; "))
		}
	}
	if len(s.Flagged) > 0 {
		tw.f("   near-systematic agents: %s\n", strings.Join(s.Flagged, ", "))
	}
	if s.RecordedWithoutDecision > 0 {
		tw.f("   %d call(s) recorded with no decision logged\n", s.RecordedWithoutDecision)
	}
	if s.PrunedDecisions > 0 {
		tw.f("   %d decision entries pruned (counted as pruned)\n", s.PrunedDecisions)
	}
	n := r.Notices
	tw.f("\n2. notices: %d played (%d completed, %d interrupted); %d consents; %d objections: %d honoured, %d statute, %d uncheckable (pruned), %d not honoured\n",
		n.Played, n.Completed, n.Interrupted, n.Consents, n.Objections, n.Honoured, n.NotApplicable, n.Uncheckable, n.NotHonoured)
	tw.f("   %d notice or consent requirement(s) checked before recording began, %d uncheckable (pruned)\n", n.Checked, n.CaptureUncheckable)
	rt := r.Retention
	catalog := "no catalog read"
	if rt.Catalog {
		catalog = fmt.Sprintf("%d recordings catalogued", rt.Catalogued)
	}
	tw.f("\n3. retention: %s; %d deleted at expiry (%d late), %d erased; %d past deadline; %d open holds\n",
		catalog, rt.Deleted, rt.Late, rt.Erased, len(rt.PastDeadline), len(rt.Holds))
	for _, h := range rt.Holds {
		tw.f("   hold %s case %q by %s since %s (%d days)\n", h.RecordingID, h.Case, h.Approver, h.Since.Format(time.DateOnly), h.AgeDays)
	}
	ac := r.Access
	tw.f("\n4. access: %d openings, %d refusals, %d outside the purpose's roles\n", ac.Granted, ac.Denied, ac.OutsideRoles)
	for _, c := range ac.ByRole {
		tw.f("   role %s: %d opened, %d refused\n", c.Key, c.Granted, c.Denied)
	}
	p := r.Pauses
	tw.f("\n5. pauses: %d pauses in %d calls; %d longer than MaxPause %s; %d resumed automatically\n",
		p.Pauses, p.Calls, p.TooLong, humanDuration(time.Duration(p.MaxPauseSecs*float64(time.Second))), p.AutoResumed)
	tw.f("\n6. integrity: verified %d entries (%d signed, %d not yet), root %s; %d in the period, %d pruned, %d shredded; %d integrity failures, %d events to assess as breaches\n",
		in.Entries, in.CheckpointSize, in.Unsigned, in.Root, in.InPeriod, in.Pruned, in.Shredded, len(in.Failures), len(in.Breaches))
	return tw.err
}

type textWriter struct {
	w   io.Writer
	err error
}

// f writes a line; control characters in string arguments (which come from
// the log: anyone who can write an event controls them) become '?', so that
// no entry can move the cursor or recolour a terminal.
func (t *textWriter) f(format string, a ...any) {
	if t.err != nil {
		return
	}
	for i, v := range a {
		if s, ok := v.(string); ok {
			a[i] = strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					return '?'
				}
				return r
			}, s)
		}
	}
	_, t.err = fmt.Fprintf(t.w, format, a...)
}
