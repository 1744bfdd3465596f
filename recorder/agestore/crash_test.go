package agestore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func fixture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, _, err := recorder.Packets(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCrashChild is the recording process the crash test kills: it holds
// the operator's public key only (CONSENTREC_AGE_RECIPIENT), records a
// dual-channel call into an encrypted file store as fast as it can on a
// simulated clock, prints "at SECONDS" every 100 ms of audio, and stops at
// CONSENTREC_CRASH_STOP_AT to wait for SIGKILL.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("CONSENTREC_AGE_CRASH_DIR")
	if dir == "" {
		t.Skip("only run as the crash test's child process")
	}
	stopAt, _ := strconv.ParseFloat(os.Getenv("CONSENTREC_CRASH_STOP_AT"), 64)
	recip, err := age.ParseX25519Recipient(os.Getenv("CONSENTREC_AGE_RECIPIENT"))
	if err != nil {
		t.Fatal(err)
	}
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	inner, err := recorder.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{recip}, Journal: os.Getenv("CONSENTREC_AGE_JOURNAL") == "1"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	writers := &recorder.Writers{}
	rec, err := recorder.New(recorder.Config{CallID: "crash", Purpose: policy.Quality, Store: st, Audit: audit.Discard, Now: clk.now, Writers: writers})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "agent"); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		clk.add(20 * time.Millisecond)
		for j, l := range []*recorder.Leg{c, a} {
			src := [][][]byte{speech, tone}[j]
			l.WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: uint32(j + 1)},
				Payload: src[i%len(src)]})
		}
		if i%5 == 4 {
			// Fed far faster than real time, the writing goroutines
			// would lag behind by many pages: wait for them, as real time
			// would (a page takes microseconds to write, and comes once a
			// second), so that "at" means queued pages were written.
			for st := writers.Stats(); st.Queued > 0 || st.Goroutines > 0; st = writers.Stats() {
				runtime.Gosched()
			}
			at := float64(i+1) * 0.02
			fmt.Printf("at %.3f\n", at)
			if stopAt > 0 && at >= stopAt {
				select {} // wait for SIGKILL, mid-call
			}
		}
	}
}

