package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// encryptedData makes a data directory holding one finalized encrypted
// recording (the bytes of testdata/speech.opus) and one orphan (half of
// them, never finalized), encrypted to the public key in keyFile only.
func encryptedData(t *testing.T, keyFile string, shred bool) (root string, plain []byte) {
	t.Helper()
	return encryptedDataFor(t, keyFile, shred, policy.Quality)
}

// encryptedDataFor is encryptedData with recordings of purpose p.
func encryptedDataFor(t *testing.T, keyFile string, shred bool, p policy.Purpose) (root string, plain []byte) {
	t.Helper()
	root = t.TempDir()
	f, err := os.Open(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := recorder.NewFileStore(consentrec.DataDir{Root: root}.Recordings())
	cfg := agestore.Config{Recipients: []age.Recipient{ids[0].(*age.X25519Identity).Recipient()}}
	if shred {
		cfg.Keys, _ = agestore.NewDirKeyStore(recordingKeysDir(root))
	}
	st, _ := agestore.New(inner, cfg)
	plain, _ = os.ReadFile("../../testdata/speech.opus")
	ctx := context.Background()
	for _, id := range []string{"rec-1", "orphan"} {
		w, err := st.Create(ctx, recorder.Meta{ID: id, CallID: "c", Purpose: p, Layout: recorder.LayoutMono,
			Channels: []recorder.Role{recorder.Customer}})
		if err != nil {
			t.Fatal(err)
		}
		if id == "orphan" {
			w.Write(plain[:len(plain)/2]) // then the process dies
			continue
		}
		w.Write(plain)
		if _, err := w.Finalize(ctx, recorder.Final{}); err != nil {
			t.Fatal(err)
		}
	}
	catalogue(t, root, "rec-1")
	grant(t, root, policy.RoleQuality, policy.RoleCompliance, retention.RoleDPO)
	return root, plain
}

// catalogue adds a finalized recording of root's store to its catalog, as
// a host does at finalization (and recovery).
func catalogue(t *testing.T, root, id string) retention.Recording {
	t.Helper()
	ctx := context.Background()
	dir := consentrec.DataDir{Root: root}
	st, _ := recorder.NewFileStore(dir.Recordings())
	m, err := st.Stat(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	r, err := fromrecorder.Catalogue(ctx, cat, m, "", policy.Period{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	key, wrong := filepath.Join(dir, "op.key"), filepath.Join(dir, "wrong.key")
	for _, k := range []string{key, wrong} {
		code, out, errs := runCLI(t, "keys", "generate", "-o", k)
		if code != 0 || !strings.HasPrefix(errs, "public key: age1") || out != "" {
			t.Fatalf("keys generate: %d %q %q", code, out, errs)
		}
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v", st.Mode().Perm())
	}
	code, pub, _ := runCLI(t, "keys", "recipient", key)
	if code != 0 || !strings.HasPrefix(pub, "age1") {
		t.Fatalf("keys recipient: %d %q", code, pub)
	}
	if code, _, _ := runCLI(t, "keys", "generate", "-o", key); code != 1 {
		t.Errorf("keys generate over an existing file: exit %d, want 1", code)
	}

	for _, shred := range []bool{false, true} {
		t.Run(map[bool]string{false: "recipients", true: "per-recording-keys"}[shred], func(t *testing.T) {
			root, plain := encryptedData(t, key, shred)
			out := filepath.Join(t.TempDir(), "rec.opus")
			code, _, errs := runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", out, "--reason", "review", "--data", root)
			if got, _ := os.ReadFile(out); code != 0 || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt: %d %q", code, errs)
			}
			// Wrong key: exit 1, a clear message, no output file.
			out2 := filepath.Join(t.TempDir(), "x.opus")
			code, _, errs = runCLI(t, "keys", "decrypt", "rec-1", "--identity", wrong, "-o", out2, "--reason", "review", "--data", root)
			if code != 1 || !strings.Contains(errs, "wrong key") {
				t.Errorf("decrypt with the wrong key: %d %q", code, errs)
			}
			t.Logf("wrong key: %s", strings.TrimSpace(errs))
			// A flipped byte: integrity error.
			path := filepath.Join(consentrec.DataDir{Root: root}.Recordings(), "rec-1.opus")
			b, _ := os.ReadFile(path)
			b[len(b)/3] ^= 4
			os.WriteFile(path, b, 0o600)
			code, _, errs = runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", out2, "--reason", "review", "--data", root)
			if code != 1 || !strings.Contains(errs, "integrity") {
				t.Errorf("decrypt a damaged file: %d %q", code, errs)
			}
			if _, err := os.Stat(out2); err == nil {
				t.Error("an output file was left for a failed decryption")
			}
			b[len(b)/3] ^= 4
			os.WriteFile(path, b, 0o600)
			// Recover the orphan with the identity.
			code, stdout, errs := runCLI(t, "keys", "recover", "--identity", key, "--data", root)
			if code != 0 || !strings.Contains(stdout, "orphan: recovered") {
				t.Fatalf("keys recover: %d %q %q", code, stdout, errs)
			}
			// keys recover catalogued it.
			code, _, errs = runCLI(t, "keys", "decrypt", "orphan", "--identity", key, "-o", out2, "--reason", "review", "--data", root)
			if code != 0 {
				t.Fatalf("decrypt the recovered orphan: %q", errs)
			}
			if !shred {
				if code, _, _ := runCLI(t, "keys", "shred", "rec-1", "--reason", "erasure request", "--data", root); code != 1 {
					t.Error("keys shred without per-recording keys succeeded")
				}
				if n := auditKinds(t, root)[audit.KindKeyShredded]; n != 0 {
					t.Errorf("a failed shred appended %d key-shredded events", n)
				}
				return
			}
			// export: a key file for the age CLI.
			code, keyText, errs := runCLI(t, "keys", "export", "rec-1", "--identity", key, "--reason", "review", "--data", root)
			if code != 0 || !strings.Contains(keyText, "AGE-SECRET-KEY-1") {
				t.Fatalf("keys export: %d %q", code, errs)
			}
			if ageBin, err := exec.LookPath("age"); err == nil {
				kf := filepath.Join(t.TempDir(), "rec.key")
				os.WriteFile(kf, []byte(keyText), 0o600)
				got, err := exec.Command(ageBin, "-d", "-i", kf, path).Output()
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("age -d -i exported key: %v", err)
				}
			}
			// shred needs a reason (audited): exit 2, nothing deleted.
			if code, _, _ := runCLI(t, "keys", "shred", "rec-1", "--data", root); code != 2 {
				t.Errorf("keys shred without --reason: exit %d, want 2", code)
			}
			// (a new -o each time: the CLI never overwrites)
			code, _, errs = runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", filepath.Join(t.TempDir(), "y.opus"), "--reason", "review", "--data", root)
			if code != 0 {
				t.Fatalf("decrypt after a refused shred: %q", errs)
			}
			// shred: the recording is gone for good, and the audit log says
			// who did it, why, and which file became unreadable.
			rm, _ := recorder.NewFileStore(consentrec.DataDir{Root: root}.Recordings())
			meta, _ := rm.Stat(context.Background(), "rec-1")
			code, stdout, errs = runCLI(t, "keys", "shred", "rec-1", "--reason", "erasure request 42", "--data", root)
			if code != 0 || !strings.Contains(stdout, "unreadable") {
				t.Fatalf("keys shred: %d %q %q", code, stdout, errs)
			}
			me, _ := osPrincipal()
			ev := lastEvent(t, root)
			if ev.Kind != audit.KindKeyShredded || ev.RecordingID != "rec-1" || ev.Actor != me || ev.Reason != "erasure request 42" ||
				ev.CallID != "c" || ev.Purpose != string(policy.Quality) || ev.SHA256 == "" || ev.SHA256 != meta.SHA256 || ev.Time.IsZero() {
				t.Errorf("audit event %+v", ev)
			}
			// Destroyed: key, file and catalog row are gone.
			code, _, errs = runCLI(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", filepath.Join(t.TempDir(), "z.opus"), "--reason", "review", "--data", root)
			if code != 1 || !strings.Contains(errs, "no such recording") {
				t.Errorf("decrypt after shred: %d %q", code, errs)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the shredded recording's file stayed: %v", err)
			}
		})
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"keys", "decrypt", "rec-1"},
		{"keys", "recipient"},
		{"keys", "decrypt", "rec-1", "-o", "x", "--identity", filepath.Join(dir, "missing.key"), "--data", dir},
		{"keys", "shred", "../x", "--data", dir},
	} {
		if code, _, errs := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errs)
		}
	}
}

