package consentrec_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/consentrec/consentrec/retention"
	"github.com/pion/rtp"
)

// harness is a Service on the in-memory fakes, inside a synctest bubble.
type harness struct {
	t     *testing.T
	svc   *consentrec.Service
	log   *audittest.MemLog
	store *recordertest.MemStore
	cat   *retention.MemCatalog
}

func newHarness(t *testing.T, p *policy.Policy, keys notice.Keys) *harness {
	t.Helper()
	h := &harness{t: t, log: audittest.NewLog("test/log", nil), store: &recordertest.MemStore{}, cat: retention.NewMemCatalog()}
	svc, err := consentrec.Open(t.Context(), consentrec.DataDir{}, consentrec.Options{
		Policy: p, Key: []byte("0123456789abcdef0123456789abcdef"), Counter: &policy.MemCounter{},
		Log: h.log, Store: h.store, Catalog: h.cat, SubjectSecret: []byte("subject-secret-0123456789"),
		Keys: keys, MaxPause: 3 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	t.Cleanup(func() { svc.Close() })
	return h
}

// agentPolicy lets the agent record for quality (FR unless profile is set).
func agentPolicy(profile policy.Profile) *policy.Policy {
	return &policy.Policy{Name: "test", Profile: profile, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent, Retention: policy.Days(30)}}}
}

// media sends 20 ms Opus packets on both legs until stop is closed, and
// keys (RFC 4733, PT 101) on the customer leg when asked.
type media struct {
	c    *consentrec.Call
	stop chan struct{}
	keys chan byte
	wg   sync.WaitGroup
}

func startMedia(c *consentrec.Call) *media {
	m := &media{c: c, stop: make(chan struct{}), keys: make(chan byte, 4)}
	c.Leg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
	c.Leg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var seq uint16
		var ts uint32
		for {
			select {
			case <-m.stop:
				return
			case k := <-m.keys:
				// A key of 100 ms: three packets, the last one ends it.
				for i, end := range []bool{false, false, true} {
					pl := []byte{k, 10, 0, byte(8 * (i + 1))}
					if end {
						pl[1] |= 0x80
					}
					c.WriteRTP(recorder.Customer, &rtp.Packet{Header: rtp.Header{PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 1}, Payload: pl})
					seq++
				}
			case <-tick.C:
				for i, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
					c.WriteRTP(role, &rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(1 + i)},
						Payload: []byte{0xf8, 0xff, 0xfe}})
				}
				seq++
				ts += 960
			}
		}
	}()
	return m
}

func (m *media) key(k byte) {
	m.keys <- k
	time.Sleep(200 * time.Millisecond)
	synctest.Wait()
}

func (m *media) close() { close(m.stop); m.wg.Wait() }

func kinds(log *audittest.MemLog, k audit.Kind) int { return len(log.OfKind(k)) }

