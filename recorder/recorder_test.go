package recorder_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

type callResult struct {
	meta  recorder.Meta
	data  []byte
	ev    *events
	stats [2]recorder.LegStats
}

// hardCall records a 10 s call in a synctest bubble: customer speech from
// 0.5 s, agent 1 kHz tone from 1 s, 10% loss and up to 40 ms of jitter
// (reordering) on both legs, 1 s of DTX on the agent and a 2 s pause.
func hardCall(t *testing.T, layout recorder.Layout) []callResult {
	return hardCallLoss(t, layout, 0.1)
}

func hardCallLoss(t *testing.T, layout recorder.Layout, loss float64) []callResult {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	var out []callResult
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		ev := &events{}
		rec, err := recorder.New(recorder.Config{
			CallID: "call-42", Purpose: policy.Quality, PolicyVersion: "pv-1", Layout: layout,
			Store: store, Audit: ev,
		})
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		agent, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-7"); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		evs := legPlan{leg: cust, packets: speech, start: 500 * time.Millisecond, loss: loss,
			jitter: 40 * time.Millisecond, ssrc: 0x1111, tsBase: 0xFFFF0000, seqBase: 65500}.events(rng)
		evs = append(evs, legPlan{leg: agent, packets: tone, start: time.Second, loss: loss,
			jitter: 40 * time.Millisecond, dtxFrom: 100, dtxTo: 150, ssrc: 0x2222, tsBase: 12345}.events(rng)...)
		evs = append(evs,
			simEvent{at: 4 * time.Second, fn: func() {
				if err := rec.Pause(ctx, "card-data", "agent-7"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 6 * time.Second, fn: func() {
				if err := rec.Resume(ctx, "agent-7"); err != nil {
					t.Error(err)
				}
			}},
			simEvent{at: 10 * time.Second, fn: func() {}},
		)
		run(t, evs)
		stats := [2]recorder.LegStats{cust.Stats(), agent.Stats()}
		metas, err := rec.Stop(ctx, "agent-7")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			out = append(out, callResult{meta: m, data: store.Bytes(m.ID), ev: ev, stats: stats})
		}
	})
	return out
}

func hasGap(gaps []recorder.Gap, leg recorder.Role, reason recorder.GapReason) *recorder.Gap {
	for i, g := range gaps {
		if g.Leg == leg && g.Reason == reason {
			return &gaps[i]
		}
	}
	return nil
}

