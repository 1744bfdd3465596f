package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/recorder"
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
	code, _, errs := runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", out, "--data", root,
		"--by", "dpo-1", "--reason", "subject access request 7")
	if code != 0 {
		t.Fatalf("decrypt: %d %q", code, errs)
	}
	ev := lastEvent(t, root)
	if ev.Kind != audit.KindAccess || ev.RecordingID != "rec-1" || ev.Actor != "dpo-1" ||
		ev.Reason != "subject access request 7" || ev.SHA256 != meta.SHA256 || ev.CallID != "c" || attr(ev, "action") != "export" {
		t.Errorf("after keys decrypt, last audit event %+v", ev)
	}
	code, _, errs = runCLI(t, "keys", "export", "rec-1", "--identity", key, "--data", root, "--by", "dpo-2")
	if code != 0 {
		t.Fatalf("export: %d %q", code, errs)
	}
	ev = lastEvent(t, root)
	if ev.Kind != audit.KindAccess || ev.RecordingID != "rec-1" || ev.Actor != "dpo-2" || !strings.Contains(attr(ev, "tool"), "keys export") {
		t.Errorf("after keys export, last audit event %+v", ev)
	}
	// A refused decryption is no access.
	n := auditKinds(t, root)[audit.KindAccess]
	if code, _, _ := runCLI(t, "keys", "decrypt", "nope", "--identity", key, "-o", out+"2", "--data", root); code == 0 {
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