// TestCrashRecoveryEncrypted kills (SIGKILL) a recording process that
// encrypts with public keys only, mid-call, then recovers the recording
// with the operator's identity, and measures the audio lost: with the
// journal, as much as without encryption (about one second, the recorder's
// own page interval); without it (the age file alone), the incomplete 64
// KiB chunk would be lost too.
func TestCrashRecoveryEncrypted(t *testing.T) {
	if os.Getenv("CONSENTREC_AGE_CRASH_DIR") != "" {
		t.Skip("child")
	}
	op := newIdentity(t)
	for _, c := range []struct {
		journal bool
		stopAt  string
	}{{true, "27.37"}, {true, ""}, {false, "27.37"}, {false, ""}} {
		journal, stopAt := c.journal, c.stopAt
		name := map[bool]string{true: "journal/", false: "default/"}[journal] +
			map[string]string{"27.37": "KilledWhileWaiting", "": "KilledWhileWriting"}[stopAt]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
			cmd.Env = append(os.Environ(), "CONSENTREC_AGE_CRASH_DIR="+dir, "CONSENTREC_CRASH_STOP_AT="+stopAt,
				"CONSENTREC_AGE_RECIPIENT="+op.Recipient().String(), "CONSENTREC_AGE_JOURNAL="+map[bool]string{true: "1", false: "0"}[journal])
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killAfter := 27.37
			if stopAt == "" {
				killAfter = 20
			}
			sc := bufio.NewScanner(out)
			var reached float64
			for sc.Scan() {
				if f, ok := strings.CutPrefix(sc.Text(), "at "); ok {
					reached, _ = strconv.ParseFloat(f, 64)
					if reached >= killAfter {
						break
					}
				}
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			if reached < killAfter {
				t.Fatalf("child stopped at %.3f s: %v", reached, sc.Err())
			}
			inner, _ := recorder.NewFileStore(dir)
			// The recording process itself (public keys only) cannot
			// recover: it reports the orphan and leaves it.
			pub, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}})
			if _, err := recorder.Recover(ctx, pub, audit.Discard); err == nil {
				t.Fatal("Recover without an identity succeeded")
			}
			ms, _ := pub.List(ctx)
			if len(ms) != 1 || ms[0].State != recorder.StateRecording {
				t.Fatalf("after the kill: %+v", ms)
			}
			id := ms[0].ID
			// What the age file alone holds (complete 64 KiB chunks).
			enc, _ := os.ReadFile(filepath.Join(dir, id+".opus.partial"))
			fileOnly := decryptPrefix(t, enc, op)
			fileDur := recoveredDuration(t, fileOnly)
			// The operator recovers with the identity.
			opStore, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}})
			recd, err := recorder.Recover(ctx, opStore, audit.Discard)
			if err != nil || len(recd) != 1 {
				t.Fatalf("Recover: %+v, %v", recd, err)
			}
			m := recd[0]
			reachedDur := time.Duration(reached * float64(time.Second))
			lost := reachedDur - m.Duration
			t.Logf("killed at %.3f s of audio (%d bytes of ciphertext on disk); recovered %v: lost %v. "+
				"The age file alone held %d plaintext bytes = %v of audio (%v lost without a journal)",
				reached, len(enc), m.Duration, lost, len(fileOnly), fileDur, reachedDur-fileDur)
			// The bound: the recorder's own (one page, 1 s, plus the
			// reorder window); without the journal, plus one 64 KiB chunk
			// at this call's byte rate.
			bound := time.Second + recorder.DefaultReorderWindow + 20*time.Millisecond
			if !journal {
				plainLen, _ := readAll(t, opStore, m.ID)
				perChunk := time.Duration(float64(64<<10) / float64(len(plainLen)) * float64(m.Duration))
				t.Logf("one 64 KiB chunk holds %v of this call", perChunk)
				bound += perChunk
			}
			// Killed while writing, the child went on after its last line:
			// it may have recorded more than "reached".
			if lost > bound || stopAt != "" && lost < 0 {
				t.Errorf("lost %v of audio, want at most %v", lost, bound)
			}
			if !m.Recovered || m.State != recorder.StateFinalized {
				t.Errorf("meta %+v", m)
			}
			// The recovered file is a complete age file: the age CLI and
			// opusinfo take it.
			plain, err := readAll(t, opStore, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			in, err := recorder.Inspect(bytes.NewReader(plain))
			if err != nil || !in.EOS || in.Channels != 2 || in.Duration != m.Duration {
				t.Fatalf("inspect: %+v, %v", in, err)
			}
			ageCLI(t, op, filepath.Join(dir, m.ID+".opus"), plain)
		})
	}
}

// recoveredDuration is the audio recorder.Recover keeps of a torn plaintext
// Ogg file.
func recoveredDuration(t *testing.T, plain []byte) time.Duration {
	t.Helper()
	mem := &recordertest.MemStore{}
	w, err := mem.Create(ctx, meta("x"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	ms, err := recorder.Recover(ctx, mem, audit.Discard)
	if err != nil || len(ms) != 1 {
		t.Fatalf("recover the file alone: %v", err)
	}
	return ms[0].Duration
}

// decryptPrefix returns what age can decrypt of a torn age file: its
// complete chunks.
func decryptPrefix(t *testing.T, enc []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(enc), id)
	if err != nil {
		return nil
	}
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				t.Fatal("a torn file decrypted to the end")
			}
			return out
		}
	}
}

