package g711opus_test

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/policy/policytest"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/codec/opusenc"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// seqPTs: PCMU (three selectors of eight), PCMA, a telephone-event,
// comfort noise, another dynamic type, a static one of no interest.
var seqPTs = [8]uint8{0, 0, 0, 8, 101, 13, 96, 34}

// stepSource replays its steps, each after its wait, then io.EOF.
type stepSource struct{ steps []recordertest.Step }

func (s *stepSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for len(s.steps) > 0 {
		st := s.steps[0]
		s.steps = s.steps[1:]
		time.Sleep(st.Wait)
		if st.Packet != nil {
			return st.Packet, nil, nil
		}
	}
	return nil, nil, io.EOF
}

// FuzzTranscodeIntoRecorder drives both legs of a recording through G.711
// to Opus transcoders with structured packet sequences
// (recordertest.Sequence: payload types, sequence and timestamp deltas,
// SSRC switches, markers, payload bytes, raw datagrams, arrival steps), in
// a testing/synctest bubble, in either layout. Properties: no panic, no
// leg ended by a fault, Stop succeeds, every file is valid Ogg Opus per
// recorder.Inspect with the metadata's duration, which matches the
// simulated time.
func FuzzTranscodeIntoRecorder(f *testing.F) {
	pcm := bytes.Repeat([]byte{0xff, 0x7f}, 80)
	seed := func(cfg byte, steps func(b []byte) []byte) { f.Add(steps([]byte{cfg})) }
	seed(0, func(b []byte) []byte { // steady, both legs
		for i := range 60 {
			b = recordertest.AppendStep(b, i&1, 0, i < 2, false, 1, 20*int16(1-i&1), uint8(20*(i&1)), pcm)
		}
		return b
	})
	seed(0x45, func(b []byte) []byte { // mono, 16 kHz: DTMF then earlier audio (issue 18), reorder, CN, SSRC switch
		b = recordertest.AppendStep(b, 0, 4, true, false, 1, 25000, 0, []byte{1, 0x80, 0, 160})
		b = recordertest.AppendStep(b, 0, 0, false, false, 1, -40, 20, pcm)
		b = recordertest.AppendStep(b, 0, 0, false, false, 2, 40, 20, pcm)
		b = recordertest.AppendStep(b, 0, 0, false, false, -1, -20, 0, pcm)
		b = recordertest.AppendStep(b, 0, 5, false, false, 1, 40, 20, []byte{40})
		b = recordertest.AppendStep(b, 1, 3, false, true, 1, 0, 20, pcm)
		return b
	})
	seed(0x8a, func(b []byte) []byte { // 48 kHz, a timestamp jump, a raw datagram, long packets
		b = recordertest.AppendStep(b, 0, 1, false, false, 1, 0, 20, pcm)
		b = recordertest.AppendStep(b, 0, 1, false, false, 1, 30000, 20, pcm)
		b = recordertest.AppendStep(b, 0, 1, false, false, 1, 20, 60, bytes.Repeat([]byte{0x55}, 250))
		raw := append([]byte{0x80, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9}, pcm[:40]...)
		b = append(b, 0x20|0x40, 0, 0, 0, 20, byte(len(raw)))
		return append(b, raw...)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := data[0]
		steps := recordertest.Sequence(data[1:], seqPTs, 8, 200)
		synctest.Test(t, func(t *testing.T) {
			transcodeIntoRecorder(t, cfg, steps)
		})
	})
}

func transcodeIntoRecorder(t *testing.T, cfg byte, steps []recordertest.Step) {
	ctx := context.Background()
	store := &recordertest.MemStore{}
	layout := recorder.LayoutDual
	if cfg&1 != 0 {
		layout = recorder.LayoutMono
	}
	rec, err := recorder.New(recorder.Config{CallID: "f", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	tcfg := g711opus.Config{
		ReorderWindow: []time.Duration{0, 10 * time.Millisecond, 60 * time.Millisecond, time.Second}[cfg>>2&3],
		Encoder:       opusConfig(cfg),
	}
	if cfg&2 != 0 {
		tcfg.DTMFPT = 101
	}
	var split [2][]recordertest.Step
	for _, s := range steps {
		split[s.Leg] = append(split[s.Leg], s)
	}
	var legs [2]*recorder.Leg
	for i, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
		if legs[i], err = rec.AddLeg(recorder.LegConfig{Role: role, OpusPT: g711opus.DefaultOpusPT, DTMFPT: 101}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "f"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, leg := range legs {
		tr, err := g711opus.New(&stepSource{steps: split[i]}, tcfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := leg.Consume(ctx, tr); err != nil {
				t.Errorf("%s leg: %v", leg.Role(), err)
			}
		})
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	elapsed := time.Since(start)
	metas, err := rec.Stop(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[recorder.Layout]int{recorder.LayoutDual: 1, recorder.LayoutMono: 2}[layout]; len(metas) != want {
		t.Fatalf("%d files, want %d", len(metas), want)
	}
	for _, m := range metas {
		in, err := recorder.Inspect(bytes.NewReader(store.Bytes(m.ID)))
		if err != nil {
			t.Fatalf("%s: invalid file: %v", m.ID, err)
		}
		if !in.EOS || in.Mismatched != 0 || in.Duration != m.Duration {
			t.Fatalf("%s: file %+v, meta duration %v", m.ID, in, m.Duration)
		}
		if m.Duration < elapsed-2*recorder.SlotDuration || m.Duration > elapsed+recorder.DefaultMaxBurst+2*recorder.SlotDuration {
			t.Fatalf("%s: duration %v after %v of simulated time", m.ID, m.Duration, elapsed)
		}
		for _, s := range m.Legs {
			if s.Panics != 0 {
				t.Fatalf("%s: %s leg ended by a fault: %+v", m.ID, s.Role, s)
			}
		}
	}
}

func opusConfig(cfg byte) opusenc.Config {
	// Complexity 1: the fastest encoder, so that the fuzzer runs (and
	// minimizes) many sequences; the packets' framing is the same.
	return opusenc.Config{SampleRate: []int{8000, 16000, 48000, 12000}[cfg>>6], DTX: cfg&0x10 != 0, Complexity: 1}
}
