package recorder_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
)

// slowCreateStore delays Create, as a network disk or an fsync under load does.
type slowCreateStore struct {
	recorder.Store
	delay time.Duration
}

func (s slowCreateStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	time.Sleep(s.delay)
	return s.Store.Create(ctx, m)
}

// TestMetaOrigin: every file's Meta (and its JSON metadata) carries the
// wall-clock instant of slot 0, so that a gap's offset becomes a wall time:
// a leg whose first packet arrives at T has a not-started gap ending at
// T - Origin, even when the store took 300 ms to create the file.
func TestMetaOrigin(t *testing.T) {
	for _, layout := range []recorder.Layout{recorder.LayoutDual, recorder.LayoutMono} {
		t.Run(string(layout), func(t *testing.T) {
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				fs, err := recorder.NewFileStore(dir)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Layout: layout,
					Store: slowCreateStore{fs, 300 * time.Millisecond}, Audit: audit.Discard})
				if err != nil {
					t.Fatal(err)
				}
				c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
				ctx := context.Background()
				called := time.Now()
				if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				first := time.Now()
				for i := range 50 {
					if err := c.WriteRTP(pkt(1, uint16(i), uint32(i*960), []byte{0x78, byte(i), 1})); err != nil {
						t.Fatal(err)
					}
					time.Sleep(20 * time.Millisecond)
				}
				metas, err := rec.Stop(ctx, "a")
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range metas {
					if !m.Origin.Equal(called) {
						t.Errorf("%s: origin %v, want %v (when Start was called)", m.ID, m.Origin, called)
					}
					if !m.Origin.Before(m.Created) {
						t.Errorf("%s: origin %v not before created %v", m.ID, m.Origin, m.Created)
					}
					if m.Channels[0] != recorder.Customer {
						continue
					}
					var end time.Duration = -1
					for _, g := range m.Gaps {
						if g.Leg == recorder.Customer && g.Reason == recorder.GapNotStarted {
							end = g.End
						}
					}
					if got := m.Origin.Add(end); !got.Equal(first) {
						t.Errorf("%s: not-started gap ends at origin+%v = %v, first packet at %v", m.ID, end, got, first)
					}
					b, err := os.ReadFile(filepath.Join(dir, m.ID+".json"))
					if err != nil {
						t.Fatal(err)
					}
					var j struct {
						Origin time.Time `json:"origin"`
					}
					if err := json.Unmarshal(b, &j); err != nil || !j.Origin.Equal(called) {
						t.Errorf("%s: metadata origin %v (%v), want %v", m.ID, j.Origin, err, called)
					}
				}
			})
		})
	}
}
