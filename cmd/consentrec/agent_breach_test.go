package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
)

// R19: consentrec agent ack records the acknowledgement (version: the
// notice file's SHA-256), audits it, and the engine then lets the agent's
// calls be recorded.
func TestAgentAck(t *testing.T) {
	root := t.TempDir()
	notice := filepath.Join(t.TempDir(), "notice-v1.txt")
	os.WriteFile(notice, []byte("Calls may be recorded for quality, 10 % of them, kept 30 days.\n"), 0o600)
	sum := sha256.Sum256([]byte("Calls may be recorded for quality, 10 % of them, kept 30 days.\n"))
	version := hex.EncodeToString(sum[:])

	if code, _, errOut := cli(t, "agent", "list", "--data", root, "--notice", notice); code != 1 {
		t.Fatalf("list with no acknowledgement and a notice in force: exit %d, want 1: %s", code, errOut)
	}
	code, out, errOut := cli(t, "agent", "ack", "agent-07", "--notice", notice, "--data", root)
	if code != 0 || !strings.Contains(out, version) {
		t.Fatalf("agent ack: exit %d\n%s%s", code, out, errOut)
	}
	st, err := os.Stat(consentrec.DataDir{Root: root}.AgentNotices())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("acknowledgements file: %v %v, want mode 0600", st, err)
	}
	if n := auditKinds(t, root)[audit.KindAgentNoticeAcknowledged]; n != 1 {
		t.Errorf("%d acknowledgement events, want 1", n)
	}
	code, out, _ = cli(t, "audit", "show", "--data", root)
	if code != 0 || !strings.Contains(out, "agent-notice-acknowledged") || !strings.Contains(out, "agent=agent-07") || !strings.Contains(out, "version="+version) {
		t.Errorf("audit show:\n%s", out)
	}
	code, out, _ = cli(t, "agent", "list", "--data", root, "--notice", notice)
	if code != 0 || !strings.Contains(out, "agent-07") || !strings.Contains(out, "current") {
		t.Fatalf("agent list: exit %d\n%s", code, out)
	}
	// A new notice version: the agent must acknowledge again.
	notice2 := filepath.Join(t.TempDir(), "notice-v2.txt")
	os.WriteFile(notice2, []byte("v2"), 0o600)
	code, out, _ = cli(t, "agent", "list", "--data", root, "--notice", notice2)
	if code != 1 || !strings.Contains(out, "OUTDATED") {
		t.Fatalf("agent list against a new notice: exit %d\n%s", code, out)
	}

	// The engine reads the same file.
	n, err := policy.OpenAgentNoticeFile(consentrec.DataDir{Root: root}.AgentNotices(), audit.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	p, _ := policy.Parse([]byte(`{"profile":"FR","rules":[{"purpose":"contract-proof","mode":"agent"}]}`))
	e, err := policy.New(p, policy.Options{AgentNoticeVersion: version, AgentNotices: n})
	if err != nil {
		t.Fatal(err)
	}
	for agent, want := range map[string]policy.Reason{"agent-07": policy.ReasonAwaitAgent, "agent-08": policy.ReasonAgentNotInformed} {
		d, err := e.Decide(context.Background(), policy.CallInfo{ID: "c", Agent: agent})
		if err != nil || d.Reason != want {
			t.Errorf("%s: %v %v, want %s", agent, d.Reason, err, want)
		}
	}

	for _, bad := range [][]string{{"agent", "ack", "agent-07", "--data", root}, {"agent", "ack", "--notice", notice, "--data", root},
		{"agent", "ack", "a", "--notice", "/nonexistent", "--data", root}, {"agent", "ack", "a\x01", "--notice", notice, "--data", root}} {
		if code, _, _ := cli(t, bad...); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
}

var breachID = regexp.MustCompile(`breach (breach-\d{8}-[0-9a-f]{12}) recorded`)

// R28: breach report starts the 72-hour clock; breach notify records the
// notification, on time or late.
func TestBreachReportAndNotify(t *testing.T) {
	root := t.TempDir()
	code, out, errOut := cli(t, "breach", "report", "--data", root, "--what", "laptop with an export lost", "--discovered", "2026-12-01T09:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "notify the supervisory authority by 2026-12-04T09:00:00Z") || !strings.Contains(out, "Art. 33") {
		t.Errorf("report output lacks the 72-hour deadline:\n%s", out)
	}
	m := breachID.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no breach id in:\n%s", out)
	}
	id := m[1]
	if n := auditKinds(t, root)[audit.KindBreach]; n != 1 {
		t.Errorf("%d breach events, want 1", n)
	}
	code, out, _ = cli(t, "audit", "show", "--data", root)
	if code != 0 || !strings.Contains(out, " breach ") || !strings.Contains(out, "breach="+id) || !strings.Contains(out, "deadline=2026-12-04T09:00:00Z") {
		t.Errorf("audit show:\n%s", out)
	}
	// Overdue and not notified: list says so, exit 1.
	if code, out, _ := cli(t, "breach", "list", "--data", root); code != 1 || !strings.Contains(out, "NOT NOTIFIED") {
		t.Errorf("breach list: exit %d\n%s", code, out)
	}
	if code, _, _ := cli(t, "breach", "notify", id, "--at", "2026-11-30T00:00:00Z", "--data", root); code != 2 {
		t.Errorf("a notification before the discovery: exit %d, want 2", code)
	}
	if code, _, _ := cli(t, "breach", "notify", "breach-20261201-000000000000", "--data", root); code != 1 {
		t.Errorf("an unknown breach: exit %d, want 1", code)
	}
	code, out, errOut = cli(t, "breach", "notify", id, "--at", "2026-12-05T09:00:00Z", "--data", root)
	if code != 0 || !strings.Contains(out, "24h0m0s after the deadline") {
		t.Fatalf("notify: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := cli(t, "breach", "notify", id, "--data", root); code != 1 {
		t.Errorf("a second notification: exit %d, want 1", code)
	}
	if code, out, _ := cli(t, "breach", "list", "--data", root); code != 0 || !strings.Contains(out, "(late)") {
		t.Errorf("breach list after notification: exit %d\n%s", code, out)
	}
	// A breach discovered now is on time.
	code, out, _ = cli(t, "breach", "report", "--data", root, "--what", "misdirected export")
	if code != 0 || !strings.Contains(out, "72h0m0s left") && !strings.Contains(out, "71h59m0s left") {
		t.Fatalf("report now: exit %d\n%s", code, out)
	}
	id2 := breachID.FindStringSubmatch(out)[1]
	code, out, _ = cli(t, "breach", "notify", id2, "--data", root)
	if code != 0 || !strings.Contains(out, "within the deadline") {
		t.Fatalf("notify on time: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"breach", "report", "--data", root}, {"breach", "report", "--what", " ", "--data", root},
		{"breach", "report", "--what", "x", "--discovered", time.Now().Add(time.Hour).Format(time.RFC3339), "--data", root},
		{"breach", "report", "--what", "x", "--discovered", "yesterday", "--data", root}, {"breach", "notify", "--data", root}} {
		if code, _, _ := cli(t, bad...); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
}
