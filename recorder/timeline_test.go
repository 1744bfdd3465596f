package recorder_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// record runs fn in a bubble with a started two-leg recorder and returns
// the stopped recording's files.
func record(t *testing.T, cfg recorder.Config, fn func(rec *recorder.Recorder, c, a *recorder.Leg)) ([]recorder.Meta, *recordertest.MemStore) {
	var metas []recorder.Meta
	store := &recordertest.MemStore{}
	synctest.Test(t, func(t *testing.T) {
		cfg.CallID, cfg.Purpose, cfg.Store, cfg.Audit = "c", policy.Quality, store, &events{}
		rec, err := recorder.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		fn(rec, c, a)
		if metas, err = rec.Stop(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	})
	return metas, store
}

// checkFile validates a recording with the real decoders and returns the
// decoded audio.
func checkFile(t *testing.T, data []byte, want time.Duration, channels int) *wav {
	t.Helper()
	path := writeTemp(t, "f.opus", data)
	opusinfo(t, path)
	ffmpegDecode(t, path)
	w := opusdec(t, path)
	if w.channels != channels {
		t.Errorf("opusdec: %d channels, want %d", w.channels, channels)
	}
	if d := w.duration() - want; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("decoded %v, want %v", w.duration(), want)
	}
	return w
}

func pkt(ssrc uint32, seq uint16, ts uint32, payload []byte) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
}

func TestTimestampWrapAndSSRCChange(t *testing.T) {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	metas, store := record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		// The customer's timestamps and sequence numbers wrap around
		// after 1 s; at 3 s its SSRC changes (a re-INVITE) with new random
		// bases. The agent speaks all along.
		for i := range 250 {
			ts := uint32(0xFFFFFFFF-50*960) + uint32(i*960)
			seq := uint16(65535-40) + uint16(i)
			ssrc := uint32(1)
			if i >= 150 {
				ts, seq, ssrc = 777+uint32((i-150)*960), 9000+uint16(i-150), 2
			}
			c.WriteRTP(pkt(ssrc, seq, ts, speech[i]))
			a.WriteRTP(pkt(3, uint16(i), uint32(i*960), tone[i]))
			time.Sleep(20 * time.Millisecond)
		}
	})
	m := metas[0]
	t.Logf("gaps %+v legs %+v", m.Gaps, m.Legs)
	cs := m.Legs[0]
	if cs.SSRCChanges != 1 || cs.Packets < 245 || cs.Late != 0 || cs.Lost > 2 {
		t.Errorf("customer stats %+v", cs)
	}
	for _, g := range m.Gaps {
		if g.Leg == recorder.Customer && g.Reason == recorder.GapLoss {
			t.Errorf("wrap-around taken for loss: %+v", g)
		}
	}
	checkFile(t, store.Bytes(m.ID), 5*time.Second, 2)
}

func TestClockDrift(t *testing.T) {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	// The customer's clock runs 4% slow, the agent's 8% fast (far beyond
	// real phones, to slip within seconds: a fast leg slips once it stayed
	// more than 200 ms ahead for two 2 s periods, which tells it from a
	// burst): the recorder slips, counted, and the file keeps the call's
	// length and stays decodable.
	metas, store := record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		rng := rand.New(rand.NewPCG(3, 4))
		evs := legPlan{leg: c, packets: speech, ssrc: 1, clockPPM: -40000}.events(rng)
		evs = append(evs, legPlan{leg: a, packets: slices.Concat(tone, tone, tone), ssrc: 2, clockPPM: 80000}.events(rng)...)
		evs = append(evs, simEvent{at: 7 * time.Second, fn: func() {}})
		var cut []simEvent
		for _, e := range evs {
			if e.at <= 7*time.Second {
				cut = append(cut, e)
			}
		}
		run(t, cut)
	})
	m := metas[0]
	t.Logf("legs %+v", m.Legs)
	if m.Legs[0].Slips == 0 || m.Legs[1].Slips == 0 {
		t.Errorf("no slips counted: %+v", m.Legs)
	}
	if hasGap(m.Gaps, recorder.Customer, recorder.GapSlip) == nil {
		t.Errorf("no slip in the gap index: %+v", m.Gaps)
	}
	w := checkFile(t, store.Bytes(m.ID), 7*time.Second, 2)
	// The agent's tone stays on the right to the end.
	if k := goertzel(span(w, 1, 5*time.Second, 6*time.Second), w.rate, 1000); k < 0.15 {
		t.Errorf("right channel after slips: 1 kHz %.4f", k)
	}
}

