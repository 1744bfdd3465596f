package recorder_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
)

// fakeClock is a manual clock for the crash child (a separate process, so
// testing/synctest cannot drive it).
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

// TestCrashChild is the recorder process the crash test kills. It records a
// dual-channel call into the file store named by CONSENTREC_CRASH_DIR,
// feeding packets as fast as it can on a simulated clock, and prints the
// simulated time reached ("at SECONDS") every 100 ms of audio. With
// CONSENTREC_CRASH_STOP_AT it stops feeding at that time and waits to be
// killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("CONSENTREC_CRASH_DIR")
	if dir == "" {
		t.Skip("only run as the crash test's child process")
	}
	stopAt, _ := strconv.ParseFloat(os.Getenv("CONSENTREC_CRASH_STOP_AT"), 64)
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	st, err := recorder.NewFileStore(dir)
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

func crashOnce(t *testing.T, stopAt string, killAfter float64) (recorder.Meta, float64, string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), "CONSENTREC_CRASH_DIR="+dir, "CONSENTREC_CRASH_STOP_AT="+stopAt)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
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
	st, err := recorder.NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := st.List(context.Background())
	if len(ms) != 1 || ms[0].State != recorder.StateRecording {
		t.Fatalf("after the kill: %+v", ms)
	}
	ev := &events{}
	rec, err := recorder.Recover(context.Background(), st, ev)
	if err != nil || len(rec) != 1 {
		t.Fatalf("Recover: %+v, %v", rec, err)
	}
	m := rec[0]
	if !m.Recovered || m.State != recorder.StateFinalized || m.SHA256 == "" {
		t.Errorf("recovered meta %+v", m)
	}
	if f := ev.of(audit.KindRecordingFinalized); len(f) != 1 || f[0].SHA256 != m.SHA256 || f[0].Reason != "recovered" {
		t.Errorf("finalized events %+v", f)
	}
	rc, err := st.Open(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Open recovered: %v", err)
	}
	rc.Close()
	return m, reached, filepath.Join(dir, m.ID+".opus")
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv("CONSENTREC_CRASH_DIR") != "" {
		t.Skip("child")
	}
	t.Run("KilledWhileWaiting", func(t *testing.T) {
		// The recorder is alive, mid-call, with audio in its buffers: the
		// kill must lose at most about a second of it.
		m, reached, path := crashOnce(t, "3.37", 3.37)
		lost := time.Duration(reached*float64(time.Second)) - m.Duration
		t.Logf("killed at %.3f s of audio; recovered %v; lost %v", reached, m.Duration, lost)
		if lost < 0 || lost > time.Second+recorder.DefaultReorderWindow+20*time.Millisecond {
			t.Errorf("lost %v of audio, want at most about 1 s", lost)
		}
		checkRecovered(t, path, m)
	})
	t.Run("KilledWhileWriting", func(t *testing.T) {
		// Killed at full speed: the last page may be torn.
		m, reached, path := crashOnce(t, "", 5)
		t.Logf("killed after %.3f s of audio; recovered %v", reached, m.Duration)
		if m.Duration < time.Duration(reached*float64(time.Second))-time.Second-recorder.DefaultReorderWindow-20*time.Millisecond {
			t.Errorf("recovered %v, reached %.3f s", m.Duration, reached)
		}
		checkRecovered(t, path, m)
	})
}

func checkRecovered(t *testing.T, path string, m recorder.Meta) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := recorder.Inspect(f)
	f.Close()
	if err != nil || !in.EOS || in.Channels != 2 || in.Duration != m.Duration || in.SHA256 != m.SHA256 {
		t.Fatalf("inspect recovered: %+v, %v", in, err)
	}
	info := opusinfo(t, path)
	if d := opusinfoLength(t, info) - m.Duration; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("opusinfo length %v, meta %v", opusinfoLength(t, info), m.Duration)
	}
	ffmpegDecode(t, path)
	if w := opusdec(t, path); w.channels != 2 || w.duration() < m.Duration-time.Millisecond {
		t.Errorf("opusdec: %d channels, %v", w.channels, w.duration())
	}
}
