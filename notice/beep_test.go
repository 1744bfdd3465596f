package notice_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
)

func TestBeeperEvery15s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bp, err := notice.BeepPrompt(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if bp.Duration() != 200*time.Millisecond {
			t.Fatalf("default beep %v", bp.Duration())
		}
		prep, err := notice.Prepare(bp, notice.CodecPCMA, mustPCMA(t))
		if err != nil {
			t.Fatal(err)
		}
		var sink noticetest.Sink
		ctx, cancel := context.WithTimeout(t.Context(), 61*time.Second)
		defer cancel()
		start := time.Now()
		if err := (notice.Beeper{}).Run(ctx, prep, &sink); err != nil {
			t.Fatal(err)
		}
		_, times := sink.Snapshot()
		var starts []time.Duration
		for i, at := range times {
			if i%10 == 0 {
				starts = append(starts, at.Sub(start))
			}
		}
		want := []time.Duration{0, 15 * time.Second, 30 * time.Second, 45 * time.Second, 60 * time.Second}
		if len(times) != 50 || len(starts) != len(want) {
			t.Fatalf("%d frames, beeps at %v", len(times), starts)
		}
		for i := range want {
			if starts[i] != want[i] {
				t.Fatalf("beeps at %v, want %v", starts, want)
			}
		}
	})
}

func TestBeeperErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bp, _ := notice.BeepPrompt(1000, 100*time.Millisecond)
		prep, _ := notice.Prepare(bp, notice.CodecPCMA, mustPCMA(t))
		if err := (notice.Beeper{Interval: 10 * time.Millisecond}).Run(t.Context(), prep, &noticetest.Sink{}); !errors.Is(err, notice.ErrFormat) {
			t.Fatalf("tiny interval: %v", err)
		}
		boom := errors.New("boom")
		var sink noticetest.Sink
		sink.SetErr(boom)
		if err := (notice.Beeper{}).Run(t.Context(), prep, &sink); !errors.Is(err, boom) {
			t.Fatalf("sink error: %v", err)
		}
	})
	if _, err := notice.BeepPrompt(20000, 0); !errors.Is(err, notice.ErrFormat) {
		t.Fatalf("20 kHz beep: %v", err)
	}
}

func mustPCMA(t testing.TB) notice.FrameEncoder {
	e, err := notice.G711Encoders(notice.CodecPCMA)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
