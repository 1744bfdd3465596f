package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// Decrypting a recording (or exporting its own key) hands out the audio in
// the clear: like `consentrec open`, it must leave an access event in the
// audit log, with who and why, and the file's digest.
func TestKeysDecryptAndExportAreAudited(t *testing.T) {
	key := filepath.Join(t.TempDir(), "op.key")
	if code, _, errs := runCLI(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatal(errs)
	}
	root, _ := encryptedData(t, key, true)
	rm, _ := recorder.NewFileStore(consentrec.DataDir{Root: root}.Recordings())
	meta, _ := rm.Stat(context.Background(), "rec-1")
	out := filepath.Join(t.TempDir(), "rec.opus")
	me, _ := osPrincipal()
	code, _, errs := runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", out, "--data", root,
		"--reason", "subject access request 7")
	if code != 0 {
		t.Fatalf("decrypt: %d %q", code, errs)
	}
	ev := lastEvent(t, root)
	if ev.Kind != audit.KindAccess || ev.RecordingID != "rec-1" || ev.Actor != me || ev.Role != "quality" ||
		ev.Reason != "subject access request 7" || ev.SHA256 != meta.SHA256 || ev.CallID != "c" || attr(ev, "action") != "export" {
		t.Errorf("after keys decrypt, last audit event %+v", ev)
	}
	code, _, errs = runCLI(t, "keys", "export", "rec-1", "--identity", key, "--data", root, "--reason", "court order 3")
	if code != 0 {
		t.Fatalf("export: %d %q", code, errs)
	}
	ev = lastEvent(t, root)
	if ev.Kind != audit.KindAccess || ev.RecordingID != "rec-1" || ev.Actor != me || !strings.Contains(attr(ev, "tool"), "keys export") {
		t.Errorf("after keys export, last audit event %+v", ev)
	}
	// A refused decryption is no access.
	n := auditKinds(t, root)[audit.KindAccess]
	if code, _, _ := runCLI(t, "keys", "decrypt", "nope", "--identity", key, "-o", out+"2", "--reason", "x", "--data", root); code == 0 {
		t.Fatal("decrypt of an unknown recording succeeded")
	}
	if got := auditKinds(t, root)[audit.KindAccess]; got != n {
		t.Errorf("a failed decryption appended %d access events", got-n)
	}
}