func TestPacketTimes(t *testing.T) {
	tone := fixture(t, "tone.opus")
	for _, tc := range []struct {
		file   string
		ptime  int
		layout recorder.Layout
	}{
		{"ptime10.opus", 10, recorder.LayoutDual},
		{"ptime10.opus", 10, recorder.LayoutMono},
		{"ptime40.opus", 40, recorder.LayoutDual},
		{"ptime40.opus", 40, recorder.LayoutMono},
		{"ptime60.opus", 60, recorder.LayoutDual},
		{"ptime60.opus", 60, recorder.LayoutMono},
	} {
		t.Run(tc.file+"/"+string(tc.layout), func(t *testing.T) {
			pk := fixture(t, tc.file)
			metas, store := record(t, recorder.Config{Layout: tc.layout}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
				var evs []simEvent
				step := time.Duration(tc.ptime) * time.Millisecond
				for i, p := range pk {
					if at := time.Duration(i) * step; at < 2*time.Second {
						evs = append(evs, simEvent{at: at, leg: c, pkt: pkt(1, uint16(i), uint32(i*tc.ptime*48), p)})
					}
				}
				for i := range 100 {
					evs = append(evs, simEvent{at: time.Duration(i) * 20 * time.Millisecond, leg: a, pkt: pkt(2, uint16(i), uint32(i*960), tone[i])})
				}
				evs = append(evs, simEvent{at: 2 * time.Second, fn: func() {}})
				run(t, evs)
			})
			cs := metas[0].Legs[0]
			t.Logf("customer %+v", cs)
			if cs.Invalid != 0 || cs.Late != 0 {
				t.Errorf("customer stats %+v", cs)
			}
			if tc.layout == recorder.LayoutDual && tc.ptime > 20 && cs.Unsupported > 0 {
				// Single 40/60 ms SILK frames cannot be split: fillers, said so.
				if hasGap(metas[0].Gaps, recorder.Customer, recorder.GapUnsupported) == nil {
					t.Errorf("unsupported packets without a gap entry: %+v", metas[0].Gaps)
				}
			} else if cs.Unsupported != 0 || cs.Lost > 2 {
				t.Errorf("customer stats %+v", cs)
			}
			ch := 2
			if tc.layout == recorder.LayoutMono {
				ch = 1
			}
			w := checkFile(t, store.Bytes(metas[0].ID), 2*time.Second, ch)
			if tc.layout == recorder.LayoutMono || cs.Unsupported == 0 {
				if v := rms(span(w, 0, 100*time.Millisecond, 1900*time.Millisecond)); v < 0.02 {
					t.Errorf("customer channel nearly silent: rms %.4f", v)
				}
			}
		})
	}
}

func TestDTMF(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []recorder.DTMF
		store := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: &events{},
			OnDTMF: func(d recorder.DTMF) { got = append(got, d) }, ClearDTMF: "ivr-menu"})
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
		rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		ev := func(seq uint16, ts uint32, event byte, end bool, dur uint16) *rtp.Packet {
			b1 := byte(10)
			if end {
				b1 |= 0x80
			}
			return &rtp.Packet{Header: rtp.Header{PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 1},
				Payload: []byte{event, b1, byte(dur >> 8), byte(dur)}}
		}
		// '5' pressed for 100 ms (8 kHz clock), the end sent three times; then '#'.
		for i, p := range []*rtp.Packet{ev(1, 1000, 5, false, 160), ev(2, 1000, 5, false, 480), ev(3, 1000, 5, true, 800),
			ev(4, 1000, 5, true, 800), ev(5, 1000, 5, true, 800), ev(6, 2000, 11, true, 400)} {
			leg.WriteRTP(p)
			time.Sleep(time.Duration(i) * time.Millisecond)
		}
		ms, _ := rec.Stop(context.Background(), "a")
		want := []struct {
			d   rune
			end bool
			dur time.Duration
		}{{'5', false, 20 * time.Millisecond}, {'5', true, 100 * time.Millisecond}, {'#', true, 50 * time.Millisecond}}
		if len(got) != len(want) {
			t.Fatalf("events %+v", got)
		}
		for i, w := range want {
			if got[i].Digit != w.d || got[i].End != w.end || got[i].Duration != w.dur || got[i].Leg != recorder.Customer || got[i].Volume != 10 {
				t.Errorf("event %d = %+v, want %+v", i, got[i], w)
			}
		}
		if ms[0].Legs[0].DTMF != 6 || ms[0].Legs[0].Packets != 0 {
			t.Errorf("telephone-events written as audio? %+v", ms[0].Legs[0])
		}
	})
}

func TestMalformedPacketsNeverReachTheFile(t *testing.T) {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	metas, store := record(t, recorder.Config{}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
		rng := rand.New(rand.NewPCG(5, 6))
		for i := range 100 {
			p := speech[i]
			if i%7 == 3 { // garbage: random bytes with a code 3 TOC
				p = make([]byte, 1+rng.IntN(40))
				for j := range p {
					p[j] = byte(rng.Uint32())
				}
				p[0] |= 3
				p[1] = 0xFF
			}
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), p))
			a.WriteRTP(pkt(2, uint16(i), uint32(i*960), tone[i]))
			if err := c.WriteRTP(nil); err == nil {
				t.Error("nil packet accepted")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if metas[0].Legs[0].Invalid == 0 {
		t.Errorf("no invalid packets counted: %+v", metas[0].Legs[0])
	}
	checkFile(t, store.Bytes(metas[0].ID), 2*time.Second, 2)
}

