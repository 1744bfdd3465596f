package report_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// eventful is the clean month plus one of each violation, with ids an HTML
// page must escape.
func eventful(t *testing.T) *history {
	t.Helper()
	h := newHistory(t)
	h.clean()
	at := nov.Add(5*24*time.Hour + 10*time.Hour)
	// An objection followed by a recording, on a call whose id holds < and &.
	bad := `call-<b>&amp;"x"`
	h.decide(bad, "agent-<i>&", at, true, pvA)
	h.notice(bad, at.Add(4*time.Second), true)
	h.object(bad, at.Add(5*time.Second))
	h.record(bad, "rec-<obj>&", at.Add(10*time.Second), time.Minute)
	// A late deletion.
	h.decide("call-late", "agent-1", at.Add(time.Hour), true, pvA)
	h.notice("call-late", at.Add(time.Hour+9*time.Second), true)
	r := h.record("call-late", "rec-late", at.Add(time.Hour+10*time.Second), time.Minute)
	h.sweep(r.Deadline.Add(72 * time.Hour))
	// Recorded while the notice was still playing.
	h.decide("call-early", "agent-2", at.Add(90*time.Minute), true, pvA)
	h.rec(audit.KindRecordingStarted, "call-early", "rec-early", at.Add(90*time.Minute+2*time.Second), "policy", "")
	h.notice("call-early", at.Add(90*time.Minute+8*time.Second), true)
	// A trainer's opening logged by a host that bypassed the gate.
	h.append(audit.Event{Kind: audit.KindAccess, Time: at.Add(2 * time.Hour), CallID: "call-03", RecordingID: "rec-call-03",
		Actor: "tr-<eve>\x1b[2J", Role: string(policy.RoleTrainer), Reason: "<script>alert(1)</script>", Purpose: string(policy.Quality),
		Attrs: []audit.Attr{{Key: "action", Value: "download"}}})
	// A pause of 7 minutes.
	h.rec(audit.KindRecordingStarted, "call-p", "rec-p", at.Add(3*time.Hour), "policy", "")
	h.rec(audit.KindRecordingPaused, "call-p", "rec-p", at.Add(3*time.Hour+time.Minute), "agent-2", "card data")
	h.rec(audit.KindRecordingResumed, "call-p", "rec-p", at.Add(3*time.Hour+8*time.Minute), "agent-2", "")
	h.rec(audit.KindRecordingStopped, "call-p", "rec-p", at.Add(3*time.Hour+9*time.Minute), "policy", "")
	// An integrity failure on open.
	h.append(audit.Event{Kind: audit.KindIntegrityFailure, Time: at.Add(4 * time.Hour), CallID: "call-33", RecordingID: "rec-call-33",
		Actor: "q-ann", Role: "quality", Reason: "integrity check failed on open", Purpose: "quality",
		Attrs: []audit.Attr{{Key: "action", Value: "listen"}, {Key: "error", Value: "sha-256 mismatch"}}})
	return h
}

// fixedSource reads h's log through Source.Entries with a fixed
// verification result: the salts and the signing key of an in-memory log
// are random, so the root is pinned here for the golden files.
func fixedSource(h *history) report.Source {
	n := h.log.Size()
	var root [32]byte
	copy(root[:], "golden-root-golden-root-golden-r")
	return report.Source{
		Catalog: h.cat,
		Verify: func(context.Context) (*audit.Report, error) {
			return &audit.Report{Origin: "test.example/audit", Entries: n, Root: root,
				Checkpoint: audit.Checkpoint{Origin: "test.example/audit", Size: n, Root: root}}, nil
		},
		Entries: func(ctx context.Context, fn func(audit.Entry) error) error {
			for i := range n {
				en, err := h.log.Entry(ctx, i)
				if err != nil {
					return err
				}
				if err := fn(en); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(go test -update rewrites it)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: %d lines, want %d (go test -update rewrites it)", path, len(gl), len(wl))
	}
}

func goldenReport(t *testing.T) *report.Report {
	t.Helper()
	h := eventful(t)
	rep, err := report.Build(context.Background(), fixedSource(h), period)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGolden(t *testing.T) {
	rep := goldenReport(t)
	want := []string{report.ViolationObjection, report.ViolationNoNotice, report.ViolationAccessRole, report.ViolationPauseTooLong,
		report.ViolationIntegrity, report.ViolationLateDeletion, report.ViolationLateDeletion}
	if got := kinds(rep.Violations); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("violations %v, want %v", got, want)
	}
	var h, j, x bytes.Buffer
	if err := rep.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(&x); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(x.String(), 0x1b) {
		t.Error("an escape character from the log reached the text output")
	}
	golden(t, "report.html", h.Bytes())
	golden(t, "report.json", j.Bytes())
	golden(t, "report.txt", x.Bytes())
	checkJSONKeys(t, j.Bytes())
}

// TestHTMLEscapes checks that ids and reasons from the log, which anyone
// who can write an event controls, reach the page as text, never as markup.
func TestHTMLEscapes(t *testing.T) {
	rep := goldenReport(t)
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<b>", "<obj>", "<i>&", "<eve>", `&amp;"x"`} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"call-&lt;b&gt;&amp;amp;&#34;x&#34;", "rec-&lt;obj&gt;&amp;", "tr-&lt;eve&gt;",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "agent-&lt;i&gt;&amp;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: no script, nothing fetched.
	if regexp.MustCompile(`(?i)<script|<link|<img|<iframe|\bsrc=|\bhref=|https?://|@import|url\(`).MatchString(page) {
		t.Error("page refers to something outside itself or holds a script")
	}
	// One plot per section.
	for _, id := range []string{"sampling", "notices", "retention", "access", "pauses", "integrity"} {
		i := strings.Index(page, `<section id="`+id+`"`)
		if i < 0 {
			t.Fatalf("no section %s", id)
		}
		sec := page[i:]
		sec = sec[:strings.Index(sec, "</section>")]
		if !strings.Contains(sec, "<svg") || !strings.Contains(sec, "<rect") {
			t.Errorf("section %s has no plot", id)
		}
	}
	// Violations come first.
	if v, s := strings.Index(page, `id="violations"`), strings.Index(page, `id="sampling"`); v < 0 || v > s {
		t.Error("violations are not listed first")
	}
}
