package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// retentionData builds a data directory with three finalized recordings in
// the recorder's file store, catalogued: two quality ones created 40 days
// ago (expired) of caller +33 6 00 00 00 01, one contract proof of another.
func retentionData(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	dir := consentrec.DataDir{Root: root}
	store, err := recorder.NewFileStore(dir.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	secret, err := retention.SubjectSecret(dir.Keys(), true)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().UTC().AddDate(0, 0, -40)
	for _, r := range []struct {
		id, caller string
		p          policy.Purpose
	}{{"rec-q1", "+33 6 00 00 00 01", policy.Quality}, {"rec-q2", "+33600000001", policy.Quality}, {"rec-c1", "+33 6 00 00 00 02", policy.ContractProof}} {
		w, err := store.Create(ctx, recorder.Meta{ID: r.id, CallID: "call-" + r.id, Purpose: r.p, Created: created})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("OggS fake audio of " + r.id)); err != nil {
			t.Fatal(err)
		}
		m, err := w.Finalize(ctx, recorder.Final{Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fromrecorder.Catalogue(ctx, cat, m, policy.SubjectKey(secret, r.caller), policy.Period{}); err != nil {
			t.Fatal(err)
		}
	}
	grant(t, root, policy.RoleTrainer, policy.RoleLegal, policy.RoleContracts, retention.RoleDPO)
	return root
}

// grant writes root's access table, granting roles to whoever runs the test.
func grant(t *testing.T, root string, roles ...policy.Role) {
	t.Helper()
	me, err := osPrincipal()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]map[string][]policy.Role{"roles": {me: roles}})
	path := filepath.Join(root, AccessFile)
	os.Remove(path)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func retCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(&env{stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

func auditKinds(t *testing.T, root string) map[audit.Kind]int {
	t.Helper()
	ctx := context.Background()
	l, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := map[audit.Kind]int{}
	for i := range l.Size() {
		e, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		n[e.Event.Kind]++
	}
	return n
}

func TestCLISweepHoldOpen(t *testing.T) {
	root := retentionData(t)
	data := "--data=" + root

	// A dry run changes nothing; it raises the alarm (exit 1) for the two
	// recordings ten days past their deadline.
	code, out, errOut := retCLI(t, "sweep", "--dry-run", data)
	if code != 1 || !strings.Contains(out, "ALARM") || !strings.Contains(out, "would delete") || !strings.Contains(out, "rec-q1") || strings.Contains(out, "rec-c1") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = retCLI(t, "sweep", "--dry-run", "--at", "+P6Y", data)
	if !strings.Contains(out, "would delete rec-c1") {
		t.Fatalf("forecast in six years: %d\n%s", code, out)
	}
	if code, _, _ := retCLI(t, "sweep", "--at", "+P6Y", data); code != 2 {
		t.Errorf("a real sweep in the future: exit %d, want 2", code)
	}

	// Hold one, sweep: the other goes.
	if code, out, errOut := retCLI(t, "hold", "set", "rec-q1", "--case", "RG 26/042", "--by", "Ann Lawyer", data); code != 0 {
		t.Fatalf("hold set: %d %s%s", code, out, errOut)
	}
	if code, _, _ := retCLI(t, "hold", "set", "rec-q1", "--case", "RG 26/042", data); code != 2 {
		t.Errorf("hold set without --by: exit %d, want 2", code)
	}
	code, out, errOut = retCLI(t, "sweep", data)
	if code != 1 || !strings.Contains(out, "deleted      rec-q2") || !strings.Contains(out, "kept         rec-q1") ||
		!strings.Contains(out, "ALARM") || !strings.Contains(errOut, "sweep: ") {
		// Created 40 days ago with a 30-day retention: found ten days late.
		t.Fatalf("sweep: %d\n%s%s", code, out, errOut)
	}
	// The hold's refusal of rec-q1's deletion is audited by the sweep that
	// finds it due within --every of its deadline: not by this daily one,
	// ten days late; by a monthly one.
	if n := auditKinds(t, root)[audit.KindAccessDenied]; n != 0 {
		t.Errorf("%d refusals audited by a daily sweep ten days after the deadline", n)
	}
	retCLI(t, "sweep", "--every", "720h", data)
	if n := auditKinds(t, root)[audit.KindAccessDenied]; n != 1 {
		t.Errorf("%d refusals audited by a monthly sweep, want 1", n)
	}
	dir := consentrec.DataDir{Root: root}
	if _, err := os.Stat(filepath.Join(dir.Recordings(), "rec-q2.opus")); !os.IsNotExist(err) {
		t.Errorf("rec-q2.opus still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir.Recordings(), "rec-q1.opus")); err != nil {
		t.Errorf("held rec-q1.opus gone: %v", err)
	}

	// The gate: a trainer may not open a quality recording; a lawyer may,
	// while it is held.
	if code, _, errOut := retCLI(t, "open", "rec-q1", "--as", "trainer", "--reason", "training", data); code != 1 || !strings.Contains(errOut, "access denied") {
		t.Errorf("trainer: exit %d %s", code, errOut)
	}
	out1 := filepath.Join(t.TempDir(), "q1.opus")
	if code, _, errOut := retCLI(t, "open", "rec-q1", "--as", "legal", "--reason", "case RG 26/042", "--out", out1, data); code != 0 {
		t.Fatalf("lawyer: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(out1); string(b) != "OggS fake audio of rec-q1" {
		t.Errorf("opened %q", b)
	}
	if code, _, _ := retCLI(t, "open", "rec-q1", "--as", "legal", data); code != 2 {
		t.Errorf("open without --reason: exit %d, want 2", code)
	}
	// A corrupted file is refused and audited.
	if err := os.WriteFile(filepath.Join(dir.Recordings(), "rec-c1.opus"), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := retCLI(t, "open", "rec-c1", "--as", "contracts", "--reason", "dispute", data); code != 1 || !strings.Contains(errOut, "integrity") {
		t.Errorf("corrupted: exit %d %s", code, errOut)
	}

	if code, out, errOut := retCLI(t, "hold", "release", "rec-q1", "--case", "RG 26/042", "--by", "Ann Lawyer", data); code != 0 || !strings.Contains(out, "no hold left") {
		t.Fatalf("release: %d %s%s", code, out, errOut)
	}
	kinds := auditKinds(t, root)
	want := map[audit.Kind]int{
		audit.KindLegalHoldSet: 1, audit.KindLegalHoldReleased: 1, audit.KindRetentionDeleted: 1,
		audit.KindRetentionOverdue: 1, audit.KindAccess: 1, audit.KindAccessDenied: 2, audit.KindIntegrityFailure: 1,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("audit kind %d: %d events, want %d (all: %v)", k, kinds[k], n, kinds)
		}
	}
}

func TestCLISubject(t *testing.T) {
	root := retentionData(t)
	data := "--data=" + root
	code, out, errOut := retCLI(t, "subject", "find", "+33 6 00 00 00 01", data)
	if code != 0 || !strings.Contains(out, "2 recording(s)") {
		t.Fatalf("find: %d %s%s", code, out, errOut)
	}
	zipPath := filepath.Join(t.TempDir(), "export.zip")
	code, out, errOut = retCLI(t, "subject", "export", "+33 6 00 00 00 01", "--out", zipPath, "--ref", "DSAR-1", data)
	if code != 0 || !strings.Contains(errOut, "export: 2/2") {
		t.Fatalf("export: %d %s%s", code, out, errOut)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 4 {
		t.Errorf("zip holds %d files, want 2 audio + recordings.json + README.txt", len(zr.File))
	}
	zr.Close()
	if code, _, _ := retCLI(t, "subject", "export", "+33 6 00 00 00 01", "--out", zipPath, data); code != 1 {
		t.Errorf("export over an existing file: exit %d, want 1", code)
	}
	// --by is gone: who handles the request is the operating-system user.
	if code, _, errOut := retCLI(t, "subject", "erase", "+33 6 00 00 00 01", "--by", "dpo", data); code != 2 || !strings.Contains(errOut, "--by is gone") {
		t.Errorf("erase with --by: exit %d %s, want 2", code, errOut)
	}
	retCLI(t, "hold", "set", "rec-q2", "--case", "K-1", "--by", "Ann", data)
	code, out, errOut = retCLI(t, "subject", "erase", "+33 6 00 00 00 01", data)
	if code != 1 || !strings.Contains(out, "erased   rec-q1") || !strings.Contains(out, "REFUSED  rec-q2") || !strings.Contains(out, "K-1") {
		t.Fatalf("erase: %d\n%s%s", code, out, errOut)
	}
	// The other caller: everything erasable goes, and the audit log forgets them.
	code, out, errOut = retCLI(t, "subject", "erase", "+33 6 00 00 00 02", "--shred-audit", data)
	if code != 0 || !strings.Contains(out, "erased   rec-c1") || !strings.Contains(out, "crypto-shredded") {
		t.Fatalf("erase with --shred-audit: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := retCLI(t, "sweep", "--data", filepath.Join(root, "nope")); code != 2 || !strings.Contains(errOut, "no catalog") {
		t.Errorf("sweep of a missing data dir: %d %s", code, errOut)
	}
}

// subject export --out FILE.zip over an existing file exported everything
// (audited as exported to the data subject, "exported 2 recording(s) to
// FILE" printed) and only then failed to put the archive in place: the
// trail recorded an answer nobody received.
func TestCLISubjectExportExistingZipAuditsNothing(t *testing.T) {
	root := retentionData(t)
	zipPath := filepath.Join(t.TempDir(), "export.zip")
	if err := os.WriteFile(zipPath, []byte("someone else's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := auditKinds(t, root)[audit.KindSubjectExport]
	code, out, errOut := retCLI(t, "subject", "export", "+33 6 00 00 00 01", "--out", zipPath, "--data", root)
	if code != 1 {
		t.Fatalf("export over an existing file: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "exported 2") {
		t.Errorf("claims an export that did not happen:\n%s", out)
	}
	if after := auditKinds(t, root)[audit.KindSubjectExport]; after != before {
		t.Errorf("%d subject-export audit entries for an export that did not happen", after-before)
	}
	if b, _ := os.ReadFile(zipPath); string(b) != "someone else's file" {
		t.Errorf("existing file changed")
	}
}

// open --out FILE over an existing file passed the gate first (the access
// audited as granted) and only then failed to create FILE: the trail
// recorded an access that delivered nothing. The file is now created
// before the gate is asked, and removed if the gate refuses.
func TestCLIOpenExistingOutAuditsNothing(t *testing.T) {
	root := retentionData(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "q1.opus")
	if err := os.WriteFile(out, []byte("someone else's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := retCLI(t, "open", "rec-c1", "--as", "contracts", "--reason", "dispute", "--out", out, "--data", root)
	if code != 1 {
		t.Fatalf("open over an existing file: exit %d, want 1\n%s", code, errOut)
	}
	if n := auditKinds(t, root)[audit.KindAccess]; n != 0 {
		t.Errorf("%d access(es) audited as granted, nothing was delivered", n)
	}
	if b, _ := os.ReadFile(out); string(b) != "someone else's file" {
		t.Errorf("existing file changed: %q", b)
	}
	// Refused by the gate: no file left behind.
	denied := filepath.Join(dir, "denied.opus")
	if code, _, _ := retCLI(t, "open", "rec-c1", "--as", "trainer", "--reason", "x", "--out", denied, "--data", root); code != 1 {
		t.Fatalf("trainer: exit %d, want 1", code)
	}
	if _, err := os.Stat(denied); !os.IsNotExist(err) {
		t.Errorf("refused open left %s: %v", denied, err)
	}
}

// TestCLIExportWAVGoesThroughTheGate (R25, R26): export --wav decoded any
// recording with no audit entry. A catalogued recording now goes through
// the gate (role from the access table, reason, audited); a loose file
// needs --unaudited, and says so.
func TestCLIExportWAVGoesThroughTheGate(t *testing.T) {
	data := t.TempDir()
	m := recordCall(t, data, true)
	file := filepath.Join(consentrec.DataDir{Root: data}.Recordings(), m.ID+".opus")
	wav := filepath.Join(t.TempDir(), "out.wav")
	code, _, errOut := retCLI(t, "export", file, "--wav", wav)
	if code != 2 || !strings.Contains(errOut, "not audited") || !strings.Contains(errOut, "--unaudited") {
		t.Errorf("loose file: exit %d %s", code, errOut)
	}
	catalogue(t, data, m.ID)
	grant(t, data, policy.RoleQuality)
	if code, _, errOut := retCLI(t, "export", file, "--wav", wav, "--unaudited"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Errorf("catalogued, no reason: exit %d %s", code, errOut)
	}
	// A training recording: the quality role may not decode it.
	code, _, errOut = retCLI(t, "export", file, "--wav", wav, "--reason", "curious")
	if code != 1 || !strings.Contains(errOut, "allowed roles: trainer, supervisor") {
		t.Errorf("quality on training: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(wav); !os.IsNotExist(err) {
		t.Errorf("refused export wrote %s", wav)
	}
	grant(t, data, policy.RoleTrainer)
	if code, _, errOut := retCLI(t, "export", file, "--wav", wav, "--reason", "onboarding session"); code != 0 {
		t.Fatalf("trainer: exit %d %s", code, errOut)
	}
	ev := lastEvent(t, data)
	if ev.Kind != audit.KindAccess || ev.RecordingID != m.ID || ev.Role != "trainer" || ev.Reason != "onboarding session" || attr(ev, "action") != "export" {
		t.Errorf("export audited as %+v", ev)
	}
	if b, err := os.ReadFile(wav); err != nil || string(b[:4]) != "RIFF" {
		t.Errorf("no WAV written: %v", err)
	}
}

// TestCLIAccessTable (R25): roles come from DIR/access.json, owner-only,
// never from a flag; --by is gone, with a clear message.
func TestCLIAccessTable(t *testing.T) {
	root := retentionData(t)
	path := filepath.Join(root, AccessFile)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := retCLI(t, "open", "rec-c1", "--reason", "dispute", "--data", root)
	if code != 1 || !strings.Contains(errOut, "group or others") {
		t.Errorf("group-readable access table: exit %d %s", code, errOut)
	}
	os.Chmod(path, 0o600)
	// The user holds trainer, legal, contracts, dpo: typing supervisor
	// gets nothing, and the refusal is audited.
	code, _, errOut = retCLI(t, "open", "rec-c1", "--as", "supervisor", "--reason", ".", "--data", root)
	if code != 1 || !strings.Contains(errOut, "not granted") {
		t.Errorf("open --as supervisor: exit %d %s", code, errOut)
	}
	if n := auditKinds(t, root)[audit.KindAccessDenied]; n != 1 {
		t.Errorf("%d refusals audited, want 1", n)
	}
	if code, _, errOut := retCLI(t, "open", "rec-c1", "--as", "contracts", "--reason", "x", "--by", "mallory", "--data", root); code != 2 || !strings.Contains(errOut, "--by is gone") {
		t.Errorf("open --by: exit %d %s", code, errOut)
	}
	grant(t, root, policy.RoleTrainer)
	if code, out, errOut := retCLI(t, "subject", "find", "+33 6 00 00 00 01", "--data", root); code != 1 || strings.Contains(out, "rec-q1") || !strings.Contains(errOut, "dpo") {
		t.Errorf("subject find without the dpo role: exit %d %s%s", code, out, errOut)
	}
	os.Remove(path)
	if code, _, errOut := retCLI(t, "open", "rec-c1", "--reason", "x", "--data", root); code != 1 || !strings.Contains(errOut, "no access table") {
		t.Errorf("no access table: exit %d %s", code, errOut)
	}
}

// TestCLISubjectExportRedactsOtherVoice (R29): a subject export handed over
// the agent's voice too. By default a dual-channel recording now comes out
// as the customer's channel only, a mono Ogg Opus file of the same length;
// --redact-other=false keeps both.
func TestCLISubjectExportRedactsOtherVoice(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	m := recordCall(t, data, true)
	dir := consentrec.DataDir{Root: data}
	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	secret, err := retention.SubjectSecret(dir.Keys(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromrecorder.Catalogue(ctx, cat, m, policy.SubjectKey(secret, "+33 6 11 11 11 11"), policy.Period{}); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	grant(t, data, retention.RoleDPO)
	inspect := func(path string) *recorder.Info {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		in, err := recorder.Inspect(f)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	whole := inspect(filepath.Join(dir.Recordings(), m.ID+".opus"))
	if whole.Channels != 2 {
		t.Fatalf("the recording has %d channels, want the dual layout", whole.Channels)
	}
	out := filepath.Join(t.TempDir(), "export")
	if code, stdout, errOut := retCLI(t, "subject", "export", "+33 6 11 11 11 11", "--out", out, "--data", data); code != 0 {
		t.Fatalf("export: %d %s%s", code, stdout, errOut)
	}
	got := inspect(filepath.Join(out, "audio", m.ID+".opus"))
	if got.Channels != 1 || got.Tag("LEG") != "customer" || got.Duration != whole.Duration || got.PreSkip != whole.PreSkip {
		t.Errorf("exported: %d channels, leg %q, %v (recording %v)", got.Channels, got.Tag("LEG"), got.Duration, whole.Duration)
	}
	meta, _ := os.ReadFile(filepath.Join(out, "recordings.json"))
	readme, _ := os.ReadFile(filepath.Join(out, "README.txt"))
	if !strings.Contains(string(meta), `"only_your_voice": true`) || !strings.Contains(string(readme), "your voice only") {
		t.Errorf("the export does not say it holds one voice:\n%s\n%s", meta, readme)
	}
	out2 := filepath.Join(t.TempDir(), "export")
	if code, stdout, errOut := retCLI(t, "subject", "export", "+33 6 11 11 11 11", "--out", out2, "--redact-other=false", "--data", data); code != 0 {
		t.Fatalf("export --redact-other=false: %d %s%s", code, stdout, errOut)
	}
	if got := inspect(filepath.Join(out2, "audio", m.ID+".opus")); got.Channels != 2 || got.SHA256 != whole.SHA256 {
		t.Errorf("--redact-other=false: %d channels", got.Channels)
	}
}

// backends.json selects the catalog and the recordings for every command; a
// bad one is a usage error naming the file, never a silent fallback to the
// embedded defaults.
func TestBackendsFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, BackendsFile), []byte(`{"catalog": "mysql://nope"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, "sweep", "--dry-run", "--data", dir)
	if code != 2 || !strings.Contains(errOut, BackendsFile) {
		t.Fatalf("bad catalog DSN: exit %d: %s", code, errOut)
	}
	os.WriteFile(filepath.Join(dir, BackendsFile), []byte(`{"catalog": `), 0o600)
	if code, _, errOut := cli(t, "sweep", "--dry-run", "--data", dir); code != 2 || !strings.Contains(errOut, BackendsFile) {
		t.Fatalf("bad JSON: exit %d: %s", code, errOut)
	}
	dsn := os.Getenv("CONSENTREC_PG_DSN")
	if dsn == "" {
		t.Log("CONSENTREC_PG_DSN not set: the PostgreSQL path of backends.json is not exercised here")
		return
	}
	os.WriteFile(filepath.Join(dir, BackendsFile), []byte(`{"catalog": "`+dsn+`"}`), 0o600)
	if code, out, errOut := cli(t, "sweep", "--dry-run", "--data", dir); code != 0 {
		t.Fatalf("sweep on PostgreSQL: exit %d\n%s%s", code, out, errOut)
	}
}
