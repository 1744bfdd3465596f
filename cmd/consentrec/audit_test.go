package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

func auditCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(&env{stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

func auditTestData(t *testing.T, n int) string {
	t.Helper()
	data := t.TempDir()
	l, err := audit.OpenDir(context.Background(), data, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(context.Background(), audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestAuditVerifyCLI(t *testing.T) {
	data := auditTestData(t, 7)
	code, out, errOut := auditCLI(t, "audit", "verify", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "ok: 7 entries, root ") {
		t.Fatalf("verify: code %d\n%s%s", code, out, errOut)
	}
	// The same with the key given explicitly, as a file and as a string.
	pub := filepath.Join(data, "audit", "checkpoint.pub")
	key, _ := os.ReadFile(pub)
	for _, k := range []string{pub, strings.TrimSpace(string(key))} {
		if code, out, errOut := auditCLI(t, "audit", "verify", "--data", data, "--key", k); code != 0 {
			t.Fatalf("verify --key %s: code %d\n%s%s", k, code, out, errOut)
		}
	}
	// Another log's key: exit 1, a signature problem.
	other := auditTestData(t, 1)
	code, _, errOut = auditCLI(t, "audit", "verify", "--data", data, "--key", filepath.Join(other, "audit", "checkpoint.pub"))
	if code != 1 || !strings.Contains(errOut, "signature") {
		t.Fatalf("verify with another key: code %d %s", code, errOut)
	}
	// A flipped byte in entry 4: exit 1 naming entry 4.
	logPath := filepath.Join(data, "audit", "log")
	b, _ := os.ReadFile(logPath)
	var offs []int
	for p := bytes.Index(b, []byte("\n\n")) + 2; p < len(b); p += 8 + int(uint32(b[p])<<24|uint32(b[p+1])<<16|uint32(b[p+2])<<8|uint32(b[p+3])) {
		offs = append(offs, p)
	}
	b[offs[4]+30] ^= 0x40
	os.WriteFile(logPath, b, 0o600)
	code, _, errOut = auditCLI(t, "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(errOut, "entry 4 at offset") {
		t.Fatalf("verify of a tampered log: code %d %s", code, errOut)
	}
	if code, _, _ := auditCLI(t, "audit", "verify", "--data", t.TempDir()); code != 2 {
		t.Fatalf("verify of a directory without a log (a missing input): code %d, want 2", code)
	}
	if code, _, _ := auditCLI(t, "audit", "verify", "--data", data, "extra"); code != 2 {
		t.Fatalf("verify with an extra argument: code %d", code)
	}
}

func TestAuditProveCheckCLI(t *testing.T) {
	data := auditTestData(t, 9)
	rcpt := filepath.Join(t.TempDir(), "r.txt")
	if code, out, errOut := auditCLI(t, "audit", "prove", "--data", data, "-o", rcpt, "5"); code != 0 {
		t.Fatalf("prove: code %d\n%s%s", code, out, errOut)
	}
	pub := filepath.Join(data, "audit", "checkpoint.pub")
	code, out, errOut := auditCLI(t, "audit", "check", rcpt, "--key", pub)
	if code != 0 || !strings.HasPrefix(out, "ok: entry 5 of ") || !strings.Contains(out, "call=call-0005") {
		t.Fatalf("check: code %d\n%s%s", code, out, errOut)
	}
	// --hide-subject: still checks, without the subject.
	code, out, _ = auditCLI(t, "audit", "prove", "--data", data, "--hide-subject", "2")
	if code != 0 || strings.Contains(out, "\nsubject ") {
		t.Fatalf("prove --hide-subject: code %d\n%s", code, out)
	}
	os.WriteFile(rcpt+"2", []byte(out), 0o644)
	if code, out, errOut := auditCLI(t, "audit", "check", rcpt+"2", "--key", pub); code != 0 || strings.Contains(out, "subject=") {
		t.Fatalf("check without subject: code %d\n%s%s", code, out, errOut)
	}
	// A tampered receipt: exit 1.
	b, _ := os.ReadFile(rcpt)
	b[len("consentrec audit receipt v1\nleaf ")+10] ^= 1
	os.WriteFile(rcpt, b, 0o644)
	if code, _, _ := auditCLI(t, "audit", "check", rcpt, "--key", pub); code != 1 {
		t.Fatalf("check of a tampered receipt: code %d", code)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"audit", "check", rcpt},
		{"audit", "check", "--key", pub},
		{"audit", "prove", "--data", data},
		{"audit", "prove", "--data", data, "x"},
	} {
		if code, _, _ := auditCLI(t, args...); code != 2 {
			t.Fatalf("%v: code %d, want 2", args, code)
		}
	}
	// A receipt kept by an auditor pins the log (see TestAuditRollbackCLI).
	good := filepath.Join(t.TempDir(), "kept.txt")
	auditCLI(t, "audit", "prove", "--data", data, "-o", good, "8")
	if code, out, errOut := auditCLI(t, "audit", "verify", "--data", data, "--checkpoint", good); code != 0 {
		t.Fatalf("verify --checkpoint: code %d\n%s%s", code, out, errOut)
	}
	// An index beyond the log: exit 1.
	if code, _, _ := auditCLI(t, "audit", "prove", "--data", data, "99"); code != 1 {
		t.Fatalf("prove 99: code %d", code)
	}
}

func TestAuditShowCLI(t *testing.T) {
	data := auditTestData(t, 4)
	code, out, errOut := auditCLI(t, "audit", "show", "--data", data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[2], "2 2026-03-01T10:00:02.000000007Z access call=call-0002") ||
		!strings.Contains(lines[2], `reason="monthly review"`) {
		t.Fatalf("show: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = auditCLI(t, "audit", "show", "--data", data, "--from", "1", "--limit", "2", "--json")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"index":1,`) {
		t.Fatalf("show --json: code %d\n%s", code, out)
	}
}

// TestAuditRollbackCLI: a directory restored from an older copy verifies
// on its own, but not against a receipt an auditor kept.
func TestAuditRollbackCLI(t *testing.T) {
	ctx := context.Background()
	data := auditTestData(t, 4)
	backup := t.TempDir()
	if err := os.CopyFS(backup, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 9; i++ {
		l.Append(ctx, audittest.Sample(i))
	}
	l.Close()
	kept := filepath.Join(t.TempDir(), "kept.txt")
	if code, _, errOut := auditCLI(t, "audit", "prove", "--data", data, "-o", kept, "7"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := auditCLI(t, "audit", "verify", "--data", backup); code != 0 {
		t.Fatalf("the old copy alone: code %d %s", code, errOut)
	}
	code, _, errOut := auditCLI(t, "audit", "verify", "--data", backup, "--checkpoint", kept)
	if code != 1 || !strings.Contains(errOut, "rolled back") {
		t.Fatalf("rolled-back copy against the kept receipt: code %d %s", code, errOut)
	}
}

func TestAuditPruneCLI(t *testing.T) {
	data := auditTestData(t, 6) // Sample times: 2026-03-01T10:00:00..05
	code, out, errOut := auditCLI(t, "audit", "prune", "--data", data, "--before", "2026-03-01T10:00:03Z")
	if code != 0 || !strings.HasPrefix(out, "pruned 3 access-log entries") {
		t.Fatalf("prune: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = auditCLI(t, "audit", "verify", "--data", data)
	if code != 0 || !strings.Contains(out, "ok: 7 entries") || !strings.Contains(out, "3 entries pruned") {
		t.Fatalf("verify after prune: code %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"audit", "prune", "--data", data},
		{"audit", "prune", "--data", data, "--older-than", "30", "--before", "2026-01-01T00:00:00Z"},
		{"audit", "prune", "--data", data, "--before", "yesterday"},
	} {
		if code, _, _ := auditCLI(t, args...); code != 2 {
			t.Fatalf("%v: code %d, want 2", args, code)
		}
	}
}

// audit prove -o wrote the receipt (the entry in clear, the subject's
// opening included) world-readable (0644), and over an existing file
// keeping that file's mode.
func TestAuditProveReceiptFileOwnerOnly(t *testing.T) {
	data := auditTestData(t, 3)
	dir := t.TempDir()
	rcpt := filepath.Join(dir, "r.txt")
	if code, out, errOut := auditCLI(t, "audit", "prove", "--data", data, "-o", rcpt, "1"); code != 0 {
		t.Fatalf("prove: code %d\n%s%s", code, out, errOut)
	}
	st, err := os.Stat(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("receipt mode %v, want 0600 (it holds the subject's opening)", m)
	}
	shared := filepath.Join(dir, "shared.txt")
	if err := os.WriteFile(shared, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := auditCLI(t, "audit", "prove", "--data", data, "-o", shared, "1"); code != 1 {
		t.Errorf("prove over an existing file: code %d, want 1", code)
	}
	if b, _ := os.ReadFile(shared); string(b) != "keep me\n" {
		t.Errorf("existing file overwritten: %q", b)
	}
}

// audit prune --older-than N computed now minus N days with AddDate, which
// overflows for a huge N: --older-than 9223372036854775807 gave a cutoff of
// tomorrow and pruned every entry's payload, the whole trail, for good. A
// cutoff that is not in the past is now a usage error, as is a --before
// in the future.
func TestAuditPruneRefusesFutureCutoff(t *testing.T) {
	data := auditTestData(t, 4)
	for _, args := range [][]string{
		{"--older-than", "9223372036854775807"},
		{"--older-than", "4611686018427387903"},
		{"--before", "2999-01-01T00:00:00Z"},
	} {
		code, out, errOut := auditCLI(t, append([]string{"audit", "prune", "--data", data}, args...)...)
		if code != 2 {
			t.Errorf("prune %v: code %d, want 2\n%s%s", args, code, out, errOut)
		}
	}
	code, out, _ := auditCLI(t, "audit", "verify", "--data", data)
	if code != 0 || strings.Contains(out, "pruned") {
		t.Fatalf("after refused prunes: code %d\n%s", code, out)
	}
}
