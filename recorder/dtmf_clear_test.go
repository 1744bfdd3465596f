package recorder_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func dtmfKey(seq uint16, ts uint32, event byte) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 1},
		Payload: []byte{event, 0x80 | 10, 0, 160}}
}

// R23: without a named reason, OnDTMF never sees which key was pressed,
// recording or not.
func TestDTMFMaskedByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var got []recorder.DTMF
		ev := &events{}
		rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: ev,
			OnDTMF: func(d recorder.DTMF) { got = append(got, d) }})
		if err != nil {
			t.Fatal(err)
		}
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
		leg.WriteRTP(dtmfKey(1, 1000, 4)) // before recording
		rec.Start(ctx, policytest.GrantFor(t, rec), "agent")
		leg.WriteRTP(dtmfKey(2, 2000, 7)) // while recording
		rec.Stop(ctx, "agent")
		if len(got) != 2 {
			t.Fatalf("events %+v", got)
		}
		for _, d := range got {
			if !d.Masked || d.Digit != 0 || d.Event != 0 || !d.End || d.Leg != recorder.Customer {
				t.Errorf("a key reached the host in clear without a reason: %+v", d)
			}
		}
		if n := len(ev.of(audit.KindDTMFClear)); n != 0 {
			t.Errorf("%d clear-DTMF events without clear keys", n)
		}
	})
}

// R23: with a named reason, keys outside pauses reach the host in clear,
// and the call's trail says so once, before the first one.
func TestDTMFClearForANamedReasonIsAuditedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		ev := &events{}
		var got []recorder.DTMF
		rec, err := recorder.New(recorder.Config{CallID: "c-9", Purpose: policy.Quality, PolicyVersion: "pv1:x", Store: &recordertest.MemStore{}, Audit: ev,
			ClearDTMF: "ivr-menu", OnDTMF: func(d recorder.DTMF) {
				if !d.Masked && len(ev.of(audit.KindDTMFClear)) != 1 {
					t.Errorf("key %q delivered in clear before the audit event", d.Digit)
				}
				got = append(got, d)
			}})
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
		agent, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111, DTMFPT: 101})
		id, _ := rec.Start(ctx, policytest.GrantFor(t, rec), "agent")
		cust.WriteRTP(dtmfKey(1, 1000, 1))
		agent.WriteRTP(dtmfKey(1, 1000, 2))
		rec.Pause(ctx, "card-data", "agent")
		cust.WriteRTP(dtmfKey(2, 2000, 4))
		rec.Resume(ctx, "agent")
		cust.WriteRTP(dtmfKey(3, 3000, 11))
		rec.Stop(ctx, "agent")
		var digits strings.Builder
		for _, d := range got {
			if d.Masked {
				digits.WriteByte('x')
			} else {
				digits.WriteRune(d.Digit)
			}
		}
		if digits.String() != "12x#" {
			t.Errorf("keys seen %q, want 12x#", digits.String())
		}
		clear := ev.of(audit.KindDTMFClear)
		if len(clear) != 1 {
			t.Fatalf("%d clear-DTMF events, want 1", len(clear))
		}
		if c := clear[0]; c.Reason != "ivr-menu" || c.CallID != "c-9" || c.RecordingID != id || c.Purpose != "quality" || c.PolicyVersion == "" {
			t.Errorf("clear-DTMF event %+v", c)
		}
	})
}

type failingLog struct {
	mu   sync.Mutex
	fail bool
	ev   []audit.Event
}

func (l *failingLog) Append(_ context.Context, e audit.Event) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail && e.Kind == audit.KindDTMFClear {
		return 0, errors.New("log down")
	}
	l.ev = append(l.ev, e)
	return uint64(len(l.ev)), nil
}

// A key is never handed over in clear without its audit event.
func TestDTMFClearStaysMaskedUntilAudited(t *testing.T) {
	log := &failingLog{fail: true}
	var got []recorder.DTMF
	var errs []error
	rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: log,
		ClearDTMF: "ivr-menu", OnDTMF: func(d recorder.DTMF) { got = append(got, d) }, OnError: func(err error) { errs = append(errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
	leg.WriteRTP(dtmfKey(1, 1000, 3))
	log.mu.Lock()
	log.fail = false
	log.mu.Unlock()
	leg.WriteRTP(dtmfKey(2, 2000, 5))
	leg.WriteRTP(dtmfKey(3, 3000, 6))
	if len(got) != 3 || !got[0].Masked || got[0].Digit != 0 || got[1].Digit != '5' || got[2].Digit != '6' {
		t.Fatalf("keys %+v", got)
	}
	if len(errs) != 1 {
		t.Errorf("OnError got %v, want the one failed append", errs)
	}
	n := 0
	for _, e := range log.ev {
		if e.Kind == audit.KindDTMFClear {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d clear-DTMF events", n)
	}
}

func TestClearDTMFReasonChecked(t *testing.T) {
	for _, reason := range []string{" ", "a\nb", strings.Repeat("x", 65), "\xff"} {
		_, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: audit.Discard, ClearDTMF: reason})
		if !errors.Is(err, recorder.ErrConfig) {
			t.Errorf("ClearDTMF %q: %v, want ErrConfig", reason, err)
		}
	}
}

// R22: a pause always ends, by default after 3 minutes, at most after 10.
func TestMaxPauseBounded(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{-1, false}, {-time.Hour, false}, {0, true}, {time.Second, true}, {10 * time.Minute, true}, {10*time.Minute + 1, false}, {time.Hour, false}} {
		_, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: audit.Discard, MaxPause: tc.d})
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, recorder.ErrConfig)) {
			t.Errorf("MaxPause %v: %v", tc.d, err)
		}
	}
	if recorder.DefaultMaxPause != 3*time.Minute || recorder.MaxMaxPause != 10*time.Minute {
		t.Errorf("DefaultMaxPause %v, MaxMaxPause %v", recorder.DefaultMaxPause, recorder.MaxMaxPause)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		ev := &events{}
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: ev})
		rec.AddLeg(recorder.LegConfig{Role: recorder.Customer})
		rec.Start(ctx, policytest.GrantFor(t, rec), "a")
		if err := rec.Pause(ctx, "card", "a"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Minute - time.Second)
		synctest.Wait()
		if !rec.Paused() {
			t.Fatal("resumed before 3 minutes")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if rec.Paused() {
			t.Fatal("a forgotten pause still on after the default 3 minutes")
		}
		res := ev.of(audit.KindRecordingResumed)
		if len(res) != 1 || res[0].Reason != "max-pause" {
			t.Errorf("resumed events %+v", res)
		}
		rec.Stop(ctx, "a")
	})
}

// The DTMF path stays allocation-free, masked and in clear, once the
// clear-DTMF event is in the log.
func BenchmarkWriteDTMF(b *testing.B) {
	for _, reason := range []string{"", "ivr-menu"} {
		name := "masked"
		if reason != "" {
			name = "clear"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: audit.Discard,
				ClearDTMF: reason, OnDTMF: func(d recorder.DTMF) { n += int(d.Digit) }})
			leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
			p := dtmfKey(0, 0, 5)
			leg.WriteRTP(p)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p.SequenceNumber++
				p.Timestamp += 160
				if err := leg.WriteRTP(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
