package g711opus_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

type timedPkt struct {
	at time.Duration // send time from the start
	p  *rtp.Packet
}

// scheduleSource sends each packet at its time (fake time in a bubble).
type scheduleSource struct {
	start time.Time
	pkts  []timedPkt
}

func (s *scheduleSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if len(s.pkts) == 0 {
		return nil, nil, io.EOF
	}
	next := s.pkts[0]
	s.pkts = s.pkts[1:]
	if d := next.at - time.Since(s.start); d > 0 {
		time.Sleep(d)
	}
	return next.p, nil, nil
}

// TestTimelineThroughRecorder: a G.711 leg with loss, comfort noise and
// DTX, reordering, a pause and a DTMF key, through the transcoder into a
// recorder: the recording's gap index and DTMF report match what happened
// on the wire, as for an Opus leg.
func TestTimelineThroughRecorder(t *testing.T) {
	src := voice(8000 * 5)
	var sched []timedPkt
	seq := uint16(60000) // wraps during the call
	for i := range 250 {
		at := time.Duration(i+1) * 20 * time.Millisecond
		switch {
		case i >= 50 && i < 55: // lost on the way: sequence numbers used
			seq++
			continue
		case i == 100: // the phone goes silent: one CN packet, then nothing
			sched = append(sched, timedPkt{at, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: g711opus.PayloadTypeCN,
				SequenceNumber: seq, Timestamp: uint32(i * 160), SSRC: 7}, Payload: []byte{60}}})
			seq++
			continue
		case i > 100 && i < 150: // DTX: nothing sent, no sequence numbers used
			continue
		}
		pl := make([]byte, 160)
		g711.ULaw.Encode(pl, src[i*160:(i+1)*160])
		sched = append(sched, timedPkt{at, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: g711.PayloadTypePCMU,
			SequenceNumber: seq, Timestamp: uint32(i * 160), SSRC: 7, Marker: i == 150}, Payload: pl}})
		seq++
		if i >= 220 && i < 224 { // key '5' pressed at 4.4 s for 80 ms
			end := i == 223
			flags := byte(10)
			if end {
				flags |= 0x80
			}
			dur := uint16((i - 219) * 160)
			sched = append(sched, timedPkt{at, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101,
				SequenceNumber: seq, Timestamp: 220 * 160, SSRC: 7, Marker: i == 220},
				Payload: []byte{5, flags, byte(dur >> 8), byte(dur)}}})
			seq++
		}
	}
	// Reorder two packets (20 ms late, within the windows).
	for i := range sched {
		if sched[i].p.Timestamp == 200*160 {
			sched[i].at += 30 * time.Millisecond
			sched[i], sched[i+1] = sched[i+1], sched[i]
			break
		}
	}

	var meta recorder.Meta
	var dtmf []recorder.DTMF
	var st g711opus.Stats
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var mu sync.Mutex
		rec, err := recorder.New(recorder.Config{CallID: "timeline", Purpose: policy.Quality, PolicyVersion: "pv",
			Layout: recorder.LayoutMono, Store: &recordertest.MemStore{}, Audit: audit.Discard,
			OnDTMF: func(d recorder.DTMF) { mu.Lock(); dtmf = append(dtmf, d); mu.Unlock() }, ClearDTMF: "test"})
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111, DTMFPT: 101})
		start := time.Now()
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1"); err != nil {
			t.Fatal(err)
		}
		tr, err := g711opus.New(&scheduleSource{start: start, pkts: sched}, g711opus.Config{OpusPT: 111, DTMFPT: 101})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := cust.Consume(ctx, tr); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(3500 * time.Millisecond)
		if err := rec.Pause(ctx, "card-data", "agent-1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := rec.Resume(ctx, "agent-1"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		ms, err := rec.Stop(ctx, "agent-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Channels[0] == recorder.Customer {
				meta = m
			}
		}
		st = tr.Stats()
	})
	t.Logf("transcoder: %+v", st)
	t.Logf("recording %v, legs %+v", meta.Duration, meta.Legs)
	for _, g := range meta.Gaps {
		t.Logf("gap %v-%v %s %s", g.Start, g.End, g.Leg, g.Reason)
	}
	if st.LostFrames != 5 || st.DTXFrames != 50 || st.DTMF != 4 || st.Late != 0 {
		t.Errorf("transcoder stats %+v", st)
	}
	near := func(d, want time.Duration) bool {
		return d >= want-40*time.Millisecond && d <= want+40*time.Millisecond
	}
	check := func(reason recorder.GapReason, start, end time.Duration) {
		t.Helper()
		for _, g := range meta.Gaps {
			if g.Reason == reason && near(g.Start, start) && near(g.End, end) {
				return
			}
		}
		t.Errorf("no %s gap near %v-%v", reason, start, end)
	}
	// The leg starts 20 ms into the recording (first packet at 20 ms).
	check(recorder.GapLoss, 20*time.Millisecond+1000*time.Millisecond, 20*time.Millisecond+1100*time.Millisecond)
	check(recorder.GapDTX, 20*time.Millisecond+2000*time.Millisecond, 20*time.Millisecond+3000*time.Millisecond)
	check(recorder.GapPause, 3500*time.Millisecond, 4000*time.Millisecond)
	var got []recorder.DTMF
	for _, d := range dtmf {
		if d.Digit == '5' {
			got = append(got, d)
		}
	}
	if len(got) != 2 || got[0].End || !got[1].End || got[1].Duration != 80*time.Millisecond {
		t.Errorf("DTMF seen by the recorder: %+v", dtmf)
	}
}
