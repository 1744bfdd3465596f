package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// Encrypted recordings with per-recording keys: the gate opens them with an
// identity, and the sweep deletes their keys too (crypto-shredding), so a
// backup of the file is unreadable after the deadline.
func TestCLIRetentionOnEncryptedRecordings(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := consentrec.DataDir{Root: root}
	id, _ := age.GenerateX25519Identity()
	keyFile := filepath.Join(t.TempDir(), "operator.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inner, _ := recorder.NewFileStore(dir.Recordings())
	keys, _ := agestore.NewDirKeyStore(recordingKeysDir(root))
	st, err := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{id.Recipient()}, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := os.ReadFile("../../testdata/speech.opus")
	w, err := st.Create(ctx, recorder.Meta{ID: "rec-e1", CallID: "c1", Purpose: policy.Quality, Layout: recorder.LayoutMono,
		Channels: []recorder.Role{recorder.Customer}, Created: time.Now().UTC().AddDate(0, 0, -30).Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	m, err := w.Finalize(ctx, recorder.Final{Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := retention.SubjectSecret(dir.Keys(), true)
	if _, err := fromrecorder.Catalogue(ctx, cat, m, policy.SubjectKey(secret, "+33 6 00 00 00 09"), policy.Period{}); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	grant(t, root, policy.RoleQuality)
	backup, _ := os.ReadFile(filepath.Join(dir.Recordings(), "rec-e1.opus"))

	out := filepath.Join(t.TempDir(), "call.opus")
	if code, _, stderr := retCLI(t, "open", "rec-e1", "--as", "quality", "--reason", "review", "--out", out, "--identity", keyFile, "--data", root); code != 0 {
		t.Fatalf("open with identity: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, plain) {
		t.Fatalf("open gave %d bytes, want the %d plaintext bytes", len(got), len(plain))
	}
	if code, _, stderr := retCLI(t, "sweep", "--data", root); code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(keys.Path("rec-e1")); !os.IsNotExist(err) {
		t.Fatalf("the recording's key survived the sweep: %v", err)
	}
	// The backup copy can no longer be read by the operator's identity.
	r, err := age.Decrypt(bytes.NewReader(backup), id)
	if err == nil {
		t.Fatalf("a backup of the swept recording still decrypts (%v)", r)
	}
}
