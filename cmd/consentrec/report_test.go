package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// reportDay is the 3rd of last month: the catalogued recording (kept six
// months) is never past its deadline whenever the test runs.
var (
	reportMonthStart = func() time.Time {
		now := time.Now().UTC()
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	}()
	reportDay   = reportMonthStart.Add(2*24*time.Hour + 9*time.Hour)
	reportMonth = reportMonthStart.Format("2006-01")
)

// reportData writes a data directory: a signed audit log of ten calls,
// one recorded and catalogued, and, if objected, an objection on the
// recorded call that was never purged.
func reportData(t *testing.T, objected bool) string {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	l, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	app := func(e audit.Event) {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		call := "call-" + string(rune('a'+i))
		at := reportDay.Add(time.Duration(i) * time.Hour)
		d := policy.Decision{Mode: policy.ModeSampling, Reason: policy.ReasonNotSampled, PolicyVersion: "pv1:0123",
			OnObjection: policy.ObjectionStopAndPurge}
		if i == 4 {
			d.Record, d.Purpose, d.Reason = true, policy.Quality, policy.ReasonSampled
		}
		e := d.AuditEvent(call, at)
		e.Attrs = append(e.Attrs, audit.Attr{Key: "agent", Value: "agent-1"}, audit.Attr{Key: "rate", Value: "0.1"})
		app(e)
	}
	at := reportDay.Add(4 * time.Hour)
	if objected {
		app(audit.Event{Kind: audit.KindObjection, Time: at.Add(5 * time.Second), CallID: "call-e", Actor: "system",
			Attrs: []audit.Attr{{Key: "method", Value: "dtmf-rfc4733"}}})
	}
	app(audit.Event{Kind: audit.KindRecordingStarted, Time: at.Add(10 * time.Second), CallID: "call-e", RecordingID: "rec-e",
		Actor: "policy", Purpose: "quality"})
	app(audit.Event{Kind: audit.KindRecordingStopped, Time: at.Add(time.Minute), CallID: "call-e", RecordingID: "rec-e",
		Actor: "policy", Purpose: "quality"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecatalog.Open(ctx, consentrec.DataDir{Root: root}.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	r, err := retention.New(retention.Entry{ID: "rec-e", CallID: "call-e", Purpose: policy.Quality, Created: at.Add(time.Minute),
		Retention: policy.Months(6), SHA256: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestReportCLI(t *testing.T) {
	clean := reportData(t, false)
	code, out, errOut := auditCLI(t, "report", "--data", clean, "--month", reportMonth)
	last := reportMonthStart.AddDate(0, 1, -1).Format(time.DateOnly)
	if code != 0 || !strings.HasPrefix(out, "report "+reportMonth+"-01.."+last+": 10 calls decided, 1 recorded") ||
		!strings.Contains(out, "violations: none") || !strings.Contains(out, ", root ") {
		t.Fatalf("clean month: code %d\n%s%s", code, out, errOut)
	}

	bad := reportData(t, true)
	html := filepath.Join(t.TempDir(), "nov.html")
	code, out, errOut = auditCLI(t, "report", "--data", bad, "--from", reportMonth+"-01", "--to", last, "--html", html)
	if code != 1 || !strings.Contains(errOut, "1 violation(s)") || !strings.Contains(errOut, "html report: "+html) {
		t.Fatalf("objection not honoured: code %d\n%s%s", code, out, errOut)
	}
	// The violation is listed first, naming the call.
	if v := strings.Index(out, "objection-not-purged"); v < 0 || v > strings.Index(out, "1. sampling") || !strings.Contains(out, "call-e") {
		t.Errorf("violation not listed first:\n%s", out)
	}
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("objection-not-purged")) || !bytes.Contains(page, []byte("<svg")) {
		t.Fatalf("html: %v", err)
	}
	if st, _ := os.Stat(html); st.Mode().Perm() != 0o600 {
		t.Errorf("html mode %v", st.Mode())
	}
	// Never over an existing file: a usage error, the file untouched.
	if code, _, errOut := auditCLI(t, "report", "--data", bad, "--html", html); code != 2 || !strings.Contains(errOut, "exists") {
		t.Errorf("existing --html: code %d %s", code, errOut)
	}
	if again, _ := os.ReadFile(html); !bytes.Equal(again, page) {
		t.Error("an existing --html file was changed")
	}

	// --json: the same numbers, stable keys, nothing else on stdout.
	code, out, _ = auditCLI(t, "report", "--data", bad, "--month", reportMonth, "--json")
	var js map[string]json.RawMessage
	if code != 1 || json.Unmarshal([]byte(out), &js) != nil {
		t.Fatalf("--json: code %d\n%s", code, out)
	}
	for _, k := range []string{"sampling", "notices", "retention", "access", "pauses", "integrity", "violations"} {
		if _, ok := js[k]; !ok {
			t.Errorf("--json lacks %q", k)
		}
	}
	var s struct {
		Decided  int `json:"decided"`
		Recorded int `json:"recorded"`
	}
	if json.Unmarshal(js["sampling"], &s) != nil || s.Decided != 10 || s.Recorded != 1 {
		t.Errorf("sampling %s", js["sampling"])
	}

	// An empty month: a valid, empty report.
	code, out, errOut = auditCLI(t, "report", "--data", bad, "--month", "2025-02")
	if code != 0 || !strings.Contains(out, "0 calls decided") {
		t.Errorf("empty month: code %d\n%s%s", code, out, errOut)
	}
}

func TestReportCLIUnverified(t *testing.T) {
	data := reportData(t, false)
	logPath := filepath.Join(data, "audit", "log")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-40] ^= 0x01 // inside the last entry, under the signed checkpoint
	if err := os.WriteFile(logPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	code, out, errOut := auditCLI(t, "report", "--data", data, "--html", html)
	if code != 1 || !strings.Contains(out, "DOES NOT VERIFY") || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("tampered log: code %d\n%s%s", code, out, errOut)
	}
	if page, err := os.ReadFile(html); err != nil || !bytes.Contains(page, []byte("does not verify")) {
		t.Errorf("html of an unverified log: %v", err)
	}
	if code, _, _ := auditCLI(t, "report", "--data", t.TempDir()); code != 2 { // a data dir without a log: usage, like every command
		t.Errorf("no log: code %d", code)
	}
}

func TestReportCLIUsage(t *testing.T) {
	data := reportData(t, false)
	for _, args := range [][]string{
		{"--month", "2026-13"},
		{"--month", "2026-11", "--from", "2026-11-01"},
		{"--from", "yesterday"},
		{"--from", "2026-11-05", "--to", "2026-11-01"},
		{"--max-pause", "0s"},
		{"--policy", filepath.Join(data, "missing.json")},
		{"extra"},
	} {
		if code, _, errOut := auditCLI(t, append([]string{"report", "--data", data}, args...)...); code != 2 {
			t.Errorf("%v: code %d %s", args, code, errOut)
		}
	}
}
