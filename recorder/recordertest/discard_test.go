package recordertest_test

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"testing"

	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// A recorder records into a DiscardStore as into any store: its files
// take every byte (counted, concurrently, in Written and in each file's
// Meta.Size), nothing can be read back, and Stop reports the recording.
func TestDiscardStore(t *testing.T) {
	ctx := context.Background()
	var s recordertest.DiscardStore
	var wg sync.WaitGroup
	sizes := make([]int64, 4)
	for c := range sizes {
		wg.Go(func() {
			rec, err := recorder.New(recorder.Config{CallID: "call", Purpose: policy.Quality, Store: &s, Audit: audit.Discard})
			if err != nil {
				t.Error(err)
				return
			}
			l, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
			if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
				t.Error(err)
				return
			}
			for i := range 100 {
				p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
					Payload: []byte{0x78, byte(c), byte(i)}}
				if err := l.WriteRTP(p); err != nil {
					t.Error(err)
				}
			}
			ms, err := rec.Stop(ctx, "a")
			if err != nil || len(ms) != 1 || ms[0].State != recorder.StateFinalized || ms[0].Size == 0 {
				t.Errorf("stop: %+v, %v", ms, err)
				return
			}
			sizes[c] = ms[0].Size
			if _, err := s.Open(ctx, ms[0].ID); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("open of a discarded recording: %v, want fs.ErrNotExist", err)
			}
		})
	}
	wg.Wait()
	total := int64(0)
	for _, n := range sizes {
		total += n
	}
	if got := s.Written.Load(); got != total || total == 0 {
		t.Errorf("Written %d, the files' sizes add up to %d", got, total)
	}
	if ms, err := s.List(ctx); err != nil || len(ms) != 0 {
		t.Errorf("List: %v, %v", ms, err)
	}
}
