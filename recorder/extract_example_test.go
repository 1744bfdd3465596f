package recorder_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// A data subject's copy of a dual-channel call holds their voice only
// (GDPR Art. 15(4)): the customer's stream, re-muxed without transcoding.
func ExampleExtractLeg() {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f, _ := os.Open("../testdata/speech.opus")
	speech, _, _ := recorder.Packets(f)
	f.Close()
	store := &recordertest.MemStore{}
	rec, _ := recorder.New(recorder.Config{CallID: "call-1", Purpose: policy.Quality, PolicyVersion: "v1",
		Store: store, Audit: audit.Discard, Now: clk.Now})
	customer, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	ctx := context.Background()
	eng, _ := policy.New(&policy.Policy{Profile: policy.ProfileFR,
		Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{})
	call, _, _ := eng.Begin(ctx, policy.CallInfo{ID: "call-1", Agent: "agent-7"})
	call.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-7"})
	grant, err := call.Grant()
	if err != nil {
		fmt.Println(err)
		return
	}
	rec.Start(ctx, grant, "agent-7")
	for i := range 50 { // 1 s
		customer.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 1},
			Payload: speech[i],
		})
		clk.Advance(20 * time.Millisecond)
	}
	files, _ := rec.Stop(ctx, "agent-7")
	data := store.Bytes(files[0].ID)

	var mine bytes.Buffer
	info, err := recorder.ExtractLeg(bytes.NewReader(data), &mine, recorder.Customer)
	if err != nil {
		fmt.Println(err)
		return
	}
	whole, _ := recorder.Inspect(bytes.NewReader(data))
	fmt.Println("call:", whole.Channels, "channels,", whole.Duration)
	fmt.Println("copy:", info.Channels, "channel,", info.Duration, "leg", info.Tag("LEG"))
	// Output:
	// call: 2 channels, 993.5ms
	// copy: 1 channel, 993.5ms leg customer
}
