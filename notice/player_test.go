package notice_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/pion/webrtc/v4/pkg/media"
)

func preparedTone(t *testing.T, d time.Duration) *notice.Prepared {
	t.Helper()
	p, err := notice.BeepPrompt(440, d)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := notice.Prepare(p, notice.CodecPCMU, mustG711(t))
	if err != nil {
		t.Fatal(err)
	}
	return prep
}

func TestPlayPacesInRealTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prep := preparedTone(t, time.Second)
		var sink noticetest.Sink
		var log noticetest.Log
		pl := notice.Player{CallID: "c1", Log: &log}
		start := time.Now()
		r, err := pl.Play(t.Context(), prep, &sink)
		if err != nil {
			t.Fatal(err)
		}
		frames, times := sink.Snapshot()
		if len(frames) != 50 || sink.Talkspurts != 1 {
			t.Fatalf("%d frames, %d talkspurts; want 50, 1", len(frames), sink.Talkspurts)
		}
		for i, at := range times {
			if want := start.Add(time.Duration(i) * 20 * time.Millisecond); !at.Equal(want) {
				t.Fatalf("frame %d sent at +%v, want +%v", i, at.Sub(start), want.Sub(start))
			}
			if frames[i].Samples != 160 || frames[i].Duration != 20*time.Millisecond {
				t.Fatalf("frame %d: %d samples, %v", i, frames[i].Samples, frames[i].Duration)
			}
		}
		// Play returns when the last frame has played, not when it was sent.
		if !r.Completed() || r.End.Sub(r.Start) != time.Second || r.Played != time.Second || !r.Start.Equal(start) {
			t.Fatalf("receipt %+v", r)
		}
		ev := log.Snapshot()
		if len(ev) != 1 || ev[0].Kind != audit.KindNoticePlayed || ev[0].CallID != "c1" ||
			noticetest.Attr(ev[0], "completed") != "true" || noticetest.Attr(ev[0], "version") != prep.Prompt().Version() ||
			noticetest.Attr(ev[0], "party") != "caller" || noticetest.Attr(ev[0], "played_ms") != "1000" {
			t.Fatalf("logged %+v", ev)
		}
	})
}

func TestPlayInterrupted(t *testing.T) {
	for _, tc := range []struct {
		cause error
		want  notice.Interruption
	}{
		{notice.ErrHangup, notice.InterruptHangup},
		{notice.ErrBargeIn, notice.InterruptBargeIn},
		{notice.ErrObjected, notice.InterruptObjected},
		{nil, notice.InterruptCanceled},
	} {
		synctest.Test(t, func(t *testing.T) {
			prep := preparedTone(t, time.Second)
			var sink noticetest.Sink
			var log noticetest.Log
			pl := notice.Player{CallID: "c2", Party: notice.PartyAgent, Log: &log}
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(310*time.Millisecond, func() { cancel(tc.cause) })
			r, err := pl.Play(ctx, prep, &sink)
			if err != nil {
				t.Fatal(err)
			}
			if r.Completed() || r.Interrupted != tc.want || r.Played != 320*time.Millisecond ||
				r.End.Sub(r.Start) != 310*time.Millisecond || sink.Len() != 16 {
				t.Fatalf("cause %v: receipt %+v, %d frames", tc.cause, r, sink.Len())
			}
			// The receipt is logged although ctx was canceled.
			ev := log.Snapshot()
			if len(ev) != 1 || noticetest.Attr(ev[0], "completed") != "false" ||
				noticetest.Attr(ev[0], "interrupted") != string(tc.want) || noticetest.Attr(ev[0], "party") != "agent" {
				t.Fatalf("logged %+v", ev)
			}
		})
	}
}

func TestPlayErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prep := preparedTone(t, 200*time.Millisecond)
		boom := errors.New("boom")
		var sink noticetest.Sink
		sink.SetErr(boom)
		log := noticetest.Log{}
		r, err := (&notice.Player{Log: &log}).Play(t.Context(), prep, &sink)
		if !errors.Is(err, boom) || r.Interrupted != notice.InterruptError || len(log.Snapshot()) != 1 {
			t.Fatalf("sink failure: %v, %+v, %d logged", err, r, len(log.Snapshot()))
		}
		if _, err := (&notice.Player{}).Play(t.Context(), prep, &noticetest.Sink{}); !errors.Is(err, notice.ErrNoLog) {
			t.Fatalf("no log: %v", err)
		}
		log.Err = boom
		if _, err := (&notice.Player{Log: &log}).Play(t.Context(), prep, &noticetest.Sink{}); !errors.Is(err, boom) {
			t.Fatalf("log failure: %v", err)
		}
	})
}