func TestCallRecordsAfterNoticeWithCardDataPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, agentPolicy(policy.ProfileFR), notice.Keys{})
		ctx := context.Background()
		c, err := h.svc.Call(ctx, policy.CallInfo{ID: "call-1", Agent: "agent-7"}, consentrec.CallOptions{Language: "fr", Caller: "+33 1 23 45 67 89"})
		if err != nil {
			t.Fatal(err)
		}
		caller := &noticetest.Sink{}
		if err := c.Output(notice.PartyCaller, caller, notice.CodecPCMU); err != nil {
			t.Fatal(err)
		}
		m := startMedia(c)
		if _, err := c.Inform(ctx); err != nil {
			t.Fatal(err)
		}
		if c.Recording() {
			t.Fatal("recording before the agent started it")
		}
		if _, err := c.AgentStart(ctx, "agent-7", ""); err != nil {
			t.Fatal(err)
		}
		if !c.Recording() {
			t.Fatal("not recording after the agent's start and the announcement")
		}
		time.Sleep(2 * time.Second)
		if err := c.Pause(ctx, "card-data", "agent-7"); err != nil {
			t.Fatal(err)
		}
		answers := kinds(h.log, audit.KindObjection)
		m.key(9) // a card digit 9: no objection, not logged
		time.Sleep(1500 * time.Millisecond)
		if err := c.Resume(ctx, "agent-7"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		m.close()
		res, err := c.Hangup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if kinds(h.log, audit.KindObjection) != answers || c.Decision().Purge {
			t.Fatal("a 9 typed during the card-data pause became an objection")
		}
		for _, e := range h.log.Events() {
			for _, a := range e.Attrs {
				if e.Kind != audit.KindRecordingPaused && strings.Contains(a.Value, "9") && a.Key == "key" {
					t.Fatalf("a card digit reached the log: %+v", e)
				}
			}
		}
		if len(res.Recordings) != 1 {
			t.Fatalf("kept %d recordings, want 1", len(res.Recordings))
		}
		r := res.Recordings[0]
		if r.Purpose != policy.Quality || r.LawfulBasis != "6(1)(f) legitimate interests" || r.Subject != h.svc.SubjectKey("+33123456789") {
			t.Fatalf("catalogued %+v", r)
		}
		if got, _ := h.cat.Get(ctx, r.ID); got.ID != r.ID {
			t.Fatal("not in the catalog")
		}
		var pause retention.Gap
		for _, g := range r.Gaps {
			if strings.HasPrefix(g.Reason, "pause") {
				pause = g
			}
		}
		if pause.Actor != "agent-7" || pause.Note != "card-data" {
			t.Fatalf("pause in the catalogue without actor and note: %+v", r.Gaps)
		}
		// The gap index and the audit log tell the same pause, to a frame.
		meta, _ := h.store.Stat(ctx, r.ID)
		paused, resumed := h.log.OfKind(audit.KindRecordingPaused), h.log.OfKind(audit.KindRecordingResumed)
		if len(paused) != 1 || len(resumed) != 1 {
			t.Fatalf("%d paused and %d resumed events", len(paused), len(resumed))
		}
		start, end := paused[0].Time.Sub(meta.Created), resumed[0].Time.Sub(meta.Created)
		if d := absDur(start - pause.Start); d > recorder.SlotDuration {
			t.Fatalf("pause starts at %v in the log, %v in the gap index", start, pause.Start)
		}
		if d := absDur((end - start) - (pause.End - pause.Start)); d > recorder.SlotDuration {
			t.Fatalf("pause lasts %v in the log, %v in the gap index", end-start, pause.End-pause.Start)
		}
		if kinds(h.log, audit.KindRecordingCatalogued) != 1 {
			t.Fatal("the cataloguing was not audited")
		}
		// Hangup is idempotent; nothing can be attached after it.
		res2, err2 := c.Hangup(ctx)
		if err2 != nil || len(res2.Recordings) != 1 || res2.Recordings[0].ID != r.ID {
			t.Fatalf("second hangup: %+v %v", res2, err2)
		}
		if err := c.WriteRTP(recorder.Customer, &rtp.Packet{}); !errors.Is(err, consentrec.ErrCallEnded) {
			t.Fatalf("a leg after hang-up: %v", err)
		}
		if err := c.Pause(ctx, "x", "y"); !errors.Is(err, consentrec.ErrCallEnded) {
			t.Fatalf("pause after hang-up: %v", err)
		}
	})
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestCallObjectionDuringNoticeRecordsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &policy.Policy{Name: "sampling", Profile: policy.ProfileFR, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeSampling, Rate: 0.1}}}
		h := newHarness(t, p, notice.Keys{})
		ctx := context.Background()
		id := policytest.SelectedCallID(t, h.svc.Engine(), "call-")
		c, err := h.svc.Call(ctx, policy.CallInfo{ID: id, Agent: "a1"})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Decision().Record {
			t.Fatal("the selected call is not selected")
		}
		c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMA)
		m := startMedia(c)
		done := make(chan notice.Receipt)
		go func() {
			r, err := c.Inform(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		time.Sleep(time.Second)
		m.key(9)
		r := <-done
		if r.Completed() || r.Interrupted != notice.InterruptObjected {
			t.Fatalf("notice receipt %+v, want interrupted by the objection", r)
		}
		time.Sleep(time.Second)
		m.close()
		res, err := c.Hangup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Recordings) != 0 || kinds(h.log, audit.KindRecordingStarted) != 0 {
			t.Fatal("an objector was recorded")
		}
		if kinds(h.log, audit.KindObjection) != 1 {
			t.Fatal("the objection was not audited")
		}
	})
}

