package notice_test

import (
	"context"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/policy"
)

// The receipt and the answers drive a real policy call: nothing may be
// captured before the notice completed, and an objection purges.
func TestPolicyEventsGateRecording(t *testing.T) {
	p, err := policy.Parse([]byte(`{"name":"t","profile":"FR","rules":[{"purpose":"training","mode":"agent"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.New(p, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	call, _, err := eng.Begin(ctx, policy.CallInfo{ID: "c1", Agent: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "a1"})
	if err != nil || !d.Record || d.Capture {
		t.Fatalf("agent start before the notice: %+v, %v (must not capture yet)", d, err)
	}
	now := time.Now()
	cut := notice.Receipt{Party: notice.PartyCaller, Start: now, End: now.Add(time.Second), Interrupted: notice.InterruptBargeIn}
	if ev := cut.PolicyEvent(); ev.Kind != policy.EventNoticeInterrupted {
		t.Fatalf("interrupted receipt gives %v", ev.Kind)
	}
	if d, _ = call.Apply(ctx, cut.PolicyEvent()); d.Capture {
		t.Fatalf("captures after an interrupted notice")
	}
	full := notice.Receipt{Party: notice.PartyCaller, Start: now, End: now.Add(4 * time.Second)}
	if d, _ = call.Apply(ctx, full.PolicyEvent()); !d.Capture {
		t.Fatalf("does not capture after a completed notice: %+v", d)
	}
	var answers []notice.Answer
	in := notice.Input{CallID: "c1", Log: &noticetest.Log{}, Handler: notice.HandlerFunc(func(_ context.Context, a notice.Answer) {
		answers = append(answers, a)
	})}
	if _, err := in.Key(ctx, '9', notice.MethodRFC4733); err != nil {
		t.Fatal(err)
	}
	ev := answers[0].PolicyEvent()
	if ev.Kind != policy.EventObjection || ev.Actor != "caller" {
		t.Fatalf("objection event %+v", ev)
	}
	if d, _ = call.Apply(ctx, ev); d.Capture || !d.Purge {
		t.Fatalf("after the objection: %+v, want purge", d)
	}
	if (notice.Answer{}).PolicyEvent() != (policy.Event{}) {
		t.Fatal("ActionNone must give the zero event")
	}
	spoken := notice.Answer{Action: notice.ActionConsent, Method: notice.MethodSpoken, Actor: "agent-7", Party: notice.PartyCaller}
	if ev := spoken.PolicyEvent(); ev.Kind != policy.EventConsent || ev.Actor != "agent-7" {
		t.Fatalf("spoken consent %+v", ev)
	}
}
