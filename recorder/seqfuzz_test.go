package recorder_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy/policytest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// selPause is the step selector that pauses or resumes instead of sending.
const selPause = 7

// seqPTs: Opus (three selectors of eight), a telephone-event, comfort
// noise, PCMU (not the leg's codec), another dynamic type; selPause.
var seqPTs = [8]uint8{111, 111, 111, 101, 13, 0, 96, 0}

// seedSequence builds a seed: config byte then steps.
func seedSequence(cfg byte, steps func(b []byte) []byte) []byte {
	return steps([]byte{cfg})
}

// FuzzLegSequence drives both legs of a recording, in either layout, with
// a structured sequence of packets (recordertest.Sequence: payload type,
// sequence and timestamp deltas, SSRC switches, markers, payload bytes,
// raw datagrams through rtp.Packet.Unmarshal, arrival steps), pauses and
// resumes, with or without Leg.Prefetch before each packet (config bit 6),
// in a testing/synctest bubble. Properties: no packet is refused
// or ends a leg (a recovered panic fails the test), Stop succeeds, every
// file is valid Ogg Opus per recorder.Inspect with the metadata's
// duration, and that duration matches the simulated time.
func FuzzLegSequence(f *testing.F) {
	opus20 := []byte{0x78, 1, 2, 3}
	f.Add(seedSequence(0x40|0x20, func(b []byte) []byte { // prefetched before each packet, a 3 s burst allowance: the ring grows
		for range 40 {
			b = recordertest.AppendStep(b, 0, 0, false, false, 1, 8, 0, opus20) // a backlog at once
		}
		for i := range 40 {
			b = recordertest.AppendStep(b, i&1, 0, false, false, 1, 8*int16(1-i&1), uint8(20*(i&1)), opus20)
		}
		return b
	}))
	f.Add(seedSequence(0, func(b []byte) []byte { // steady, both legs
		for i := range 60 {
			b = recordertest.AppendStep(b, i&1, 0, false, false, 1, 8*int16(1-i&1), uint8(20*(i&1)), opus20)
		}
		return b
	}))
	f.Add(seedSequence(1, func(b []byte) []byte { // mono, reordered, a burst, DTMF, a pause
		b = recordertest.AppendStep(b, 0, 0, true, false, 1, 0, 0, opus20)
		b = recordertest.AppendStep(b, 0, 0, false, false, 2, 16, 20, opus20)
		b = recordertest.AppendStep(b, 0, 0, false, false, -1, -8, 20, opus20)
		b = recordertest.AppendStep(b, 1, 3, false, false, 1, 0, 0, []byte{1, 0x80, 0, 160})
		for range 30 {
			b = recordertest.AppendStep(b, 1, 0, false, false, 1, 8, 0, []byte{0x08, 9, 9}) // 10 ms SILK
		}
		b = recordertest.AppendStep(b, 0, selPause, false, false, 0, 0, 100, nil)
		b = recordertest.AppendStep(b, 0, 0, false, false, 1, 8, 50, opus20)
		b = recordertest.AppendStep(b, 0, selPause, false, false, 0, 0, 100, nil)
		b = recordertest.AppendStep(b, 0, 0, false, true, 1, 8000, 20, []byte{0x7b, 3, 0, 0, 0}) // SSRC switch, code 3
		return b
	}))
	f.Add(seedSequence(2, func(b []byte) []byte { // a timestamp jump, a 60 ms packet, CN, a raw datagram
		b = recordertest.AppendStep(b, 0, 0, false, false, 1, 0, 20, opus20)
		b = recordertest.AppendStep(b, 0, 0, false, false, 1, 30000, 20, opus20)
		b = recordertest.AppendStep(b, 0, 0, false, false, 1, 8, 20, []byte{0x1b, 1})
		b = recordertest.AppendStep(b, 1, 4, false, false, 1, 8, 20, []byte{0})
		raw := []byte{0x80, 111, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9, 0x78, 1}
		b = append(b, 0x20|0x40, 0, 0, 0, 20, byte(len(raw)))
		return append(b, raw...)
	}))
	f.Add(seedSequence(0, func(b []byte) []byte { // both legs send sender reports, 300 ms apart on NTP
		for i := range 60 {
			b = recordertest.AppendStep(b, i&1, 0, false, false, 1, 8*int16(1-i&1), uint8(20*(i&1)), opus20)
			if i == 30 || i == 31 {
				ssrc := []byte{0, 0, 0, 1}
				if i&1 == 1 {
					ssrc = []byte{0x80, 0, 0, 0}
				}
				sr := append([]byte{0x80, 200, 0, 6}, ssrc...)
				sr = append(sr, 0xE8, 0x78, 0x9C, 0x80, byte(0x4C*(i&1)), 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 1, 0, 0, 0, 9)
				b = append(b, 0x20|byte(i&1)<<6, 0, 0, 0, 0, byte(len(sr)))
				b = append(b, sr...)
			}
		}
		return b
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := data[0]
		steps := recordertest.Sequence(data[1:], seqPTs, 120, 600)
		synctest.Test(t, func(t *testing.T) {
			runSequence(t, cfg, steps)
		})
	})
}

func runSequence(t *testing.T, cfg byte, steps []recordertest.Step) {
	ctx := context.Background()
	store := &recordertest.MemStore{}
	layout := recorder.LayoutDual
	if cfg&1 != 0 {
		layout = recorder.LayoutMono
	}
	burst := []time.Duration{0, 100 * time.Millisecond, 3 * time.Second, recorder.MaxMaxBurst}[cfg>>4&3]
	window := []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond, recorder.MaxReorderWindow}[cfg>>2&3]
	rec, err := recorder.New(recorder.Config{CallID: "f", Purpose: policy.Quality, Store: store, Audit: audit.Discard,
		Layout: layout, MaxBurst: burst, ReorderWindow: window, MaxPause: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	legs := [2]*recorder.Leg{}
	legs[0], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	agent := recorder.LegConfig{Role: recorder.Agent}
	if cfg&2 != 0 {
		agent.DTMFPT, agent.DTMFClockRate = 101, 16000
	}
	legs[1], _ = rec.AddLeg(agent)
	if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "f"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i, s := range steps {
		time.Sleep(s.Wait)
		if s.Sel == selPause && !s.Raw {
			if rec.Paused() {
				err = rec.Resume(ctx, "f")
			} else {
				err = rec.Pause(ctx, "x", "f")
			}
			if err != nil && !errors.Is(err, recorder.ErrState) {
				t.Fatalf("step %d: pause/resume: %v", i, err)
			}
			continue
		}
		if d := s.Datagram; s.Raw && len(d) > 1 && d[1] >= 192 && d[1] <= 223 {
			// RTCP (rtcp-mux), as recorder/rtpudp hands it over.
			if err := legs[s.Leg].WriteRTCP(d); err != nil && !errors.Is(err, recorder.ErrBadPacket) {
				t.Fatalf("step %d: rtcp: %v", i, err)
			}
			continue
		}
		if s.Packet == nil {
			continue // not RTP: a UDP source skips it
		}
		if cfg&0x40 != 0 {
			// As recorder/rtpudp does before each batch: it must never
			// fail nor change what is recorded, whatever the leg's state.
			for stage := 0; legs[s.Leg].Prefetch(stage) && stage < 4; stage++ {
			}
		}
		if err := legs[s.Leg].WriteRTP(s.Packet); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	elapsed := time.Since(start)
	metas, err := rec.Stop(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, store, metas, layout, elapsed, burst)
}

// checkFiles checks every file of a recording: valid Ogg Opus per Inspect,
// the metadata's duration, no leg ended by a fault, and a duration that
// matches the simulated time (at most the burst allowance ahead of it).
func checkFiles(t *testing.T, store *recordertest.MemStore, metas []recorder.Meta, layout recorder.Layout, elapsed, burst time.Duration) {
	t.Helper()
	if want := map[recorder.Layout]int{recorder.LayoutDual: 1, recorder.LayoutMono: 2}[layout]; len(metas) != want {
		t.Fatalf("%d files, want %d", len(metas), want)
	}
	if burst == 0 {
		burst = recorder.DefaultMaxBurst
	}
	for _, m := range metas {
		in, err := recorder.Inspect(bytes.NewReader(store.Bytes(m.ID)))
		if err != nil {
			t.Fatalf("%s: invalid file: %v", m.ID, err)
		}
		if !in.EOS || in.Mismatched != 0 || in.Duration != m.Duration {
			t.Fatalf("%s: file %+v, meta duration %v", m.ID, in, m.Duration)
		}
		if m.Duration < elapsed-2*recorder.SlotDuration || m.Duration > elapsed+burst+2*recorder.SlotDuration {
			t.Fatalf("%s: duration %v after %v of simulated time", m.ID, m.Duration, elapsed)
		}
		for _, s := range m.Legs {
			if s.Panics != 0 {
				t.Fatalf("%s: %s leg ended by a fault: %+v", m.ID, s.Role, s)
			}
		}
	}
}
