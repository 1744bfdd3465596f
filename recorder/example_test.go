package recorder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// clock is a simulated clock for the example: it replays 3 s of a call
// instantly and exactly. Real programs leave Config.Now nil.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Record two legs of a call into one dual-channel file, pause for card
// data, and read back the gap index. (With pion, feed each leg with
// leg.Consume(ctx, track), a *webrtc.TrackRemote being a recorder.Source.)
func Example() {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	f, _ := os.Open("../testdata/speech.opus")
	speech, _, _ := recorder.Packets(f)
	f.Close()

	store := &recordertest.MemStore{} // recorder.NewFileStore(consentrec.DataDir{Root: d}.Recordings()) in production
	rec, err := recorder.New(recorder.Config{
		CallID: "call-1", Purpose: policy.Quality, PolicyVersion: "v1",
		Store: store, Audit: audit.Discard, Now: clk.Now,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	customer, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111}) // the agent stays silent here

	// Only the policy mints the grant that lets the recorder start: here
	// the agent starts recording after the caller heard the notice.
	ctx := context.Background()
	eng, _ := policy.New(&policy.Policy{Profile: policy.ProfileFR,
		Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeAgent}}}, policy.Options{})
	call, _, _ := eng.Begin(ctx, policy.CallInfo{ID: "call-1", Agent: "agent-7"})
	if _, err := call.Grant(); errors.Is(err, policy.ErrNotAllowed) {
		fmt.Println("before the notice: no grant")
	}
	call.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller})
	call.Apply(ctx, policy.Event{Kind: policy.EventAgentStart, Actor: "agent-7"})
	grant, err := call.Grant()
	if err != nil {
		fmt.Println(err)
		return
	}
	rec.Start(ctx, grant, "agent-7")
	for i := range 150 { // 3 s of speech, one packet every 20 ms
		if i == 50 {
			rec.Pause(ctx, "card-data", "agent-7")
		}
		if i == 100 {
			rec.Resume(ctx, "agent-7")
		}
		customer.WriteRTP(&rtp.Packet{
			Header:  rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 1},
			Payload: speech[i],
		})
		clk.Advance(20 * time.Millisecond)
	}
	files, _ := rec.Stop(ctx, "agent-7")

	m := files[0]
	fmt.Println("layout:", m.Layout, m.Channels)
	fmt.Println("duration:", m.Duration)
	for _, g := range m.Gaps {
		fmt.Printf("gap %v-%v %q %s", g.Start, g.End, g.Leg, g.Reason)
		if g.Actor != "" {
			fmt.Printf(" by %s (%s)", g.Actor, g.Note)
		}
		fmt.Println()
	}
	info, _ := recorder.Inspect(bytes.NewReader(store.Bytes(m.ID)))
	fmt.Println("channels:", info.Channels, "left:", info.Tag("LEFT"), "right:", info.Tag("RIGHT"))
	// Output:
	// before the notice: no grant
	// layout: dual [customer agent]
	// duration: 2.9935s
	// gap 0s-1s "agent" not-started
	// gap 1s-2s "" pause by agent-7 (card-data)
	// gap 2s-3s "agent" not-started
	// channels: 2 left: customer right: agent
}

// ValidateID keeps ids safe as file names.
func ExampleValidateID() {
	for _, id := range []string{"rec-20260301T090000Z-1a2b3c", "../../etc/passwd", ".hidden"} {
		fmt.Println(id, recorder.ValidateID(id) == nil)
	}
	// Output:
	// rec-20260301T090000Z-1a2b3c true
	// ../../etc/passwd false
	// .hidden false
}

// The file store verifies a recording's SHA-256 before handing it out.
func ExampleFileStore_Open() {
	dir, _ := os.MkdirTemp("", "recordings")
	defer os.RemoveAll(dir)
	st, _ := recorder.NewFileStore(dir)
	ctx := context.Background()
	w, _ := st.Create(ctx, recorder.Meta{ID: "rec-1", CallID: "call-1", Purpose: policy.Quality})
	w.Write([]byte("OggS..."))
	m, _ := w.Finalize(ctx, recorder.Final{})
	fmt.Println(m.State, m.Size, m.SHA256[:16])

	os.WriteFile(dir+"/rec-1.opus", []byte("OggX..."), 0o600) // tampered with
	_, err := st.Open(ctx, "rec-1")
	fmt.Println(errors.Is(err, recorder.ErrIntegrity))
	// Output:
	// finalized 7 561a9fe02cd1cebb
	// true
}