// TestInspectEncrypted: inspect and export, given an age-encrypted
// recording, say so and how to decrypt it (exit 1), not "invalid ogg".
func TestInspectEncrypted(t *testing.T) {
	key := filepath.Join(t.TempDir(), "op.key")
	if code, _, errs := runCLI(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatalf("keys generate: %s", errs)
	}
	root, _ := encryptedData(t, key, false)
	recs := consentrec.DataDir{Root: root}.Recordings()
	file := filepath.Join(recs, "rec-1.opus")
	for _, args := range [][]string{{"inspect", file}, {"inspect", "--json", file}, {"export", file, "--wav", filepath.Join(t.TempDir(), "x.wav")}} {
		code, out, errs := runCLI(t, args...)
		t.Logf("%v: %s", args, strings.TrimSpace(errs))
		if want := "consentrec keys decrypt rec-1 --identity FILE -o rec-1.ogg --data " + root; code != 1 || out != "" ||
			!strings.Contains(errs, "encrypted with age") || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want exit 1 and %q", args, code, out, errs, want)
		}
	}
	// The orphan (never finalized) must be recovered first.
	code, _, errs := runCLI(t, "inspect", filepath.Join(recs, "orphan.opus.partial"))
	if code != 1 || !strings.Contains(errs, "consentrec keys recover --identity FILE --data "+root) {
		t.Errorf("inspect an encrypted orphan: exit %d, %q", code, errs)
	}
	// Outside a data directory: DIR stands for it.
	b, _ := os.ReadFile(file)
	other := filepath.Join(t.TempDir(), "copy.opus")
	os.WriteFile(other, b, 0o600)
	if code, _, errs := runCLI(t, "inspect", other); code != 1 || !strings.Contains(errs, "keys decrypt copy --identity FILE -o copy.ogg --data DIR") {
		t.Errorf("inspect a copied encrypted file: exit %d, %q", code, errs)
	}
	// An empty file is not taken for an encrypted one.
	empty := filepath.Join(t.TempDir(), "empty.opus")
	os.WriteFile(empty, nil, 0o600)
	if _, _, errs := runCLI(t, "inspect", empty); strings.Contains(errs, "age") {
		t.Errorf("inspect an empty file: %q", errs)
	}
}

// lastEvent returns the last event of root's audit log.
func lastEvent(t *testing.T, root string) audit.Event {
	t.Helper()
	ctx := context.Background()
	l, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Size() == 0 {
		t.Fatal("empty audit log")
	}
	e, err := l.Entry(ctx, l.Size()-1)
	if err != nil {
		t.Fatal(err)
	}
	return e.Event
}
