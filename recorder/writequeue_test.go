package recorder_test

import (
	"context"
	"errors"
	"slices"
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
			var starting time.Duration // Start writes the header pages itself
			synctest.Test(t, func(t *testing.T) {
				rec, err := recorder.New(recorder.Config{CallID: "slow", Purpose: policy.Quality, Layout: layout,
					Store: slowStore{mem, 150 * time.Millisecond}, Audit: audit.Discard})
				if err != nil {
					t.Fatal(err)
				}
				c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
				t0 := time.Now()
				if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
					t.Fatal(err)
				}
				starting = time.Since(t0)
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
				// The recording's origin is taken before the store's Create
				// (Meta.Origin): until Start returned and the first packet
				// came, the leg had not started. Nothing else.
				if g.Reason == recorder.GapNotStarted && g.Start == 0 && g.End == starting {
					continue
				}
				if g.Leg == recorder.Customer || g.Leg == "" {
					t.Errorf("customer gap %+v (Start took %v)", g, starting)
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

const preSkip = 312 * time.Second / 48000

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

// loggingStore's writers log their calls ("write", "sync", "checkpoint")
// and block in Write after the header pages until release is closed.
type loggingStore struct {
	*recordertest.MemStore
	release chan struct{}
	mu      *sync.Mutex
	log     *[]string
}

func (s loggingStore) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	w, err := s.MemStore.Create(ctx, m)
	if err != nil {
		return nil, err
	}
	return &loggingWriter{stuckWriter: stuckWriter{checkpointWriter: w.(checkpointWriter), release: s.release}, s: s}, nil
}

type loggingWriter struct {
	stuckWriter
	s loggingStore
}

func (w *loggingWriter) note(op string) {
	w.s.mu.Lock()
	*w.s.log = append(*w.s.log, op)
	w.s.mu.Unlock()
}

func (w *loggingWriter) Write(p []byte) (int, error) {
	n, err := w.stuckWriter.Write(p)
	w.note("write")
	return n, err
}

func (w *loggingWriter) Sync() error {
	w.note("sync")
	return w.stuckWriter.Sync()
}

func (w *loggingWriter) Checkpoint(ctx context.Context, f recorder.Final) error {
	w.note("checkpoint")
	return w.stuckWriter.Checkpoint(ctx, f)
}

// A checkpoint (the pause made durable for Recover) is written after the
// pages queued before it, even when the store is slow: never ahead of the
// audio it describes.
func TestCheckpointAfterQueuedPages(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var log []string
		release := make(chan struct{})
		mem := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "ckpt", Purpose: policy.Quality, Store: loggingStore{mem, release, &mu, &log},
			Audit: audit.Discard, Writers: &recorder.Writers{}})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, _ := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 250 {
			if i == 175 { // 3.5 s: three pages queued behind the stuck store
				if err := rec.Pause(context.Background(), "card-data", "agent-1"); err != nil {
					t.Fatal(err)
				}
				if m, _ := mem.Stat(context.Background(), id); len(m.Gaps) != 0 {
					t.Errorf("pause durable before the pages before it: %+v", m.Gaps)
				}
				close(release)
			}
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		got := slices.Clone(log)
		mu.Unlock()
		want := []string{"write", "write", "write", "write", "write", "sync", "checkpoint"} // 2 headers, 3 pages
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("store calls %v, want %v first", got, want)
		}
		m, _ := mem.Stat(context.Background(), id)
		if g := hasGap(m.Gaps, "", recorder.GapPause); g == nil || g.Actor != "agent-1" || g.Start != 3500*time.Millisecond {
			t.Errorf("checkpointed gaps %+v", m.Gaps)
		}
		if _, err := rec.Stop(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	})
}

