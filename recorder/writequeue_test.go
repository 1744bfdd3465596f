package recorder_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// slowStore is a Store whose writers take delay per Write (a network disk,
// S3 behind a spool on a slow volume), in the bubble's fake time.
type slowStore struct {
	*recordertest.MemStore
	delay time.Duration
}

func (s slowStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	w, err := s.MemStore.Create(ctx, m)
	if err != nil {
		return nil, err
	}
	return slowWriter{w.(checkpointWriter), s.delay}, nil
}

type checkpointWriter interface {
	recorder.Writer
	recorder.Checkpointer
}

type slowWriter struct {
	checkpointWriter
	delay time.Duration
}

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	return w.checkpointWriter.Write(p)
}

// A store whose every write takes 150 ms loses nothing of an on-time leg:
// the reading goroutine never waits for a write. (Writing on the RTP path,
// the leg lost 8 of 251 packets: late behind each write.)
func TestSlowStoreLosesNothing(t *testing.T) {
	speech := fixture(t, "speech.opus")
	for _, layout := range []recorder.Layout{recorder.LayoutDual, recorder.LayoutMono} {
		t.Run(string(layout), func(t *testing.T) {
			mem := &recordertest.MemStore{}
			var metas []recorder.Meta
			synctest.Test(t, func(t *testing.T) {
				rec, err := recorder.New(recorder.Config{CallID: "slow", Purpose: policy.Quality, Layout: layout,
					Store: slowStore{mem, 150 * time.Millisecond}, Audit: audit.Discard})
				if err != nil {
					t.Fatal(err)
				}
				c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
				if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
					t.Fatal(err)
				}
				for i := range 251 {
					if err := c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i%len(speech)])); err != nil {
						t.Fatal(err)
					}
					time.Sleep(20 * time.Millisecond)
				}
				if metas, err = rec.Stop(context.Background(), "a"); err != nil {
					t.Fatal(err)
				}
			})
			m := metas[0]
			st := m.Legs[0]
			if st.Packets != 251 || st.Late != 0 || st.Lost != 0 || st.Slips != 0 || st.Overload != 0 {
				t.Errorf("customer leg %+v, want all 251 packets written", st)
			}
			for _, g := range m.Gaps {
				if g.Leg == recorder.Customer || g.Leg == "" {
					t.Errorf("customer gap %+v", g)
				}
			}
			checkFile(t, mem.Bytes(m.ID), m.Duration, len(m.Channels))
		})
	}
}
