package consentrec_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/consentrec/consentrec/retention"
)

// recordWith records one 3 s call through a Service whose Options.Writers
// is w, and returns what Hangup catalogued.
func recordWith(t *testing.T, w *recorder.Writers) retention.Recording {
	t.Helper()
	svc, err := consentrec.Open(t.Context(), consentrec.DataDir{}, consentrec.Options{
		Policy: agentPolicy(policy.ProfileFR), Key: []byte("0123456789abcdef0123456789abcdef"), Counter: &policy.MemCounter{},
		Log: audittest.NewLog("test/log", nil), Store: &recordertest.MemStore{}, Catalog: retention.NewMemCatalog(),
		SubjectSecret: []byte("subject-secret-0123456789"), Writers: w,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	c, err := svc.Call(ctx, policy.CallInfo{ID: "call-w", Agent: "agent-7"}, consentrec.CallOptions{Caller: "+33 1 23 45 67 89"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Output(notice.PartyCaller, &noticetest.Sink{}, notice.CodecPCMU); err != nil {
		t.Fatal(err)
	}
	m := startMedia(c)
	if _, err := c.Inform(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AgentStart(ctx, "agent-7", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // in a bubble: fake time
	m.close()
	res, err := c.Hangup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recordings) != 1 {
		t.Fatalf("%d recordings, want 1", len(res.Recordings))
	}
	return res.Recordings[0]
}

// TestOptionsWriters: the host's recorder.Writers writes the Service's
// pages (its Stats count them), with the host's bounds: a queue too small
// for any page loses them, counted and in the gap index, never silently.
func TestOptionsWriters(t *testing.T) {
	t.Run("shared", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := &recorder.Writers{Goroutines: 1}
			recordWith(t, w)
			if st := w.Stats(); st.Pages == 0 || st.Dropped != 0 {
				t.Fatalf("host's Writers: %+v, want the call's pages written, none dropped", st)
			}
		})
	})
	t.Run("queue-too-small", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := &recorder.Writers{QueueBytes: 1}
			r := recordWith(t, w)
			if st := w.Stats(); st.Dropped == 0 {
				t.Fatalf("host's Writers: %+v, want pages dropped by a 1-byte queue", st)
			}
			overload := false
			for _, g := range r.Gaps {
				overload = overload || g.Reason == string(recorder.GapOverload)
			}
			if !overload {
				t.Fatalf("gaps %+v: the pages the queue dropped are not in the gap index", r.Gaps)
			}
		})
	})
}