func TestDualChannelCall(t *testing.T) {
	res := hardCall(t, recorder.LayoutDual)
	if len(res) != 1 {
		t.Fatalf("%d files, want 1", len(res))
	}
	r := res[0]
	m := r.meta
	const call = 10 * time.Second
	t.Logf("meta: duration %v, %d gaps, legs %+v", m.Duration, len(m.Gaps), m.Legs)
	if d := m.Duration - call; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("meta duration %v, call %v", m.Duration, call)
	}
	// The gap index.
	p := hasGap(m.Gaps, "", recorder.GapPause)
	if p == nil || p.Start != 4*time.Second || p.End != 6*time.Second || p.Actor != "agent-7" || p.Note != "card-data" {
		t.Errorf("pause gap = %+v", p)
	}
	if g := hasGap(m.Gaps, recorder.Customer, recorder.GapNotStarted); g == nil || g.Start != 0 || g.End < 480*time.Millisecond || g.End > 560*time.Millisecond {
		t.Errorf("customer not-started gap = %+v", g)
	}
	if g := hasGap(m.Gaps, recorder.Agent, recorder.GapNotStarted); g == nil || g.End < 980*time.Millisecond || g.End > 1060*time.Millisecond {
		t.Errorf("agent not-started gap = %+v", g)
	}
	if hasGap(m.Gaps, recorder.Customer, recorder.GapLoss) == nil || hasGap(m.Gaps, recorder.Agent, recorder.GapLoss) == nil {
		t.Errorf("no loss gaps: %+v", m.Gaps)
	}
	// Agent DTX: packets 100-149, sent from 3 s to 4 s.
	if g := hasGap(m.Gaps, recorder.Agent, recorder.GapDTX); g == nil || g.Start < 2980*time.Millisecond || g.Start > 3100*time.Millisecond {
		t.Errorf("agent DTX gap = %+v (gaps %+v)", g, m.Gaps)
	}
	if g := hasGap(m.Gaps, recorder.Customer, recorder.GapEnded); g == nil || g.End != m.Duration+6500*time.Microsecond {
		t.Errorf("customer ended gap = %+v", g)
	}
	for _, l := range m.Legs {
		if l.Packets < 100 || l.Lost == 0 {
			t.Errorf("leg stats %+v", l)
		}
	}
	// The audit trail.
	want := []audit.Kind{audit.KindRecordingStarted, audit.KindRecordingPaused, audit.KindRecordingResumed,
		audit.KindRecordingStopped, audit.KindRecordingFinalized}
	if got := r.ev.kinds(); !equalKinds(got, want) {
		t.Errorf("audit kinds %v, want %v", got, want)
	}
	fin := r.ev.of(audit.KindRecordingFinalized)
	if len(fin) != 1 || fin[0].SHA256 != m.SHA256 || fin[0].RecordingID != m.ID || fin[0].Purpose != "quality" {
		t.Errorf("finalized event %+v", fin)
	}
	if pe := r.ev.of(audit.KindRecordingPaused); len(pe) != 1 || pe[0].Reason != "card-data" || pe[0].Actor != "agent-7" {
		t.Errorf("paused event %+v", pe)
	}

	// Our own reader.
	in, err := recorder.Inspect(bytesReader(r.data))
	if err != nil {
		t.Fatal(err)
	}
	if in.Channels != 2 || in.Streams != 2 || in.Coupled != 0 || in.Family != 1 || in.PreSkip != 312 || !in.EOS {
		t.Errorf("inspect %+v", in)
	}
	if in.Tag("LEFT") != "customer" || in.Tag("RIGHT") != "agent" || in.Tag("CONSENTREC_CALL_ID") != "call-42" ||
		in.Tag("CONSENTREC_PURPOSE") != "quality" || in.SHA256 != m.SHA256 || in.Duration != m.Duration || in.Mismatched != 0 {
		t.Errorf("inspect %+v", in)
	}
	overhead := float64(in.Size-in.PayloadBytes) / float64(in.PayloadBytes)
	t.Logf("container overhead %.2f%% of %d payload bytes", 100*overhead, in.PayloadBytes)

	// Real decoders.
	path := writeTemp(t, "call.opus", r.data)
	info := opusinfo(t, path)
	t.Logf("opusinfo:\n%s", info)
	if !containsAll(info, "Channels: 2", "Streams: 2, Coupled: 0", "Channel Mapping Family: 1 Map: [0, 1]", "Pre-skip: 312", "LEFT=customer", "RIGHT=agent") {
		t.Errorf("opusinfo output lacks the dual layout:\n%s", info)
	}
	if d := opusinfoLength(t, info) - call; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("opusinfo playback length %v, call %v", opusinfoLength(t, info), call)
	}
	ch, layout, dur := ffprobe(t, path)
	if ch != 2 || layout != "stereo" {
		t.Errorf("ffprobe: %d channels, layout %q", ch, layout)
	}
	if d := dur - call; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("ffprobe duration %v, call %v", dur, call)
	}
	ffmpegDecode(t, path)
	w := opusdec(t, path)
	if w.channels != 2 {
		t.Fatalf("opusdec: %d channels", w.channels)
	}
	if d := w.duration() - call; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("opusdec decoded %v, call %v", w.duration(), call)
	}
	// Left is the customer's speech, right the agent's 1 kHz tone: compare
	// a stretch where both talk (1.5 s to 3 s).
	l, rr := span(w, 0, 1500*time.Millisecond, 3*time.Second), span(w, 1, 1500*time.Millisecond, 3*time.Second)
	l1k, r1k := goertzel(l, w.rate, 1000), goertzel(rr, w.rate, 1000)
	t.Logf("left: rms %.4f, 1 kHz %.4f; right: rms %.4f, 1 kHz %.4f", rms(l), l1k, rms(rr), r1k)
	if r1k < 0.15 || rms(rr) < 0.1 {
		t.Errorf("right channel lacks the agent's tone: 1 kHz amplitude %.4f", r1k)
	}
	if rms(l) < 0.02 || l1k > r1k/10 {
		t.Errorf("left channel is not the customer's speech: rms %.4f, 1 kHz %.4f", rms(l), l1k)
	}
	// The pause is digital silence on both channels (after a 20 ms margin
	// for the last concealed frame).
	// (Decoded time is file time minus the 6.5 ms pre-skip.)
	for c := range 2 {
		if v := rms(span(w, c, 4100*time.Millisecond, 5990*time.Millisecond)); v > 1e-4 {
			t.Errorf("channel %d not silent during the pause: rms %g", c, v)
		}
	}
	// Before the legs start: silence.
	if v := rms(span(w, 1, 0, 900*time.Millisecond)); v > 1e-4 {
		t.Errorf("right channel not silent before the agent started: %g", v)
	}
}