// A 60 ms SILK frame cannot be split without transcoding: in a dual file
// (both streams of a packet must last as long) it becomes fillers, counted
// and in the gap index; a mono file keeps it as is.
func TestUnsplittableFrames(t *testing.T) {
	tone := fixture(t, "tone.opus")
	silk60 := append([]byte{11 << 3}, make([]byte, 40)...) // SILK WB 60 ms, code 0
	for _, layout := range []recorder.Layout{recorder.LayoutDual, recorder.LayoutMono} {
		metas, store := record(t, recorder.Config{Layout: layout}, func(rec *recorder.Recorder, c, a *recorder.Leg) {
			var evs []simEvent
			for i := range 33 {
				evs = append(evs, simEvent{at: time.Duration(i) * 60 * time.Millisecond, leg: c, pkt: pkt(1, uint16(i), uint32(i*2880), silk60)})
			}
			for i := range 100 {
				evs = append(evs, simEvent{at: time.Duration(i) * 20 * time.Millisecond, leg: a, pkt: pkt(2, uint16(i), uint32(i*960), tone[i])})
			}
			evs = append(evs, simEvent{at: 2 * time.Second, fn: func() {}})
			run(t, evs)
		})
		cs := metas[0].Legs[0]
		if layout == recorder.LayoutMono {
			if cs.Unsupported != 0 || cs.Packets < 30 {
				t.Errorf("mono: %+v", cs)
			}
			in, err := recorder.Inspect(bytesReader(store.Bytes(metas[0].ID)))
			if err != nil || in.Duration != metas[0].Duration {
				t.Errorf("mono file: %+v, %v", in, err)
			}
			continue
		}
		if cs.Unsupported < 30 || hasGap(metas[0].Gaps, recorder.Customer, recorder.GapUnsupported) == nil {
			t.Errorf("dual: %+v, gaps %+v", cs, metas[0].Gaps)
		}
		w := checkFile(t, store.Bytes(metas[0].ID), 2*time.Second, 2)
		if k := goertzel(span(w, 1, 500*time.Millisecond, 1500*time.Millisecond), w.rate, 1000); k < 0.15 {
			t.Errorf("agent's tone lost: %.4f", k)
		}
	}
}

// TestBursts: a sender that sends its packets in bursts (ffmpeg -re sends
// 256 ms at once, media servers up to a second) is placed by its
// timestamps, without slips, losses or late packets, up to
// Config.MaxBurst; past it, the leg re-aligns (slips).
func TestBursts(t *testing.T) {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	for _, c := range []struct {
		name     string
		burst    int // packets sent at once
		maxBurst time.Duration
		slips    bool
	}{
		{"ffmpeg-256ms", 13, 0, false},
		{"1s", 50, 0, false},
		{"2s-max-3s", 100, 3 * time.Second, false},
		{"1s-max-200ms", 50, 200 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			const dur = 6 * time.Second
			metas, store := record(t, recorder.Config{MaxBurst: c.maxBurst}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
				var evs []simEvent
				for i := range int(dur / (20 * time.Millisecond)) {
					at := time.Duration(i/c.burst*c.burst) * 20 * time.Millisecond
					evs = append(evs, simEvent{at: at, leg: cl, pkt: pkt(1, uint16(i), uint32(i*960), speech[i%len(speech)])})
					evs = append(evs, simEvent{at: time.Duration(i) * 20 * time.Millisecond, leg: a, pkt: pkt(2, uint16(i), uint32(i*960), tone[i%len(tone)])})
				}
				evs = append(evs, simEvent{at: dur, fn: func() {}})
				run(t, evs)
			})
			m := metas[0]
			cs := m.Legs[0]
			t.Logf("customer %+v", cs)
			if !c.slips {
				if cs.Slips != 0 || cs.Late != 0 || cs.Duplicates != 0 || cs.Lost != 0 {
					t.Errorf("bursts of %d packets: %+v", c.burst, cs)
				}
				for _, g := range m.Gaps {
					if g.Leg == recorder.Customer && g.Reason != recorder.GapNotStarted {
						t.Errorf("customer gap %+v", g)
					}
				}
				// Every packet but those of the last burst (still ahead
				// of the wall clock at Stop) is written.
				if want := int64(dur/(20*time.Millisecond)) - int64(c.burst); cs.Packets < want {
					t.Errorf("customer: %d packets written, want at least %d", cs.Packets, want)
				}
			} else if cs.Slips == 0 {
				t.Errorf("bursts beyond MaxBurst: no slip: %+v", cs)
			}
			checkFile(t, store.Bytes(m.ID), dur, 2)
		})
	}
}

func TestMaxBurstConfig(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, recorder.MaxMaxBurst + time.Millisecond} {
		_, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: &recordertest.MemStore{}, Audit: &events{}, MaxBurst: d})
		if !errors.Is(err, recorder.ErrConfig) {
			t.Errorf("MaxBurst %v: %v, want ErrConfig", d, err)
		}
	}
}
