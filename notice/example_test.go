package notice_test

import (
	"context"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/policy"
)

// Choose a call's notice, prepare it once for G.711, play it into a SIP leg
// and keep the receipt.
func Example() {
	var lib notice.Library
	for _, f := range []struct{ lang, file string }{{"en", "notice-en.wav"}, {"fr", "notice-fr.mp3"}} {
		p, err := notice.LoadFile("testdata/" + f.file)
		if err != nil {
			panic(err)
		}
		lib.Add(f.lang, policy.ProfileUnknown, p)
	}
	prompt, err := lib.Select("fr-FR", policy.ProfileFR)
	if err != nil {
		panic(err)
	}
	var cache notice.Cache // G.711 built in; Encoders: opusprompt.Encoders adds Opus
	prep, err := cache.Get(prompt, notice.CodecPCMA)
	if err != nil {
		panic(err)
	}
	var leg noticetest.RTPSink // a SIP leg's RTP session in real code
	rtpOut, _ := notice.NewRTPPacketizer(&leg, 8, 0x1234, notice.CodecPCMA)
	log := &noticetest.Log{} // an audit log (audit.OpenDir) in real code
	player := notice.Player{CallID: "call-1", Log: log}

	// A short deadline stands for the caller hanging up after 300 ms.
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, notice.ErrHangup)
	defer cancel()
	receipt, err := player.Play(ctx, prep, rtpOut)
	if err != nil {
		panic(err)
	}
	fmt.Println("prompt:", receipt.Prompt, "codec:", receipt.Codec)
	fmt.Println("completed:", receipt.Completed(), "interrupted:", receipt.Interrupted)
	fmt.Println("version is the file's sha256:", receipt.Version == fileSHA256("testdata/notice-fr.mp3"))
	fmt.Println("logged:", log.Kinds()[0] == receipt.Event().Kind)
	// Output:
	// prompt: notice-fr.mp3 codec: PCMA
	// completed: false interrupted: hang-up
	// version is the file's sha256: true
	// logged: true
}

// Turn the caller's RFC 4733 key presses into an objection.
func ExampleInput() {
	log := &noticetest.Log{}
	in := notice.Input{CallID: "call-2", Log: log, Keys: notice.Keys{Object: '9', Consent: '1'},
		Handler: notice.HandlerFunc(func(_ context.Context, a notice.Answer) {
			fmt.Println("tell the policy:", a.Action, "by", a.Method)
		})}
	in.SetPrompt("3f2a…")
	var det notice.EventDetector
	ts := uint32(8000)
	for _, key := range []notice.Key{'4', '9'} {
		for _, payload := range noticetest.TelephoneEvents(key, 8000, 100*time.Millisecond) {
			if k, ok, _ := det.Feed(ts, payload); ok {
				in.Key(context.Background(), k, notice.MethodRFC4733)
			}
		}
		ts += 1600
	}
	e := log.Snapshot()[0]
	fmt.Println(e.Kind == notice.Answer{Action: notice.ActionObjection}.Event("").Kind, noticetest.Attr(e, "key"))
	// Output:
	// tell the policy: objection by dtmf-rfc4733
	// true 9
}

// Detect in-band DTMF in decoded audio.
func ExampleToneDetector() {
	det, _ := notice.NewToneDetector(8000)
	pcm := noticetest.DTMF('#', 8000, 80*time.Millisecond, -10)
	pcm = append(pcm, make([]int16, 400)...)
	pcm = append(pcm, noticetest.DTMF('1', 8000, 80*time.Millisecond, -10)...)
	fmt.Printf("%q\n", det.Feed(nil, pcm))
	// Output:
	// "#1"
}

// The employee notice: the agent's leg hears that the call is recorded, and
// the receipt names the agent as the party.
func ExamplePlayer_employeeNotice() {
	p, err := notice.BeepPrompt(1000, 100*time.Millisecond) // your recorded employee notice in real code
	if err != nil {
		panic(err)
	}
	var cache notice.Cache
	prep, err := cache.Get(p, notice.CodecPCMU)
	if err != nil {
		panic(err)
	}
	var agentLeg noticetest.Sink // the agent's phone: an RTPPacketizer or a pion track
	log := &noticetest.Log{}
	player := notice.Player{CallID: "call-3", Party: notice.PartyAgent, Log: log}
	r, err := player.Play(context.Background(), prep, &agentLeg)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Party, r.Completed(), agentLeg.Len(), "frames")
	fmt.Println(noticetest.Attr(log.Snapshot()[0], "party"))
	// Output:
	// agent true 5 frames
	// agent
}