// Stop waits for the recording's queued pages only as long as its ctx
// allows: with the store stuck it returns the ctx's error and leaves the
// file unfinalized, for Recover once the store is back.
func TestStopBoundedByContext(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		mem := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "stop", Purpose: policy.Quality, Store: stuckStore{mem, release},
			Audit: audit.Discard, Writers: &recorder.Writers{}})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, _ := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 150 {
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		metas, err := rec.Stop(ctx, "a")
		if !errors.Is(err, context.DeadlineExceeded) || len(metas) != 0 || time.Since(start) != 2*time.Second {
			t.Errorf("Stop with the store stuck: %+v, %v after %v; want the deadline's error after 2 s", metas, err, time.Since(start))
		}
		close(release)
		synctest.Wait() // the queued pages reach the store
		m, err := mem.Stat(context.Background(), id)
		if err != nil || m.State != recorder.StateRecording {
			t.Fatalf("after the failed Stop: %+v, %v", m, err)
		}
		ms, err := recorder.Recover(context.Background(), mem, audit.Discard)
		// The two pages queued (2 s, less the pre-skip); the one being
		// built when Stop gave up is lost.
		if err != nil || len(ms) != 1 || ms[0].Duration != 2*time.Second-preSkip {
			t.Errorf("Recover: %+v, %v; want the pages written after the store came back", ms, err)
		}
	})
}

// Discard drops the pages still queued: only the one being written is
// waited for, then the files are removed.
func TestDiscardDropsQueuedPages(t *testing.T) {
	speech := fixture(t, "speech.opus")
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		mem := &recordertest.MemStore{}
		w := &recorder.Writers{}
		rec, _ := recorder.New(recorder.Config{CallID: "discard", Purpose: policy.Quality, Store: stuckStore{mem, release},
			Audit: audit.Discard, Writers: w})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 250 {
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		go func() {
			time.Sleep(time.Second)
			close(release) // the page being written goes through
		}()
		if err := rec.Discard(context.Background(), "objection", "caller"); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Pages != 1 || st.Queued != 0 {
			t.Errorf("writers after Discard: %+v; want the one page being written, the others dropped", st)
		}
		if ms, _ := mem.List(context.Background()); len(ms) != 0 {
			t.Errorf("after Discard: %+v", ms)
		}
	})
}

// A recording whose store is stuck holds one of the Writers' goroutines,
// never the pages of another recording: a goroutine is started for them
// although one runs already (it is inside a write that does not return).
func TestStuckRecordingHoldsNoOther(t *testing.T) {
	speech := fixture(t, "speech.opus")
	w := &recorder.Writers{Goroutines: 4}
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		start := func(id string, store recorder.Store) (*recorder.Recorder, *recorder.Leg) {
			rec, err := recorder.New(recorder.Config{CallID: id, Purpose: policy.Quality,
				Store: store, Audit: audit.Discard, Writers: w})
			if err != nil {
				t.Fatal(err)
			}
			l, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
			if _, err := rec.Start(context.Background(), policytest.GrantFor(t, rec), "a"); err != nil {
				t.Fatal(err)
			}
			return rec, l
		}
		stuck, sl := start("stuck", stuckStore{&recordertest.MemStore{}, release})
		healthy := &recordertest.MemStore{}
		ok, ol := start("healthy", healthy)
		for i := range 250 { // 5 s: the stuck store's third write blocks
			for _, l := range []*recorder.Leg{sl, ol} {
				if err := l.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i%len(speech)])); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		if st := w.Stats(); st.Goroutines < 1 {
			t.Fatalf("writers %+v: the stuck write should hold a goroutine", st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		metas, err := ok.Stop(ctx, "a")
		if err != nil {
			t.Fatalf("stop of the healthy recording while another is stuck: %v", err)
		}
		if in, err := recorder.Inspect(bytesReader(healthy.Bytes(metas[0].ID))); err != nil || !in.EOS || in.Duration != metas[0].Duration {
			t.Fatalf("healthy recording: %+v, %v", in, err)
		}
		close(release)
		if _, err := stuck.Stop(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	})
}
