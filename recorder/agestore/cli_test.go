package agestore_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"filippo.io/age"
	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
)

// recordCall records a 3 s dual-channel call (speech left, tone right) into
// st, in a synctest bubble, and returns its metadata.
func recordCall(t *testing.T, st recorder.Store) recorder.Meta {
	t.Helper()
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	var m recorder.Meta
	synctest.Test(t, func(t *testing.T) {
		rec, err := recorder.New(recorder.Config{CallID: "call-age", Purpose: policy.Quality, PolicyVersion: "pv", Store: st, Audit: audit.Discard})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent"); err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			for j, l := range []*recorder.Leg{c, a} {
				src := [][][]byte{speech, tone}[j]
				l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: uint32(j + 1)},
					Payload: src[i%len(src)]})
			}
			time.Sleep(20 * time.Millisecond)
		}
		ms, err := rec.Stop(ctx, "agent")
		if err != nil || len(ms) != 1 {
			t.Fatalf("stop: %v", err)
		}
		m = ms[0]
	})
	return m
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian packages age, opus-tools); skipping", name)
	}
	return p
}

// keygen makes an identity file with Debian's age-keygen and returns its
// path and the parsed identity.
func keygen(t *testing.T, dir, name string) (string, *age.X25519Identity) {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command(tool(t, "age-keygen"), "-o", path).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	f, _ := os.Open(path)
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		t.Fatal(err)
	}
	return path, ids[0].(*age.X25519Identity)
}

// TestAgeCLIInterop: a recording encrypted while recording (public key
// only) decrypts with `age -d -i KEY` into a file opusinfo accepts; the
// wrong key, a flipped byte and a truncated file each make age fail with a
// clear message. With per-recording keys, the key file decrypts first.
func TestAgeCLIInterop(t *testing.T) {
	ageBin, opusinfo := tool(t, "age"), tool(t, "opusinfo")
	for _, shred := range []bool{false, true} {
		t.Run(map[bool]string{false: "recipients", true: "per-recording-key"}[shred], func(t *testing.T) {
			dir := t.TempDir()
			keyFile, op := keygen(t, dir, "operator.key")
			wrongFile, _ := keygen(t, dir, "wrong.key")
			inner, _ := recorder.NewFileStore(filepath.Join(dir, "recordings"))
			cfg := agestore.Config{Recipients: []age.Recipient{op.Recipient()}} // public key only
			var keys *agestore.DirKeyStore
			if shred {
				keys, _ = agestore.NewDirKeyStore(filepath.Join(dir, "keys"))
				cfg.Keys = keys
			}
			st, err := agestore.New(inner, cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := recordCall(t, st)
			file := filepath.Join(dir, "recordings", m.ID+".opus")
			fileKey := keyFile
			if shred {
				// age -d -i operator.key keys/ID.age > rec.key
				fileKey = filepath.Join(dir, "rec.key")
				if out, err := exec.Command(ageBin, "-d", "-i", keyFile, "-o", fileKey, keys.Path(m.ID)).CombinedOutput(); err != nil {
					t.Fatalf("age -d key: %v\n%s", err, out)
				}
				// The operator key alone does not open the recording.
				out, err := exec.Command(ageBin, "-d", "-i", keyFile, file).CombinedOutput()
				if err == nil {
					t.Fatal("the operator key opened a per-recording-key file directly")
				}
				t.Logf("operator key on the file: %s", strings.TrimSpace(string(out)))
			}
			plain := filepath.Join(dir, "plain.opus")
			if out, err := exec.Command(ageBin, "-d", "-i", fileKey, "-o", plain, file).CombinedOutput(); err != nil {
				t.Fatalf("age -d: %v\n%s", err, out)
			}
			out, err := exec.Command(opusinfo, plain).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Channels: 2") {
				t.Fatalf("opusinfo: %v\n%s", err, out)
			}
			// The same bytes as the library's Open.
			reader, _ := agestore.New(inner, agestore.Config{Recipients: cfg.Recipients, Identities: []age.Identity{op}, Keys: cfg.Keys})
			lib, err := readAll(t, reader, m.ID)
			if got, _ := os.ReadFile(plain); err != nil || !bytes.Equal(got, lib) {
				t.Fatalf("age CLI and Open differ: %v", err)
			}

			// Failures, each with a clear message from age.
			enc, _ := os.ReadFile(file)
			flipped := filepath.Join(dir, "flipped.age")
			b := bytes.Clone(enc)
			b[len(b)/2] ^= 0x01
			os.WriteFile(flipped, b, 0o600)
			truncated := filepath.Join(dir, "truncated.age")
			os.WriteFile(truncated, enc[:len(enc)-100], 0o600)
			for _, c := range []struct {
				name, key, file, want string
			}{
				{"wrong key", wrongFile, file, "no identity matched"},
				{"flipped byte", fileKey, flipped, "failed to decrypt"},
				{"truncated", fileKey, truncated, "failed to decrypt"},
			} {
				out, err := exec.Command(ageBin, "-d", "-i", c.key, "-o", filepath.Join(dir, "x"), c.file).CombinedOutput()
				msg := strings.TrimSpace(string(out))
				t.Logf("age -d, %s: %v: %s", c.name, err, msg)
				if err == nil || !strings.Contains(msg, c.want) {
					t.Errorf("age -d, %s: %v %q, want failure mentioning %q", c.name, err, msg, c.want)
				}
			}
		})
	}
}
