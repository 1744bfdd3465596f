package notice_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
)

func TestInputObjection(t *testing.T) {
	var log noticetest.Log
	var got []notice.Answer
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	in := notice.Input{CallID: "c1", Log: &log, Now: func() time.Time { return now },
		Handler: notice.HandlerFunc(func(_ context.Context, a notice.Answer) {
			if len(log.Snapshot()) == 0 {
				t.Error("handler called before the answer was logged")
			}
			got = append(got, a)
		})}
	in.SetPrompt("v1")
	ctx := t.Context()
	for _, k := range "123" { // unmapped keys: nothing
		if a, err := in.Key(ctx, notice.Key(k), notice.MethodRFC4733); a != notice.ActionNone || err != nil {
			t.Fatalf("key %c: %v %v", k, a, err)
		}
	}
	if a, err := in.Key(ctx, '9', notice.MethodInBand); a != notice.ActionObjection || err != nil {
		t.Fatalf("key 9: %v %v", a, err)
	}
	if a, _ := in.Key(ctx, '9', notice.MethodRFC4733); a != notice.ActionNone {
		t.Fatalf("second objection: %v", a)
	}
	if a, _ := in.Object(ctx, notice.MethodSpoken, "agent-7"); a != notice.ActionNone {
		t.Fatalf("objection after objection: %v", a)
	}
	if !in.Objected() || len(got) != 1 {
		t.Fatalf("objected %v, %d answers", in.Objected(), len(got))
	}
	want := notice.Answer{Action: notice.ActionObjection, Key: '9', Method: notice.MethodInBand,
		Party: notice.PartyCaller, Time: now, Version: "v1", Actor: "system"}
	if got[0] != want {
		t.Fatalf("answer %+v, want %+v", got[0], want)
	}
	ev := log.Snapshot()
	if len(ev) != 1 || ev[0].Kind != audit.KindObjection || ev[0].CallID != "c1" ||
		noticetest.Attr(ev[0], "key") != "9" || noticetest.Attr(ev[0], "prompt_version") != "v1" ||
		noticetest.Attr(ev[0], "method") != "dtmf-inband" {
		t.Fatalf("logged %+v", ev)
	}
}

func TestInputConsentThenWithdraw(t *testing.T) {
	var log noticetest.Log
	in := notice.Input{CallID: "c", Log: &log, Keys: notice.Keys{Object: '#', Consent: '1'}}
	ctx := t.Context()
	if a, _ := in.Key(ctx, '9', notice.MethodRFC4733); a != notice.ActionNone {
		t.Fatalf("9 with a custom map: %v", a)
	}
	if a, _ := in.Key(ctx, '1', notice.MethodRFC4733); a != notice.ActionConsent || !in.Consented() {
		t.Fatalf("consent: %v", a)
	}
	if a, _ := in.Key(ctx, '1', notice.MethodRFC4733); a != notice.ActionNone {
		t.Fatalf("repeated consent: %v", a)
	}
	if a, _ := in.Object(ctx, notice.MethodSpoken, "agent-7"); a != notice.ActionObjection || in.Consented() {
		t.Fatalf("withdrawal: %v, consented %v", a, in.Consented())
	}
	k := log.Kinds()
	if len(k) != 2 || k[0] != audit.KindConsentGiven || k[1] != audit.KindObjection {
		t.Fatalf("kinds %v", k)
	}
	if e := log.Snapshot()[1]; e.Actor != "agent-7" || noticetest.Attr(e, "method") != "spoken" || noticetest.Attr(e, "key") != "" {
		t.Fatalf("spoken objection %+v", e)
	}
}

func TestInputZeroKeys(t *testing.T) {
	in := notice.Input{Log: &noticetest.Log{}}
	// No consent key unless one is chosen: '1' means nothing.
	if a, _ := in.Key(t.Context(), '1', notice.MethodRFC4733); a != notice.ActionNone {
		t.Fatalf("1: %v", a)
	}
	if a, _ := in.Key(t.Context(), '9', notice.MethodRFC4733); a != notice.ActionObjection {
		t.Fatalf("9: %v", a)
	}
}

func TestInputLogFailure(t *testing.T) {
	boom := errors.New("disk full")
	told := 0
	h := notice.HandlerFunc(func(context.Context, notice.Answer) { told++ })
	in := notice.Input{Log: &noticetest.Log{Err: boom}, Keys: notice.Keys{Consent: '1'}, Handler: h}
	// A consent that cannot be proven is no consent.
	if a, err := in.Key(t.Context(), '1', notice.MethodRFC4733); a != notice.ActionNone || !errors.Is(err, boom) || in.Consented() || told != 0 {
		t.Fatalf("consent: %v, %v, consented %v, told %d", a, err, in.Consented(), told)
	}
	// An objection is honoured even if it cannot be logged.
	if a, err := in.Key(t.Context(), '9', notice.MethodRFC4733); a != notice.ActionObjection || !errors.Is(err, boom) || !in.Objected() || told != 1 {
		t.Fatalf("objection: %v, %v, told %d", a, err, told)
	}
	var nolog notice.Input
	if a, err := nolog.Key(t.Context(), '9', notice.MethodRFC4733); a != notice.ActionObjection || !errors.Is(err, notice.ErrNoLog) {
		t.Fatalf("no log: %v %v", a, err)
	}
}
