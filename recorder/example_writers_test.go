package recorder_test

import (
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

// A host recording many calls at once shares one Writers among its
// recorders (here with one Clock), sized for its store: pages reach the
// store from the Writers' goroutines, never from the goroutine that reads
// the packets, and a page that finds the queue full is counted.
func ExampleWriters() {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f, _ := os.Open("../testdata/speech.opus")
	speech, _, _ := recorder.Packets(f)
	f.Close()

	// A network disk taking about 20 ms per write, 2,000 legs in mono
	// files (2,000 pages a second): 2000 × 0.02 s = 40 goroutines.
	writers := &recorder.Writers{Goroutines: 40, QueueBytes: 16 << 20}
	shared := recorder.NewClock()
	store := &recordertest.MemStore{}
	rec, _ := recorder.New(recorder.Config{CallID: "call-1", Store: store, Audit: audit.Discard,
		Clock: shared, Writers: writers, Now: clk.Now})
	customer, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})

	ctx := context.Background()
	eng, _ := policy.New(&policy.Policy{Profile: policy.ProfileFR,
		Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{})
	call, _, _ := eng.Begin(ctx, policy.CallInfo{ID: "call-1", Agent: "agent-7"})
	call.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-7"})
	grant, _ := call.Grant()
	rec.Start(ctx, grant, "agent-7")
	for i := range 150 { // 3 s
		customer.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 1},
			Payload: speech[i],
		})
		clk.Advance(20 * time.Millisecond)
	}
	files, err := rec.Stop(ctx, "agent-7") // waits for the call's queued pages
	if err != nil {
		fmt.Println(err)
		return
	}
	st := writers.Stats()
	fmt.Println("pages written by the goroutines:", st.Pages, "dropped:", st.Dropped, "still queued:", st.Queued)
	fmt.Println("customer packets:", files[0].Legs[0].Packets, "overload:", files[0].Legs[0].Overload)
	// Output:
	// pages written by the goroutines: 2 dropped: 0 still queued: 0
	// customer packets: 150 overload: 0
}