// ageCLI decrypts path with Debian's age and the identity, compares the
// result with want, and runs opusinfo on it. It skips if age is absent.
func ageCLI(t *testing.T, id *age.X25519Identity, path string, want []byte) {
	t.Helper()
	ageBin, err := exec.LookPath("age")
	if err != nil {
		t.Log("age not installed (Debian package age): CLI interop not checked")
		return
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "op.key")
	os.WriteFile(key, []byte(id.String()+"\n"), 0o600)
	out := filepath.Join(dir, "out.opus")
	if b, err := exec.Command(ageBin, "-d", "-i", key, "-o", out, path).CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("age -d gives %d bytes, want %d", len(got), len(want))
	}
	if opusinfo, err := exec.LookPath("opusinfo"); err == nil {
		if b, err := exec.Command(opusinfo, out).CombinedOutput(); err != nil {
			t.Fatalf("opusinfo: %v\n%s", err, b)
		}
	}
}

// TestCrashDuringPauseEncrypted: the recorder checkpoints a pause (reason
// and actor) through agestore's writer; a crash during the pause on an
// encrypted recording keeps them in the recovered gap index, with and
// without the journal.
func TestCrashDuringPauseEncrypted(t *testing.T) {
	speech := fixture(t, "speech.opus")
	for _, journal := range []bool{true, false} {
		t.Run(map[bool]string{true: "journal", false: "default"}[journal], func(t *testing.T) {
			op := newIdentity(t)
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				inner, _ := recorder.NewFileStore(dir)
				// The recording process: public keys only.
				st, err := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Journal: journal})
				if err != nil {
					t.Fatal(err)
				}
				rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: st, Audit: audit.Discard})
				c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
				if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
					t.Fatal(err)
				}
				for i := range 200 {
					if i == 50 {
						rec.Pause(ctx, "card-data", "agent-3")
					}
					if i == 80 {
						rec.Resume(ctx, "agent-3")
					}
					if i == 120 {
						rec.Pause(ctx, "card-data-2", "agent-4")
					}
					c.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
						Payload: speech[i%len(speech)]})
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(1500 * time.Millisecond) // crash while paused: the recorder is abandoned
			})
			inner, _ := recorder.NewFileStore(dir)
			// Before recovery, without any key: the checkpointed pauses
			// are in the metadata.
			ms, err := inner.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var before []recorder.Gap
			for _, m := range ms {
				if !strings.HasSuffix(m.ID, agestore.JournalSuffix) {
					before = m.Gaps
				}
			}
			open := slices.IndexFunc(before, func(g recorder.Gap) bool {
				return g.Reason == recorder.GapPause && g.Actor == "agent-4" && g.Note == "card-data-2" && g.Start == 2400*time.Millisecond && g.End == 0
			})
			if open < 0 {
				t.Fatalf("the open pause is not checkpointed: %+v", before)
			}
			opStore, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Journal: journal})
			recd, err := recorder.Recover(ctx, opStore, audit.Discard)
			if err != nil || len(recd) != 1 {
				t.Fatalf("Recover: %+v, %v", recd, err)
			}
			m := recd[0]
			t.Logf("recovered %v, gaps %+v", m.Duration, m.Gaps)
			var pauses []recorder.Gap
			for _, g := range m.Gaps {
				if g.Reason == recorder.GapPause {
					pauses = append(pauses, g)
				}
			}
			if !journal {
				// The age file alone holds no complete 64 KiB chunk of
				// this 4 s call: nothing of the audio survives, and the
				// pauses, past the end, with it.
				if m.Duration > time.Second && len(pauses) == 0 {
					t.Errorf("recovered %v of audio and no pause: %+v", m.Duration, m.Gaps)
				}
				return
			}
			if len(pauses) != 2 || pauses[0].Actor != "agent-3" || pauses[0].Note != "card-data" ||
				pauses[0].Start != time.Second || pauses[0].End != 1600*time.Millisecond ||
				pauses[1].Actor != "agent-4" || pauses[1].Note != "card-data-2" || pauses[1].Start != 2400*time.Millisecond || pauses[1].End < m.Duration {
				t.Errorf("pauses %+v", pauses)
			}
		})
	}
}
