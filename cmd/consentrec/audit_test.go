package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
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
	// The old audit folder restored over the current one, keys/ left in
	// place: the anchor in keys/ exposes it with no flag.
	if err := os.RemoveAll(filepath.Join(data, "audit")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(data, "audit"), os.DirFS(filepath.Join(backup, "audit"))); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = auditCLI(t, "audit", "verify", "--data", data)
	if code != 1 || !strings.Contains(errOut, "rolled back") || !strings.Contains(errOut, "anchor") {
		t.Fatalf("audit folder restored from an older copy: code %d %s", code, errOut)
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

// audit verify --witness KEY... [--quorum N] checks cosignatures (C2SP
// cosignature/v1, or plain note signatures) against the key list: exit 1
// when the quorum is not met, naming the missing witness.
func TestAuditVerifyWitnessQuorumCLI(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	l, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := audittest.NewWitness("a.witness.example", l.VerifierKey())
	plain := audittest.NewPlainWitness("plain.witness.example", l.VerifierKey())
	b := audittest.NewWitness("b.witness.example", l.VerifierKey())
	l.Close()
	if l, err = audit.OpenDir(ctx, data, audit.Options{Witnesses: []audit.Witness{a, plain}}); err != nil {
		t.Fatal(err)
	}
	l.Append(ctx, audittest.Sample(1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	bFile := filepath.Join(t.TempDir(), "b.pub")
	os.WriteFile(bFile, []byte(b.VerifierKey()+"\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--witness", a.VerifierKey(), "--witness", plain.VerifierKey()}, 0, "witness: a.witness.example, cosigned at "},
		{[]string{"--witness", a.VerifierKey(), "--witness", bFile}, 1, "missing: b.witness.example"},
		{[]string{"--witness", a.VerifierKey(), "--witness", bFile, "--quorum", "1"}, 0, "1 witness cosignatures"},
		{[]string{"--witness", bFile}, 1, "quorum"},
		{[]string{"--witness", a.VerifierKey(), "--quorum", "2"}, 2, "--quorum"},
		{[]string{"--quorum", "1"}, 2, "--quorum"},
	} {
		code, out, errOut := auditCLI(t, append([]string{"audit", "verify", "--data", data}, c.args...)...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("audit verify %v: code %d, want %d with %q\n%s%s", c.args, code, c.code, c.want, out, errOut)
		}
	}
}

// R26: `audit prune --before <5 s ago> --all-kinds` wiped notice and hold
// evidence of recordings still kept. The entries naming a catalogued
// recording or its call now stay, counted by reason; the access log keeps
// its own retention (the cutoff), and the evidence of calls no longer
// catalogued goes.
func TestAuditPruneKeepsCataloguedEvidence(t *testing.T) {
	ctx := context.Background()
	root := retentionData(t) // rec-q1, rec-q2, rec-c1 of calls call-rec-*
	l, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	events := []audit.Event{
		{Kind: audit.KindPolicyDecision, CallID: "call-rec-q1", Actor: "system"},                         // kept: call
		{Kind: audit.KindNoticePlayed, CallID: "call-rec-c1", RecordingID: "rec-c1", Actor: "system"},    // kept: recording
		{Kind: audit.KindLegalHoldSet, RecordingID: "rec-q2", Actor: "dpo", Reason: "case 7"},            // kept: recording
		{Kind: audit.KindConsentGiven, CallID: "call-gone", Actor: "system"},                             // pruned: not catalogued
		{Kind: audit.KindAccess, CallID: "call-rec-q1", RecordingID: "rec-q1", Actor: "a", Reason: "qa"}, // pruned: access log
	}
	for _, e := range events {
		e.Time = old
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := auditCLI(t, "audit", "prune", "--data", root, "--before", time.Now().Add(-5*time.Second).UTC().Format(time.RFC3339), "--all-kinds")
	if code != 0 {
		t.Fatalf("prune: code %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"pruned 2 entries", "kept 3 older entries", "2: recording still catalogued", "1: call of a recording still catalogued"} {
		if !strings.Contains(out, want) {
			t.Fatalf("prune output lacks %q:\n%s", want, out)
		}
	}
	pruned := map[string]bool{}
	audit.ReadFS(ctx, audit.DirFS(filepath.Join(root, "audit")), 0, func(en audit.Entry) error {
		if en.Pruned {
			pruned[en.Kind.String()] = true
		}
		return nil
	})
	if len(pruned) != 2 || !pruned["consent-given"] || !pruned["access"] {
		t.Fatalf("pruned kinds %v, want consent-given (call gone) and access", pruned)
	}
	if code, out, errOut := auditCLI(t, "audit", "verify", "--data", root); code != 0 || !strings.Contains(out, "2 entries pruned") {
		t.Fatalf("verify after prune: code %d\n%s%s", code, out, errOut)
	}
}

// An auditor verifies a copy of a Tessera log's tiles with the public key
// alone (issue 15); a flipped byte in a tile fails with exit 1.
func TestAuditVerifyTiles(t *testing.T) {
	ctx := context.Background()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !testing.Verbose() { // Tessera logs an info line per log created
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
	}
	dir := t.TempDir()
	l, err := tesseralog.OpenPOSIX(ctx, dir, tesseralog.Options{Signer: priv, Origin: "example.com/tiles-test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := l.Append(ctx, audit.Event{Kind: audit.KindAccess, CallID: fmt.Sprint("call-", i), Actor: "a", Reason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey("example.com/tiles-test", priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tiles := filepath.Join(dir, "tlog")
	code, out, errOut := cli(t, "audit", "verify", "--tiles", tiles, "--key", vkey)
	if code != 0 || !strings.Contains(out, "ok: 5 entries") {
		t.Fatalf("verify --tiles: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := cli(t, "audit", "verify", "--tiles", tiles); code != 2 {
		t.Fatalf("verify --tiles without --key: exit %d, want 2", code)
	}
	flipLastBundle(t, tiles)
	if code, _, errOut := cli(t, "audit", "verify", "--tiles", tiles, "--key", vkey); code != 1 || !strings.Contains(errOut, "entry") {
		t.Fatalf("verify --tiles of a flipped bundle: exit %d %s", code, errOut)
	}
}
