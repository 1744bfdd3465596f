package recorder_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Silent legs: pages still reach the store at least every second, so a
// crash loses at most about a second even when nobody speaks.
func TestPagesWrittenWhileSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: &events{}})
		rec.AddLeg(recorder.LegConfig{Role: recorder.Customer})
		id, _ := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		headers := len(store.Bytes(id))
		var sizes []int
		for range 5 {
			time.Sleep(time.Second)
			sizes = append(sizes, len(store.Bytes(id)))
		}
		// After 1 s the first page may still be buffered (pages close on
		// the next packet past a second); from then on one page a second.
		for i := 1; i < len(sizes); i++ {
			if sizes[i] <= sizes[i-1] || sizes[i] <= headers {
				t.Errorf("no page written between %d s and %d s: sizes %v (headers %d)", i, i+1, sizes, headers)
			}
		}
		rec.Stop(context.Background(), "a")
	})
}

// Legs fed from their own goroutines while another pauses, resumes, stops
// and starts again: no race, no lost control, a valid file each time.
func TestConcurrentControl(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: &events{}})
		legs := [2]*recorder.Leg{}
		legs[0], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		legs[1], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		var wg sync.WaitGroup
		for j, l := range legs {
			wg.Go(func() {
				for i := range 300 {
					l.WriteRTP(pkt(uint32(j+1), uint16(i), uint32(i*960), speech[i]))
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		var files []recorder.Meta
		for round := range 3 {
			if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			if err := rec.Pause(ctx, "card", "a"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			if err := rec.Resume(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(round+1) * 300 * time.Millisecond)
			ms, err := rec.Stop(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, ms...)
		}
		wg.Wait()
		for _, m := range files {
			if hasGap(m.Gaps, "", recorder.GapPause) == nil || m.Legs[0].Packets == 0 {
				t.Errorf("file %+v", m)
			}
		}
		if err := rec.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := legs[0].WriteRTP(pkt(1, 1, 1, speech[0])); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("WriteRTP after Close: %v", err)
		}
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Start after Close: %v", err)
		}
	})
}

// Consume reads a Source to its end (io.EOF: nil) and stops on a closed leg.
func TestConsume(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: &events{}})
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		rec.Start(ctx, policytest.GrantFor(t, rec), "a")
		src := &recordertest.Source{Packets: recordertest.OpusPackets(speech[:8], 111, 1, 0, 0)}
		if err := leg.Consume(ctx, src); err != nil {
			t.Fatalf("Consume: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		ms, _ := rec.Stop(ctx, "a")
		if ms[0].Legs[0].Packets != 8 {
			t.Errorf("stats %+v", ms[0].Legs[0])
		}
		leg.Close()
		src = &recordertest.Source{Packets: recordertest.OpusPackets(speech[:8], 111, 1, 0, 0)}
		if err := leg.Consume(ctx, src); err != nil {
			t.Errorf("Consume on a closed leg: %v", err)
		}
		failing := recorder.SourceFunc(func() (*rtp.Packet, interceptor.Attributes, error) { return nil, nil, errors.New("boom") })
		leg2, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent})
		if err := leg2.Consume(ctx, failing); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Consume of a failing source: %v", err)
		}
	})
}