func TestCallObjectionMidCallPurges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, agentPolicy(policy.ProfileFR), notice.Keys{})
		ctx := context.Background()
		c, _ := h.svc.Call(ctx, policy.CallInfo{ID: "call-2", Agent: "a"})
		c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMU)
		m := startMedia(c)
		c.Inform(ctx)
		if _, err := c.AgentStart(ctx, "a", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		m.key(9)
		if c.Recording() {
			t.Fatal("still recording after the objection")
		}
		m.close()
		res, err := c.Hangup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Purged || len(res.Recordings) != 0 {
			t.Fatalf("result %+v, want purged", res)
		}
		if ms, _ := h.store.List(ctx); len(ms) != 0 {
			t.Fatalf("%d files left after the purge", len(ms))
		}
		if kinds(h.log, audit.KindRecordingPurged) == 0 {
			t.Fatal("purge not audited")
		}
	})
}

func TestCallGermanOptIn(t *testing.T) {
	for _, consent := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-consent", true: "consent"}[consent], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, agentPolicy(policy.ProfileDE), notice.Keys{Consent: '1'})
				ctx := context.Background()
				c, _ := h.svc.Call(ctx, policy.CallInfo{ID: "de-1", Agent: "a"}, consentrec.CallOptions{Language: "de"})
				c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMA)
				m := startMedia(c)
				if _, err := c.Inform(ctx); err != nil {
					t.Fatal(err)
				}
				// The agent's consent does not stand for the caller's.
				if _, err := c.AgentStart(ctx, "a", ""); err != nil && consent {
					t.Fatal(err)
				}
				if c.Recording() {
					t.Fatal("recording without the caller's consent")
				}
				if consent {
					m.key(1)
				}
				time.Sleep(time.Second)
				m.close()
				res, err := c.Hangup(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !consent {
					if len(res.Recordings) != 0 {
						t.Fatal("DE call recorded without consent")
					}
					return
				}
				if len(res.Recordings) != 1 || res.Recordings[0].LawfulBasis != retention.ConsentBasis {
					t.Fatalf("DE call with consent: %+v", res.Recordings)
				}
			})
		})
	}
}

func TestCallNotSelected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &policy.Policy{Name: "sampling", Profile: policy.ProfileFR, Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeSampling, Rate: 0.1}}}
		h := newHarness(t, p, notice.Keys{})
		ctx := context.Background()
		c, err := h.svc.Call(ctx, policy.CallInfo{ID: policytest.UnselectedCallID(t, h.svc.Engine(), "call-"), Agent: "a"})
		if err != nil {
			t.Fatal(err)
		}
		c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMA)
		m := startMedia(c)
		r, err := c.Inform(ctx)
		if err != nil || !r.Start.IsZero() {
			t.Fatalf("a call that cannot be recorded was given a notice: %+v %v", r, err)
		}
		m.key(5)
		m.close()
		res, err := c.Hangup(ctx)
		if err != nil || len(res.Recordings) != 0 || kinds(h.log, audit.KindRecordingStarted) != 0 {
			t.Fatalf("not-selected call: %+v %v", res, err)
		}
		if kinds(h.log, audit.KindPolicyDecision) == 0 {
			t.Fatal("the decision was not audited")
		}
	})
}

func TestCallBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, agentPolicy(policy.ProfileFR), notice.Keys{})
		ctx := context.Background()
		for _, info := range []policy.CallInfo{{ID: ""}, {ID: strings.Repeat("x", 1025)}, {ID: "ok", Agent: strings.Repeat("a", 2000)}} {
			if _, err := h.svc.Call(ctx, info); !errors.Is(err, recorder.ErrConfig) {
				t.Fatalf("call %.20q: %v, want recorder.ErrConfig", info.ID, err)
			}
		}
		if _, err := h.svc.Call(ctx, policy.CallInfo{ID: "ok"}, consentrec.CallOptions{Language: "<script>"}); !errors.Is(err, recorder.ErrConfig) {
			t.Fatalf("bad language: %v", err)
		}
		c, err := h.svc.Call(ctx, policy.CallInfo{ID: "dup"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Call(ctx, policy.CallInfo{ID: "dup"}); !errors.Is(err, recorder.ErrConfig) {
			t.Fatalf("duplicate call id: %v", err)
		}
		if _, err := c.Inform(ctx); !errors.Is(err, consentrec.ErrNoOutput) {
			t.Fatalf("inform without an output for the caller: %v", err)
		}
		c.Hangup(ctx)
		if err := h.svc.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Call(ctx, policy.CallInfo{ID: "late"}); !errors.Is(err, consentrec.ErrClosed) {
			t.Fatalf("call after shutdown: %v", err)
		}
	})
}

