package recorder_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// prefetchAll runs every stage of l's Prefetch, as a batch reader does.
func prefetchAll(l *recorder.Leg) int {
	n := 1
	for stage := 0; l.Prefetch(stage); stage++ {
		n++
	}
	return n
}

// Prefetching before every packet changes nothing a recording holds: the
// same packets (a stall, loss, a reordered pair) recorded with and without
// it give the same counters and every packet at the same slot.
func TestPrefetchChangesNothing(t *testing.T) {
	const n = 300
	var stats [2][]recorder.LegStats
	var pos [2][2][]int
	for k, pf := range []bool{false, true} {
		metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
			var evs []simEvent
			for i := range n {
				at := time.Duration(i) * 20 * time.Millisecond
				if i >= 100 && i < 110 {
					at = 110 * 20 * time.Millisecond // a 200 ms stall
				}
				if i == 150 {
					at += 30 * time.Millisecond // after its successor
				}
				if i%37 != 5 { // lost
					evs = append(evs, simEvent{at: at, leg: cl, pkt: pkt(1, uint16(i), uint32(1000+i*960), marked(0, i))})
				}
				evs = append(evs, simEvent{at: time.Duration(i) * 20 * time.Millisecond, leg: a, pkt: pkt(2, uint16(7+i), uint32(5+i*960), marked(1, i))})
			}
			evs = append(evs, simEvent{at: n * 20 * time.Millisecond, fn: func() {}})
			if pf {
				for i := range evs {
					if l := evs[i].leg; l != nil {
						evs[i].leg = nil
						p := evs[i].pkt
						evs[i].fn = func() {
							if got := prefetchAll(l); got != 2 {
								t.Errorf("%d prefetch stages while recording, want 2", got)
							}
							if err := l.WriteRTP(p); err != nil {
								t.Error(err)
							}
						}
					}
				}
			}
			run(t, evs)
		})
		for i, m := range metas {
			stats[k] = append(stats[k], m.Legs[0])
			pos[k][i] = positions(t, store.Bytes(m.ID), byte(i), n)
		}
	}
	if !slices.Equal(stats[0], stats[1]) {
		t.Errorf("stats without prefetch %+v, with %+v", stats[0], stats[1])
	}
	for i := range 2 {
		if !slices.Equal(pos[0][i], pos[1][i]) {
			t.Errorf("leg %d: slots without prefetch %v, with %v", i, pos[0][i], pos[1][i])
		}
	}
	if stats[0][0].Packets == 0 || stats[0][0].Lost == 0 {
		t.Errorf("customer %+v: want packets and loss", stats[0][0])
	}
}

// Prefetch may be called from any goroutine at any time: before Start,
// while other goroutines write, pause, stop and start again (the race
// detector checks), on a leg that is not recording (one stage), and on a
// nil leg.
func TestPrefetchConcurrent(t *testing.T) {
	rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality,
		Store: &recordertest.MemStore{}, Audit: audit.Discard})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	if got := prefetchAll(cl); got != 2 {
		t.Fatalf("%d prefetch stages before the second leg and Start, want 2 (nothing to prefetch)", got)
	}
	a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	var nilLeg *recorder.Leg
	if nilLeg.Prefetch(0) {
		t.Fatal("nil leg prefetched")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range []*recorder.Leg{cl, a} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					prefetchAll(l)
				}
			}
		})
	}
	ctx := context.Background()
	for round := range 3 {
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			for j, l := range []*recorder.Leg{cl, a} {
				p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: uint32(j + 1),
					SequenceNumber: uint16(round*50 + i), Timestamp: uint32((round*50 + i) * 960)}, Payload: marked(byte(j), i)}
				if err := l.WriteRTP(p); err != nil {
					t.Fatal(err)
				}
			}
			if i == 20 {
				if err := rec.Pause(ctx, "card-data", "a"); err != nil {
					t.Fatal(err)
				}
			}
			if i == 30 {
				if err := rec.Resume(ctx, "a"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := rec.Stop(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
