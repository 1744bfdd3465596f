package recorder

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/pion/rtp"
)

// Recorders sharing a Clock get their silent time flushed to storage by
// it (no timer of their own), and the Clock's goroutine ends with the last
// recording.
func TestSharedClockFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		clock := NewClock()
		store, err := NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var recs []*Recorder
		var legs []*Leg
		var ids []string
		for i := range 30 { // more recordings than the wheel has groups
			rec, err := New(Config{CallID: "c" + string(rune('a'+i)), Purpose: policy.Quality, Store: store, Audit: audit.Discard, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			l, _ := rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
			id, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent")
			if err != nil {
				t.Fatal(err)
			}
			if rec.sess.tick != nil {
				t.Fatal("a recorder with a Clock has a timer of its own")
			}
			recs, legs, ids = append(recs, rec), append(legs, l), append(ids, id)
		}
		for k := range 50 {
			for _, l := range legs {
				l.WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(k), Timestamp: uint32(k * 960), SSRC: 7},
					Payload: []byte{0xf8, 0xff, 0xfe}})
			}
			time.Sleep(SlotDuration)
		}
		size := func(id string) int {
			fi, err := os.Stat(store.path(id, ".opus.partial"))
			if err != nil {
				t.Fatal(err)
			}
			return int(fi.Size())
		}
		before := make([]int, len(ids))
		for i, id := range ids {
			before[i] = size(id)
		}
		time.Sleep(3 * time.Second) // silence: only the Clock writes
		synctest.Wait()
		for i, id := range ids {
			if after := size(id); after <= before[i] {
				t.Fatalf("recording %d: %d bytes after 3 s of silence, %d before: not flushed", i, after, before[i])
			}
		}
		for _, rec := range recs {
			if _, err := rec.Stop(ctx, "agent"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(tickEvery)
		synctest.Wait()
		clock.mu.Lock()
		defer clock.mu.Unlock()
		if clock.n != 0 || clock.running {
			t.Fatalf("clock after every Stop: %d recordings, running %v", clock.n, clock.running)
		}
	})
}

// The Clock skips a recording that packets keep advancing (each packet
// writes what became due before it is placed), flushes it again once its
// packets stop, and never skips one whose error OnError must hear of.
func TestClockSkipsRecordingsPacketsAdvance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		clock := NewClock()
		store, err := NewFileStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		reported := make(chan error, 1)
		rec, err := New(Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Clock: clock,
			OnError: func(err error) { reported <- err }})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent"); err != nil {
			t.Fatal(err)
		}
		k := 0
		send := func(d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); k++ {
				l.WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(k), Timestamp: uint32(k * 960), SSRC: 7},
					Payload: []byte{0xf8, 0xff, 0xfe}})
				time.Sleep(SlotDuration)
			}
		}
		ticks := func() int {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.sess.ticks
		}
		send(2 * time.Second)
		if n := ticks(); n > 1 {
			t.Fatalf("%d flushes in 2 s of packets, want at most 1 (before the first packet)", n)
		}
		time.Sleep(time.Second) // silence
		synctest.Wait()
		if n := ticks(); n < 3 {
			t.Fatalf("%d flushes after 1 s of silence, want 3 or more", n)
		}
		want := errors.New("disk gone")
		rec.sess.failAsync(want)
		go send(time.Second)
		select {
		case err := <-reported:
			if err != want {
				t.Fatalf("OnError got %v", err)
			}
		case <-time.After(2 * tickEvery):
			t.Fatal("a failed recording getting packets was skipped: OnError not called")
		}
		time.Sleep(time.Second)
		rec.Stop(ctx, "agent")
	})
}