func equalKinds(a, b []audit.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMonoLayoutCall(t *testing.T) {
	res := hardCall(t, recorder.LayoutMono)
	if len(res) != 2 {
		t.Fatalf("%d files, want 2", len(res))
	}
	for i, r := range res {
		role := []recorder.Role{recorder.Customer, recorder.Agent}[i]
		if len(r.meta.Channels) != 1 || r.meta.Channels[0] != role || r.meta.Group == "" {
			t.Errorf("file %d meta %+v", i, r.meta)
		}
		if hasGap(r.meta.Gaps, "", recorder.GapPause) == nil {
			t.Errorf("%s file: no pause gap", role)
		}
		for _, g := range r.meta.Gaps {
			if g.Leg != "" && g.Leg != role {
				t.Errorf("%s file has a gap of %s", role, g.Leg)
			}
		}
		path := writeTemp(t, string(role)+".opus", r.data)
		info := opusinfo(t, path)
		if !containsAll(info, "Channels: 1", "LEG="+string(role)) {
			t.Errorf("opusinfo:\n%s", info)
		}
		ffmpegDecode(t, path)
		w := opusdec(t, path)
		if d := w.duration() - 10*time.Second; w.channels != 1 || d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("%s: %d channels, %v", role, w.channels, w.duration())
		}
		seg := span(w, 0, 1500*time.Millisecond, 3*time.Second)
		k := goertzel(seg, w.rate, 1000)
		if (role == recorder.Agent) != (k > 0.15) {
			t.Errorf("%s file: 1 kHz amplitude %.4f", role, k)
		}
	}
}