// A recording started mid-call is announced to the caller and, when the
// agent has an output, to the agent too; capture waits for both receipts.
func TestAgentStartAnnouncedToBothParties(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, agentPolicy(policy.ProfileFR), notice.Keys{})
		ctx := context.Background()
		c, _ := h.svc.Call(ctx, policy.CallInfo{ID: "call-3", Agent: "a"})
		caller, agent := &noticetest.Sink{}, &noticetest.Sink{}
		c.Output(notice.PartyCaller, caller, notice.CodecPCMU)
		c.Output(notice.PartyAgent, agent, notice.CodecPCMA)
		m := startMedia(c)
		c.Inform(ctx)
		before := caller.Len()
		if _, err := c.AgentStart(ctx, "a", ""); err != nil {
			t.Fatal(err)
		}
		if !c.Recording() || caller.Len() == before || agent.Len() == 0 {
			t.Fatalf("recording %v, caller frames %d->%d, agent frames %d", c.Recording(), before, caller.Len(), agent.Len())
		}
		parties := map[string]bool{}
		for _, e := range h.log.OfKind(audit.KindNoticePlayed) {
			for _, a := range e.Attrs {
				if a.Key == "party" {
					parties[a.Value] = true
				}
			}
		}
		if !parties["agent"] || !parties["caller"] {
			t.Fatalf("receipts for %v, want caller and agent", parties)
		}
		m.close()
		c.Hangup(ctx)
	})
}

func TestMaxPauseBounded(t *testing.T) {
	_, err := consentrec.Open(t.Context(), consentrec.DataDir{Root: t.TempDir()}, consentrec.Options{MaxPause: 11 * time.Minute})
	if !errors.Is(err, recorder.ErrConfig) {
		t.Fatalf("MaxPause of 11 min: %v, want recorder.ErrConfig (R22)", err)
	}
}

// R19: with an employee notice in force, a call whose agent has not
// acknowledged it is never recorded; an informed agent's call is.
func TestUninformedAgentIsNotRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		acks := &policytest.AgentNotices{}
		acks.Acknowledge(ctx, policy.Ack{Agent: "informed", Version: "notice-v2", At: time.Now(), By: "hr"})
		acks.Acknowledge(ctx, policy.Ack{Agent: "stale", Version: "notice-v1", At: time.Now(), By: "hr"})
		svc, err := consentrec.Open(ctx, consentrec.DataDir{}, consentrec.Options{Policy: agentPolicy(policy.ProfileFR),
			Key: []byte("0123456789abcdef0123456789abcdef"), Log: audittest.NewLog("r19", nil), Store: &recordertest.MemStore{},
			Catalog: retention.NewMemCatalog(), SubjectSecret: []byte("s"), AgentNoticeVersion: "notice-v2", AgentNotices: acks})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		for _, agent := range []string{"informed", "stale", "unknown"} {
			c, err := svc.Call(ctx, policy.CallInfo{ID: "call-" + agent, Agent: agent})
			if err != nil {
				t.Fatal(err)
			}
			c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMU)
			c.Inform(ctx)
			_, err = c.AgentStart(ctx, agent, "")
			if agent == "informed" {
				if err != nil || !c.Recording() {
					t.Fatalf("informed agent: %v, recording %v", err, c.Recording())
				}
			} else if err == nil || c.Recording() || c.Decision().Reason != policy.ReasonAgentNotInformed {
				t.Fatalf("agent %s: %v, recording %v, reason %s", agent, err, c.Recording(), c.Decision().Reason)
			}
			c.Hangup(ctx)
		}
	})
}
