package consentrec_test

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/consentrec/consentrec/retention"
)

func ExampleDataDir() {
	d := consentrec.DataDir{Root: "/var/lib/consentrec"}
	fmt.Println(filepath.ToSlash(d.Audit()))
	fmt.Println(filepath.ToSlash(d.Recordings()))
	fmt.Println(filepath.ToSlash(d.Catalog()))
	// Output:
	// /var/lib/consentrec/audit
	// /var/lib/consentrec/recordings
	// /var/lib/consentrec/catalog.db
}

// One call under a policy, on the in-memory fakes: the caller hears the
// notice, the agent starts recording (announced first), pauses for card
// data, and the hang-up catalogues the recording with what the policy
// decided. With pion, feed the legs with go call.Consume(ctx, role, track)
// and play to notice.Samples(track) with notice.CodecOpus (see the README).
func Example() {
	ctx := context.Background()
	prompt, _ := notice.BeepPrompt(440, 100*time.Millisecond) // stands for your recorded notice
	prompts := &notice.Library{Fallback: "en"}
	prompts.Add("en", policy.ProfileUnknown, prompt)
	svc, err := consentrec.Open(ctx, consentrec.DataDir{}, consentrec.Options{
		Policy: &policy.Policy{Name: "example", Profile: policy.ProfileFR,
			Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}},
		Key: []byte("a sampling key of 32 bytes......"), Log: audittest.NewLog("example", nil),
		Store: &recordertest.MemStore{}, Catalog: retention.NewMemCatalog(), SubjectSecret: []byte("subject secret"),
		Notices: prompts, Announcements: prompts,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()

	call, _ := svc.Call(ctx, policy.CallInfo{ID: "call-1", Agent: "agent-7"}, consentrec.CallOptions{Caller: "+33 1 23 45 67 89"})
	call.Output(notice.PartyCaller, notice.FrameSinkFunc(func(notice.Frame) error { return nil }), notice.CodecPCMU)
	r, _ := call.Inform(ctx)
	fmt.Println("notice completed:", r.Completed(), "recording:", call.Recording())
	call.AgentStart(ctx, "agent-7", "")
	fmt.Println("agent started; recording:", call.Recording())
	call.Pause(ctx, "card-data", "agent-7")
	time.Sleep(60 * time.Millisecond) // the caller reads the card out: the pause spans some 20 ms slots (load only lengthens it)
	call.Resume(ctx, "agent-7")
	res, _ := call.Hangup(ctx)
	rec := res.Recordings[0]
	fmt.Println("catalogued:", rec.Purpose, rec.LawfulBasis, rec.Subject == svc.SubjectKey("+33123456789"))
	for _, g := range rec.Gaps {
		if g.Actor != "" {
			fmt.Println("gap:", g.Reason, "by", g.Actor, "("+g.Note+")")
		}
	}
	// Output:
	// notice completed: true recording: false
	// agent started; recording: true
	// catalogued: quality 6(1)(f) legitimate interests true
	// gap: pause by agent-7 (card-data)
}