func TestRTPPacketizer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prep := preparedTone(t, 100*time.Millisecond)
		var out noticetest.RTPSink
		pk, err := notice.NewRTPPacketizer(&out, 0, 0xCAFE, notice.CodecPCMU)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notice.Stream(t.Context(), prep, pk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // one second of silence between two prompts
		if _, err := notice.Stream(t.Context(), prep, pk); err != nil {
			t.Fatal(err)
		}
		pkts := out.Snapshot()
		if len(pkts) != 10 {
			t.Fatalf("%d packets", len(pkts))
		}
		for i, p := range pkts {
			if p.SSRC != 0xCAFE || p.PayloadType != 0 || p.Version != 2 || len(p.Payload) != 160 {
				t.Fatalf("packet %d: %+v", i, p.Header)
			}
			if p.Marker != (i == 0 || i == 5) {
				t.Fatalf("packet %d: marker %v", i, p.Marker)
			}
			if i == 0 {
				continue
			}
			if p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
				t.Fatalf("packet %d: seq %d after %d", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
			}
			step := uint32(160)
			if i == 5 {
				step += 8000 // the second of silence
			}
			if p.Timestamp-pkts[i-1].Timestamp != step {
				t.Fatalf("packet %d: timestamp +%d, want +%d", i, p.Timestamp-pkts[i-1].Timestamp, step)
			}
		}
	})
	if _, err := notice.NewRTPPacketizer(&noticetest.RTPSink{}, 0, 1, "G729"); !errors.Is(err, notice.ErrCodec) {
		t.Fatalf("unknown codec: %v", err)
	}
}

type sampleSink []media.Sample

func (s *sampleSink) WriteSample(m media.Sample) error { *s = append(*s, m); return nil }

func TestSamplesAdapter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := notice.LoadFile("testdata/notice-en.opus")
		if err != nil {
			t.Fatal(err)
		}
		prep, _ := notice.Prepare(p, notice.CodecOpus, nil)
		var s sampleSink
		start := time.Now()
		if _, err := notice.Stream(t.Context(), prep, notice.Samples(&s)); err != nil {
			t.Fatal(err)
		}
		if len(s) != prep.Len() || s[0].Duration != 20*time.Millisecond || &s[0].Data[0] != &p.OpusPackets()[0][0] {
			t.Fatalf("%d samples, first %v", len(s), s[0].Duration)
		}
		if el := time.Since(start); el != prep.Duration() {
			t.Fatalf("took %v, want %v", el, prep.Duration())
		}
	})
}

func TestSharedSinkSerialises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a, b noticetest.Sink
		shared := notice.Share(notice.Tee(&a, &b))
		long, short := preparedTone(t, time.Second), preparedTone(t, 200*time.Millisecond)
		start := time.Now()
		done := make(chan time.Time)
		go func() {
			if _, err := notice.Stream(t.Context(), long, shared); err != nil {
				t.Error(err)
			}
			done <- time.Now()
		}()
		time.Sleep(100 * time.Millisecond) // the beep asks while the notice plays
		if _, err := notice.Stream(t.Context(), short, shared); err != nil {
			t.Fatal(err)
		}
		end := time.Now()
		longEnd := <-done
		_, times := a.Snapshot()
		if len(times) != 60 || b.Len() != 60 || a.Talkspurts != 2 || b.Talkspurts != 2 {
			t.Fatalf("%d/%d frames, %d talkspurts", len(times), b.Len(), a.Talkspurts)
		}
		// The beep's 10 frames come after the notice's 50, starting when it ended.
		if !times[50].Equal(longEnd) || longEnd.Sub(start) != time.Second || end.Sub(start) != 1200*time.Millisecond {
			t.Fatalf("beep began at +%v, notice ended at +%v, beep ended at +%v",
				times[50].Sub(start), longEnd.Sub(start), end.Sub(start))
		}
		// A playback that gives up while waiting sends nothing.
		ctx, cancel := context.WithCancel(t.Context())
		go func() { _, _ = notice.Stream(t.Context(), long, shared) }()
		time.Sleep(10 * time.Millisecond)
		time.AfterFunc(50*time.Millisecond, cancel)
		if n, err := notice.Stream(ctx, short, shared); n != 0 || err != nil {
			t.Fatalf("gave up: %v, %v", n, err)
		}
	})
}
