package notice_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
)

// A notice that waits for its turn on a shared sink (the greeting plays
// first) and is cut by a hang-up during its last frame was not heard to
// the end: its receipt must not say completed, and it must start when the
// notice began to play, not when it began to wait.
func TestPlayAfterWaitingInterruptedAtTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sink noticetest.Sink
		shared := notice.Share(&sink)
		greeting, prep := preparedTone(t, time.Second), preparedTone(t, 200*time.Millisecond)
		start := time.Now()
		go func() { _, _ = notice.Stream(t.Context(), greeting, shared) }()
		time.Sleep(time.Millisecond)
		var log noticetest.Log
		pl := notice.Player{CallID: "c", Log: &log}
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(1190*time.Millisecond, func() { cancel(notice.ErrHangup) })
		r, err := pl.Play(ctx, prep, shared)
		if err != nil {
			t.Fatal(err)
		}
		if r.Completed() || r.Interrupted != notice.InterruptHangup {
			t.Errorf("hang-up 10 ms before the end: receipt %+v", r)
		}
		if got := r.Start.Sub(start); got != time.Second {
			t.Errorf("receipt starts at +%v, the notice began to play at +1s", got)
		}
	})
}
