package recorder_test

import (
	"context"
	"errors"
	"sync"
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

// stuckStore's writers accept the header pages, then block in Write until
// release is closed (a hung NFS mount, a stalled upload spool).
type stuckStore struct {
	*recordertest.MemStore
	release chan struct{}
}

func (s stuckStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	w, err := s.MemStore.Create(ctx, m)
	if err != nil {
		return nil, err
	}
	return &stuckWriter{checkpointWriter: w.(checkpointWriter), release: s.release}, nil
}

type stuckWriter struct {
	checkpointWriter
	release chan struct{}
	writes  int
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > 2 {
		<-w.release
	}
	return w.checkpointWriter.Write(p)
}

// A store that blocks fills the queue: the pages that find it full are
// dropped, counted and put in the gap index ("overload"), silence stands
// for them in valid files (opusinfo, ffmpeg, opusdec), every other page
// lands where it belongs, and the reading goroutine never waits.
func TestStuckStoreDropsCountedPages(t *testing.T) {
	speech, tone := fixture(t, "speech.opus"), fixture(t, "tone.opus")
	for _, layout := range []recorder.Layout{recorder.LayoutDual, recorder.LayoutMono} {
		t.Run(string(layout), func(t *testing.T) {
			mem := &recordertest.MemStore{}
			// Room for two pages (8 KiB buffers in dual, 4 KiB in mono
			// with two files): one being written (stuck), one queued.
			w := &recorder.Writers{Goroutines: 2, RecordingBytes: 16 << 10}
			var metas []recorder.Meta
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				rec, err := recorder.New(recorder.Config{CallID: "stuck", Purpose: policy.Quality, Layout: layout,
					Store: stuckStore{mem, release}, Audit: audit.Discard, Writers: w})
				if err != nil {
					t.Fatal(err)
				}
				c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
				a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
				if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
					t.Fatal(err)
				}
				for i := range 500 {
					if i == 300 {
						if st := c.Stats(); st.Overload == 0 {
							t.Errorf("store stuck for 6 s: no overload counted: %+v", st)
						}
						close(release)
					}
					for j, l := range []*recorder.Leg{c, a} {
						at := time.Now()
						if err := l.WriteRTP(pkt(uint32(j+1), uint16(i), uint32(i*960), [][][]byte{speech, tone}[j][i%250])); err != nil {
							t.Fatal(err)
						}
						if d := time.Since(at); d != 0 {
							t.Fatalf("WriteRTP took %v with the store stuck", d)
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				if metas, err = rec.Stop(context.Background(), "a"); err != nil {
					t.Fatal(err)
				}
			})
			st := w.Stats()
			t.Logf("writers %+v", st)
			if st.Dropped == 0 || st.Silence == 0 || st.Queued != 0 {
				t.Errorf("writers %+v: want pages dropped and silence written, nothing left queued", st)
			}
			var overload []recorder.Gap
			for _, m := range metas {
				for _, g := range m.Gaps {
					if g.Reason == recorder.GapOverload {
						overload = append(overload, g)
					}
				}
			}
			if len(overload) == 0 {
				t.Fatalf("no overload gap in %+v", metas)
			}
			t.Logf("overload gaps %+v", overload)
			for _, m := range metas {
				for _, ls := range m.Legs {
					var slots int64
					for _, g := range m.Gaps {
						if g.Reason == recorder.GapOverload && (g.Leg == "" || g.Leg == ls.Role) {
							slots += int64((g.End - g.Start) / recorder.SlotDuration)
						}
					}
					// Every packet came on time: each slot is either written or dropped.
					if ls.Overload == 0 || ls.Overload != slots || ls.Packets+ls.Overload != 500 || ls.Late != 0 || ls.Lost != 0 {
						t.Errorf("%s leg %+v: overload %d slots in the gap index, want packets+overload = 500", ls.Role, ls, slots)
					}
				}
				// The file is valid and as long as its metadata says.
				in, err := recorder.Inspect(bytesReader(mem.Bytes(m.ID)))
				if err != nil || in.Duration != m.Duration || !in.EOS {
					t.Fatalf("inspect %s: %+v, %v", m.ID, in, err)
				}
				wv := checkFile(t, mem.Bytes(m.ID), m.Duration, len(m.Channels))
				// The agent's tone is where it was sent, silence where
				// its pages were dropped: nothing shifted.
				ch := len(m.Channels) - 1
				if m.Channels[ch] != recorder.Agent {
					continue
				}
				g := overload[len(overload)-1]
				for _, sp := range [][2]time.Duration{{200 * time.Millisecond, g0(overload) - 100*time.Millisecond}, {g.End + 200*time.Millisecond, 9800 * time.Millisecond}} {
					if k := goertzel(span(wv, ch, sp[0], sp[1]), wv.rate, 1000); k < 0.15 {
						t.Errorf("agent tone missing in %v-%v: %.4f", sp[0], sp[1], k)
					}
				}
				if r := rms(span(wv, ch, g0(overload)+100*time.Millisecond, g.End-100*time.Millisecond)); r > 0.001 {
					t.Errorf("dropped span not silent: rms %.4f", r)
				}
			}
		})
	}
}

func g0(gs []recorder.Gap) time.Duration { return gs[0].Start }

var errDiskFull = errors.New("disk full")

// failingStore's writers fail every Write after the header pages.
type failingStore struct{ *recordertest.MemStore }

func (s failingStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	w, err := s.MemStore.Create(ctx, m)
	if err != nil {
		return nil, err
	}
	return &failingWriter{checkpointWriter: w.(checkpointWriter)}, nil
}

type failingWriter struct {
	checkpointWriter
	writes int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > 2 {
		return 0, errDiskFull
	}
	return w.checkpointWriter.Write(p)
}

// A store error on a queued page still fails the recording: OnError hears
// of it during the call, Stop returns it and leaves the file unfinalized
// (for Recover), and WriteRTP never sees it.
func TestStoreErrorFailsRecording(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		mem := &recordertest.MemStore{}
		var mu sync.Mutex
		var reported []error
		rec, err := recorder.New(recorder.Config{CallID: "fail", Purpose: policy.Quality, Store: failingStore{mem}, Audit: audit.Discard,
			OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			if err := c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i])); err != nil {
				t.Fatalf("WriteRTP: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		if len(reported) != 1 || !errors.Is(reported[0], errDiskFull) {
			t.Errorf("OnError during the call: %v, want the store's error once", reported)
		}
		mu.Unlock()
		metas, err := rec.Stop(context.Background(), "a")
		if !errors.Is(err, errDiskFull) || len(metas) != 0 {
			t.Errorf("Stop: %+v, %v; want the store's error", metas, err)
		}
		if m, err := mem.Stat(context.Background(), id); err != nil || m.State != recorder.StateRecording {
			t.Errorf("after a failed write: %+v, %v; want it left for Recover", m, err)
		}
	})
}
