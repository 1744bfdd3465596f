package consentrec_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
	"github.com/pion/rtp"
)

const chaosCaller = "+33 1 99 88 77 66"

func chaosOptions(t testing.TB) consentrec.Options {
	prompt, err := notice.BeepPrompt(440, 60*time.Millisecond) // a short notice keeps each run short
	if err != nil {
		t.Fatal(err)
	}
	lib := &notice.Library{Fallback: "en"}
	lib.Add("en", policy.ProfileUnknown, prompt)
	return consentrec.Options{
		Policy: &policy.Policy{Name: "chaos", Profile: policy.ProfileFR,
			Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent, Retention: policy.Days(30)}}},
		Notices: lib, Announcements: lib,
	}
}

// TestChaosChild is the host process the chaos test kills: it opens the
// Service on CONSENTREC_CHAOS_DIR, records calls one after the other (notice,
// the agent's start, 20 ms packets on both legs, sometimes a card-data
// pause, hang-up), and prints the audit log's size after each acknowledged
// step ("acked N") until it is killed.
func TestChaosChild(t *testing.T) {
	root := os.Getenv("CONSENTREC_CHAOS_DIR")
	if root == "" {
		t.Skip("only run as the chaos test's child process")
	}
	ctx := context.Background()
	svc, err := consentrec.Open(ctx, consentrec.DataDir{Root: root}, chaosOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	ack := func() { fmt.Printf("acked %d\n", svc.Log().Size()) }
	payload := []byte{0xf8, 0xff, 0xfe}
	for n := 0; ; n++ {
		c, err := svc.Call(ctx, policy.CallInfo{ID: fmt.Sprintf("chaos-%d-%d", os.Getpid(), n), Agent: "agent-1"},
			consentrec.CallOptions{Caller: chaosCaller})
		if err != nil {
			t.Fatal(err)
		}
		c.Output(notice.PartyCaller, notice.FrameSinkFunc(func(notice.Frame) error { return nil }), notice.CodecPCMU)
		if _, err := c.Inform(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AgentStart(ctx, "agent-1", ""); err != nil {
			t.Fatal(err)
		}
		ack()
		for i := 0; i < 30; i++ {
			for j, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
				c.WriteRTP(role, &rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: uint32(j + 1)}, Payload: payload})
			}
			if i == 10 && n%2 == 0 {
				c.Pause(ctx, "card-data", "agent-1")
				ack()
			}
			if i == 20 && n%2 == 0 {
				c.Resume(ctx, "agent-1")
				ack()
			}
			// Paces the child as a real peer sends (20 ms a packet, on the
			// wall clock the recorder reads): it is not a test's wait; the
			// parent kills it wherever it is.
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		ack()
	}
}