func TestStartStopStartAgainAndDiscard(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		ev := &events{}
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.ContractProof, Store: store, Audit: ev})
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer})
		go func() {
			// The customer talks for the whole call; only parts are recorded.
			evs := legPlan{leg: cust, packets: speech, ssrc: 1}.events(rand.New(rand.NewPCG(1, 1)))
			run(t, evs)
		}()
		time.Sleep(time.Second)
		id1, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1"); !errors.Is(err, recorder.ErrState) {
			t.Errorf("second Start: %v", err)
		}
		time.Sleep(2 * time.Second)
		m1, err := rec.Stop(ctx, "agent-1")
		if err != nil || len(m1) != 1 || m1[0].Duration < 1980*time.Millisecond || m1[0].Duration > 2*time.Second {
			t.Fatalf("first Stop: %+v, %v", m1, err)
		}
		if _, err := rec.Stop(ctx, "agent-1"); !errors.Is(err, recorder.ErrState) {
			t.Errorf("Stop when stopped: %v", err)
		}
		time.Sleep(time.Second)
		id2, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1")
		if err != nil || id2 == id1 {
			t.Fatalf("Start again: %q, %v", id2, err)
		}
		time.Sleep(time.Second)
		if ms, _ := store.List(ctx); len(ms) != 2 || ms[0].State == ms[1].State {
			t.Fatalf("store before discard: %+v", ms)
		}
		// The caller objects: everything goes, the partial file included.
		if err := rec.Discard(ctx, "objection", "system"); err != nil {
			t.Fatal(err)
		}
		if ms, _ := store.List(ctx); len(ms) != 0 {
			t.Fatalf("store after discard: %+v", ms)
		}
		if rec.Recording() != "" {
			t.Error("still recording after Discard")
		}
		purged := ev.of(audit.KindRecordingPurged)
		if len(purged) != 2 || purged[0].Reason != "objection" || purged[0].SHA256 != m1[0].SHA256 {
			t.Errorf("purged events %+v", purged)
		}
		time.Sleep(5 * time.Second) // let the sender finish
		if err := rec.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMaxPauseAutoResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		ev := &events{}
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: ev, MaxPause: 3 * time.Second})
		rec.AddLeg(recorder.LegConfig{Role: recorder.Customer})
		rec.Start(ctx, policytest.GrantFor(t, rec), "a")
		time.Sleep(time.Second)
		if err := rec.Pause(ctx, "card", "a"); err != nil {
			t.Fatal(err)
		}
		if err := rec.Pause(ctx, "card", "a"); !errors.Is(err, recorder.ErrState) {
			t.Errorf("Pause while paused: %v", err)
		}
		time.Sleep(2 * time.Second)
		if !rec.Paused() {
			t.Fatal("resumed too early")
		}
		time.Sleep(1500 * time.Millisecond)
		if rec.Paused() {
			t.Fatal("not resumed after MaxPause")
		}
		res := ev.of(audit.KindRecordingResumed)
		if len(res) != 1 || res[0].Actor != "system" || res[0].Reason != "max-pause" {
			t.Errorf("resumed events %+v", res)
		}
		ms, err := rec.Stop(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		g := hasGap(ms[0].Gaps, "", recorder.GapPause)
		if g == nil || g.Start != time.Second || g.End != 4*time.Second {
			t.Errorf("pause gap %+v", g)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	s := &recordertest.MemStore{}
	for _, c := range []recorder.Config{
		{Purpose: policy.Quality, Store: s, Audit: audit.Discard},
		{CallID: "c", Purpose: "marketing", Store: s, Audit: audit.Discard},
		{CallID: "c", Purpose: policy.Quality, Audit: audit.Discard},
		{CallID: "c", Purpose: policy.Quality, Store: s},
		{CallID: "c", Purpose: policy.Quality, Store: s, Audit: audit.Discard, Layout: "quad"},
		{CallID: "c", Purpose: policy.Quality, Store: s, Audit: audit.Discard, ReorderWindow: time.Second},
	} {
		if _, err := recorder.New(c); !errors.Is(err, recorder.ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", c, err)
		}
	}
	rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: s, Audit: audit.Discard})
	if _, err := rec.AddLeg(recorder.LegConfig{Role: "supervisor"}); !errors.Is(err, recorder.ErrConfig) {
		t.Errorf("AddLeg(supervisor): %v", err)
	}
	rec.AddLeg(recorder.LegConfig{Role: recorder.Agent})
	if _, err := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent}); !errors.Is(err, recorder.ErrConfig) {
		t.Errorf("second agent leg: %v", err)
	}
	if err := rec.Pause(t.Context(), "x", "y"); !errors.Is(err, recorder.ErrState) {
		t.Errorf("Pause when idle: %v", err)
	}
}