func attr(e audit.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// TestKeysShredAsksTheCatalog (R13, R30, R11): keys shred destroyed a
// recording under legal hold, exit 0. It now exits 1, deletes nothing, and
// the refusal is in `audit show`; a legal-obligation recording is kept
// until its minimum.
func TestKeysShredAsksTheCatalog(t *testing.T) {
	key := filepath.Join(t.TempDir(), "op.key")
	if code, _, errs := runCLI(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatal(errs)
	}
	root, _ := encryptedData(t, key, true)
	if code, _, errs := runCLI(t, "hold", "set", "rec-1", "--case", "RG 26/7", "--by", "Ann Lawyer", "--data", root); code != 0 {
		t.Fatal(errs)
	}
	code, _, errs := runCLI(t, "keys", "shred", "rec-1", "--reason", "no reason really", "--data", root)
	if code != 1 || !strings.Contains(errs, "legal hold") || !strings.Contains(errs, "R13") {
		t.Errorf("shred of a held recording: exit %d %q", code, errs)
	}
	ks, _ := agestore.NewDirKeyStore(recordingKeysDir(root))
	if _, err := ks.Get(context.Background(), "rec-1"); err != nil {
		t.Errorf("the held recording's key is gone: %v", err)
	}
	code, out, _ := runCLI(t, "audit", "show", "--data", root)
	last := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.Contains(last[len(last)-1], "access-denied") || !strings.Contains(last[len(last)-1], "rec-1") ||
		!strings.Contains(last[len(last)-1], "no reason really") {
		t.Errorf("audit show does not end with the refusal:\n%s", out)
	}
	if ev := lastEvent(t, root); attr(ev, "action") != "destroy" || !strings.Contains(attr(ev, "rule"), "R13") {
		t.Errorf("refusal audited as %+v", ev)
	}
	// Released, it still needs someone holding the dpo role (R25).
	if code, _, errs := runCLI(t, "hold", "release", "rec-1", "--case", "RG 26/7", "--by", "Ann Lawyer", "--data", root); code != 0 {
		t.Fatal(errs)
	}
	grant(t, root, policy.RoleQuality)
	if code, _, errs := runCLI(t, "keys", "shred", "rec-1", "--reason", "no reason really", "--data", root); code != 1 || !strings.Contains(errs, "dpo") {
		t.Errorf("shred without the dpo role: exit %d %q", code, errs)
	}
	if _, err := ks.Get(context.Background(), "rec-1"); err != nil {
		t.Errorf("the key is gone: %v", err)
	}
	// Old scripts naming someone else fail clearly.
	if code, _, errs := runCLI(t, "keys", "shred", "rec-1", "--reason", "x", "--by", "intern", "--data", root); code != 2 || !strings.Contains(errs, "--by is gone") {
		t.Errorf("shred --by: exit %d %q", code, errs)
	}
}

// TestKeysShredLegalObligation (R11, R30): a recording kept under a legal
// obligation is not shredded before its minimum, hold or no hold.
func TestKeysShredLegalObligation(t *testing.T) {
	key := filepath.Join(t.TempDir(), "op.key")
	if code, _, errs := runCLI(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatal(errs)
	}
	root, _ := encryptedDataFor(t, key, true, policy.LegalObligation)
	code, _, errs := runCLI(t, "keys", "shred", "rec-1", "--reason", "no reason really", "--data", root)
	if code != 1 || !strings.Contains(errs, "legal obligation") || !strings.Contains(errs, "R11") {
		t.Errorf("shred of a legal-obligation recording: exit %d %q", code, errs)
	}
	if ev := lastEvent(t, root); ev.Kind != audit.KindAccessDenied || !strings.Contains(attr(ev, "rule"), "R11") {
		t.Errorf("refusal audited as %+v", ev)
	}
	if _, err := os.Stat(filepath.Join(consentrec.DataDir{Root: root}.Recordings(), "rec-1.opus")); err != nil {
		t.Errorf("the recording is gone: %v", err)
	}
}

// TestKeysDecryptExportGate (issue 18 item 6): keys decrypt and keys export
// served a recording whose erasure had begun, with no role check, while
// open refused it. Both now go through the same gate.
func TestKeysDecryptExportGate(t *testing.T) {
	ctx := context.Background()
	key := filepath.Join(t.TempDir(), "op.key")
	if code, _, errs := runCLI(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatal(errs)
	}
	root, _ := encryptedData(t, key, true)
	out := filepath.Join(t.TempDir(), "rec.opus")
	decrypt := func() (int, string) {
		code, _, errs := runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", out, "--reason", "review", "--data", root)
		return code, errs
	}
	export := func() (int, string, string) {
		return runCLI(t, "keys", "export", "rec-1", "--identity", key, "--reason", "review", "--data", root)
	}
	// A role the purpose does not allow.
	grant(t, root, policy.RoleTrainer)
	if code, errs := decrypt(); code != 1 || !strings.Contains(errs, "allowed roles: quality, supervisor") {
		t.Errorf("decrypt as trainer: exit %d %q", code, errs)
	}
	if code, stdout, errs := export(); code != 1 || strings.Contains(stdout, "AGE-SECRET-KEY") || !strings.Contains(errs, "access denied") {
		t.Errorf("export as trainer: exit %d %q %q", code, stdout, errs)
	}
	if n := auditKinds(t, root)[audit.KindAccessDenied]; n != 2 {
		t.Errorf("%d refusals audited, want 2", n)
	}
	// An erasure that began (and was interrupted): nothing is handed out.
	grant(t, root, policy.RoleQuality)
	cat, err := sqlitecatalog.Open(ctx, consentrec.DataDir{Root: root}.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.BeginDelete(ctx, "rec-1", retention.DeletionErasure); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	if code, errs := decrypt(); code != 1 || !strings.Contains(errs, "pending deletion") {
		t.Errorf("decrypt during an erasure: exit %d %q", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("refused decrypt left %s", out)
	}
	if code, stdout, errs := export(); code != 1 || strings.Contains(stdout, "AGE-SECRET-KEY") || !strings.Contains(errs, "pending deletion") {
		t.Errorf("export during an erasure: exit %d %q %q", code, stdout, errs)
	}
	k := auditKinds(t, root)
	if k[audit.KindAccessDenied] != 4 || k[audit.KindAccess] != 0 {
		t.Errorf("audit kinds %v: want 4 refusals and no access", k)
	}
}