// A host killed (SIGKILL) at random while recording, 20 times: after each
// kill, Open recovers and catalogues what was being recorded; no recording
// is ever outside the catalog, no acknowledged audit entry is lost, the
// audit log verifies; and at the end every recording of the caller is
// erased with the caller, and nothing is left to sweep.
func TestChaosKillRecoverSweepErase(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 20 child processes")
	}
	runs := 20
	if s := os.Getenv("CONSENTREC_CHAOS_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	root := t.TempDir()
	dir := consentrec.DataDir{Root: root}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	recovered := map[string]bool{}
	for run := range runs {
		acked := chaosKill(t, root, 1+rng.IntN(6))
		svc, err := consentrec.Open(ctx, dir, chaosOptions(t)) // recovers and catalogues
		if err != nil {
			t.Fatalf("run %d: open after kill: %v", run, err)
		}
		if got := svc.Log().Size(); got < acked {
			t.Fatalf("run %d: audit log has %d entries, %d were acknowledged", run, got, acked)
		}
		metas, err := svc.Store().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			if m.State != recorder.StateFinalized {
				t.Fatalf("run %d: %s left unfinalized after Open", run, m.ID)
			}
			r, err := svc.Catalog().Get(ctx, m.ID)
			if err != nil {
				t.Fatalf("run %d: %s is outside the catalog: %v", run, m.ID, err)
			}
			if r.Subject != svc.SubjectKey(chaosCaller) || r.Deadline.IsZero() || r.LawfulBasis == "" {
				t.Fatalf("run %d: %s catalogued without its subject or deadline: %+v", run, m.ID, r)
			}
			if m.Recovered {
				recovered[m.ID] = true
			}
		}
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.VerifyDir(ctx, root, nil); err != nil {
			t.Fatalf("run %d: audit verify: %v", run, err)
		}
	}
	if len(recovered) == 0 {
		t.Fatal("no kill ever interrupted a recording: the test proves nothing")
	}
	t.Logf("%d runs, %d recordings recovered by crash recovery", runs, len(recovered))

	svc, err := consentrec.Open(ctx, dir, chaosOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	n, _ := svc.Catalog().Count(ctx)
	subj := &retention.Subjects{Catalog: svc.Catalog(), Store: svc.Store(), Audit: svc.Log(), Authorizer: &retentiontest.Authorizer{}}
	rep, err := subj.Erase(ctx, retention.Request{Subject: svc.SubjectKey(chaosCaller), Handler: "dpo", Reference: "chaos"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Erased) != n || len(rep.Refused) != 0 {
		t.Fatalf("erased %d of %d recordings (refused %d)", len(rep.Erased), n, len(rep.Refused))
	}
	if left, _ := svc.Store().List(ctx); len(left) != 0 {
		t.Fatalf("%d recordings left after the caller's erasure", len(left))
	}
	sw := &retention.Sweeper{Catalog: svc.Catalog(), Store: svc.Store(), Audit: svc.Log()}
	if r, err := sw.Sweep(ctx, time.Now().AddDate(0, 2, 0)); err != nil || r.Scanned != 0 {
		t.Fatalf("sweep after erasure: %+v %v", r, err)
	}
}

// A recording killed mid-call, recovered by Open, is swept at its deadline
// like any other.
func TestRecoveredRecordingIsSwept(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	root := t.TempDir()
	ctx := context.Background()
	chaosKill(t, root, 3)
	svc, err := consentrec.Open(ctx, consentrec.DataDir{Root: root}, chaosOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	metas, _ := svc.Store().List(ctx)
	var last time.Time
	recovered := false
	for _, m := range metas {
		r, err := svc.Catalog().Get(ctx, m.ID)
		if err != nil {
			t.Fatalf("%s outside the catalog: %v", m.ID, err)
		}
		if r.Deadline.After(last) {
			last = r.Deadline
		}
		recovered = recovered || m.Recovered
	}
	if !recovered {
		t.Skip("the kill fell between two calls; TestChaosKillRecoverSweepErase covers many kills")
	}
	sw := &retention.Sweeper{Catalog: svc.Catalog(), Store: svc.Store(), Audit: svc.Log()}
	if _, err := sw.Sweep(ctx, last.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if left, _ := svc.Store().List(ctx); len(left) == 0 {
		t.Fatal("a sweep before the deadline deleted everything")
	}
	r, err := sw.Sweep(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := svc.Store().List(ctx); len(left) != 0 {
		t.Fatalf("%d recordings left after the sweep at the deadline (deleted %d)", len(left), len(r.Deleted))
	}
}

// chaosKill runs the child on root until it acknowledged at least after
// steps, SIGKILLs it and returns the audit size it last acknowledged.
func chaosKill(t *testing.T, root string, after int) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChaosChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), "CONSENTREC_CHAOS_DIR="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked uint64
	steps := 0
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.ParseUint(s, 10, 64)
			if steps++; steps >= after {
				break
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if steps < after {
		t.Fatalf("the child stopped after %d steps, before the kill", steps)
	}
	return acked
}
