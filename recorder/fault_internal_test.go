package recorder

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// auditLog records the events appended.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Append(_ context.Context, e audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return uint64(len(a.events)), nil
}

func (a *auditLog) incidents() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Kind == audit.KindIntegrityFailure && e.Reason == "leg-panic" {
			out = append(out, e)
		}
	}
	return out
}

// setFaultHook installs a test hook for the duration of the test.
func setFaultHook(t *testing.T, h func(point string, l *Leg, p *rtp.Packet)) {
	t.Helper()
	faultHook.Store(&h)
	t.Cleanup(func() { faultHook.Store(nil) })
}

// faultRig is a recording with two legs in a synctest bubble.
type faultRig struct {
	t      *testing.T
	dir    string
	store  *FileStore
	log    *auditLog
	rec    *Recorder
	legs   [2]*Leg
	seq    [2]int
	layout Layout
}

func newFaultRig(t *testing.T, layout Layout) *faultRig {
	t.Helper()
	dir := t.TempDir()
	store, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := &faultRig{t: t, dir: dir, store: store, log: &auditLog{}, layout: layout}
	g.rec, err = New(Config{CallID: "c", Purpose: policy.Quality, Store: store, Audit: g.log, Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	g.legs[0], _ = g.rec.AddLeg(LegConfig{Role: Customer, OpusPT: 111})
	g.legs[1], _ = g.rec.AddLeg(LegConfig{Role: Agent, OpusPT: 111})
	if _, err := g.rec.Start(context.Background(), policytest.GrantFor(t, g.rec), "a"); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *faultRig) packet(i int) *rtp.Packet {
	n := g.seq[i]
	g.seq[i]++
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: uint32(i + 1),
		SequenceNumber: uint16(n), Timestamp: uint32(n * 960)}, Payload: []byte{0x78, 1, 2, 3}}
}

// stop stops the recording and checks every file: valid Ogg Opus per
// Inspect, its duration the metadata's.
func (g *faultRig) stop() []Meta {
	g.t.Helper()
	metas, err := g.rec.Stop(context.Background(), "a")
	if err != nil {
		g.t.Fatalf("stop: %v", err)
	}
	for _, m := range metas {
		f, err := g.store.Open(context.Background(), m.ID)
		if err != nil {
			g.t.Fatal(err)
		}
		in, err := Inspect(f)
		f.Close()
		if err != nil {
			g.t.Fatalf("%s: invalid file after a fault: %v", m.ID, err)
		}
		if !in.EOS || in.Mismatched != 0 || in.Duration != m.Duration {
			g.t.Fatalf("%s: file %+v, meta duration %v", m.ID, in, m.Duration)
		}
	}
	return metas
}

func legStats(metas []Meta, role Role) LegStats {
	for _, m := range metas {
		for _, s := range m.Legs {
			if s.Role == role {
				return s
			}
		}
	}
	return LegStats{}
}

// TestLegPanicEndsOnlyThatLeg: a panic while one leg's packet is placed on
// the timeline ends that leg only. WriteRTP returns the fault, the leg then
// refuses packets, the other leg records to the end, the files are valid,
// and the fault is counted and audited.
func TestLegPanicEndsOnlyThatLeg(t *testing.T) {
	for _, layout := range []Layout{LayoutDual, LayoutMono} {
		t.Run(string(layout), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newFaultRig(t, layout)
				setFaultHook(t, func(point string, l *Leg, _ *rtp.Packet) {
					if point == "store" && l == g.legs[0] && g.seq[0] == 51 {
						panic("injected fault")
					}
				})
				for i := range 150 {
					for j := range 2 {
						err := g.legs[j].WriteRTP(g.packet(j))
						switch {
						case j == 0 && i == 50:
							var lf *LegFault
							if !errors.Is(err, ErrLegFailed) || !errors.As(err, &lf) || lf.Role != Customer || lf.Value != "injected fault" || len(lf.Stack) == 0 {
								t.Fatalf("packet %d: %v, want the leg's fault", i, err)
							}
						case j == 0 && i > 50:
							if !errors.Is(err, ErrClosed) || errors.Is(err, ErrLegFailed) {
								t.Fatalf("packet %d after the fault: %v, want ErrClosed", i, err)
							}
						case err != nil:
							t.Fatalf("leg %d packet %d: %v", j, i, err)
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				metas := g.stop()
				cs, as := legStats(metas, Customer), legStats(metas, Agent)
				if cs.Panics != 1 || cs.Packets < 45 || cs.Packets > 50 {
					t.Errorf("customer stats %+v", cs)
				}
				if as.Panics != 0 || as.Packets < 145 {
					t.Errorf("agent stats %+v: the other leg must keep recording", as)
				}
				inc := g.log.incidents()
				if len(inc) != len(metas) {
					t.Fatalf("%d incidents audited for %d files", len(inc), len(metas))
				}
				for _, e := range inc {
					if e.Actor != "system" || e.RecordingID == "" || !hasAttr(e, "leg", "customer") {
						t.Errorf("incident %+v", e)
					}
				}
				// The customer's channel is "ended" from the fault on.
				ended := false
				for _, m := range metas {
					for _, gp := range m.Gaps {
						if gp.Leg == Customer && gp.Reason == GapEnded && gp.Start >= 900*time.Millisecond && gp.End >= 2900*time.Millisecond {
							ended = true
						}
					}
				}
				if !ended {
					t.Errorf("no ended gap for the failed leg: %+v", metas[0].Gaps)
				}
			})
		})
	}
}

func hasAttr(e audit.Event, k, v string) bool {
	for _, a := range e.Attrs {
		if a.Key == k && a.Value == v {
			return true
		}
	}
	return false
}

// TestDTMFPanicEndsLeg: a panic on the telephone-event path (before any
// audio) is recovered the same way.
func TestDTMFPanicEndsLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newFaultRig(t, LayoutDual)
		setFaultHook(t, func(point string, l *Leg, p *rtp.Packet) {
			if point == "write" && p != nil && p.PayloadType == 101 {
				panic(errors.New("dtmf fault"))
			}
		})
		ev := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: 2}, Payload: []byte{1, 0x80, 0, 160}}
		if err := g.legs[1].WriteRTP(ev); !errors.Is(err, ErrLegFailed) {
			t.Fatalf("dtmf: %v", err)
		}
		for range 20 {
			if err := g.legs[0].WriteRTP(g.packet(0)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		metas := g.stop()
		if s := legStats(metas, Agent); s.Panics != 1 {
			t.Errorf("agent stats %+v", s)
		}
		if n := len(g.log.incidents()); n != 1 {
			t.Errorf("%d incidents", n)
		}
	})
}

// panickySource returns n packets, then panics in ReadRTP (a bug in an
// adapter such as the G.711 transcoder, reached by a packet).
type panickySource struct {
	g *faultRig
	n int
}

func (s *panickySource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if s.n == 0 {
		var a []int
		i := s.n - 1
		_ = a[i] // index out of range [-1]
	}
	s.n--
	time.Sleep(20 * time.Millisecond)
	return s.g.packet(0), nil, nil
}

// TestSourcePanicEndsLeg: a panic inside the Source's ReadRTP under
// Consume ends the leg and returns its fault; the recording goes on. The
// fault comes past the leg's first MaxBurst, while the other leg speaks:
// what the leg sent until its reorder window is written (a fault in its
// first MaxBurst, while the writing holds back, loses what it buffered).
func TestSourcePanicEndsLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newFaultRig(t, LayoutDual)
		ctx := context.Background()
		// The agent speaks all along (2 s).
		agent := 0
		src := SourceFunc(func() (*rtp.Packet, interceptor.Attributes, error) {
			if agent == 100 {
				return nil, nil, io.EOF
			}
			agent++
			time.Sleep(20 * time.Millisecond)
			return g.packet(1), nil, nil
		})
		done := make(chan error, 1)
		go func() { done <- g.legs[1].Consume(ctx, src) }()
		err := g.legs[0].Consume(ctx, &panickySource{g: g, n: 80})
		var lf *LegFault
		if !errors.As(err, &lf) || lf.Role != Customer {
			t.Fatalf("consume: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		metas := g.stop()
		if s := legStats(metas, Customer); s.Panics != 1 || s.Packets < 75 {
			t.Errorf("customer %+v", s)
		}
		if s := legStats(metas, Agent); s.Packets < 95 {
			t.Errorf("agent %+v", s)
		}
		if n := len(g.log.incidents()); n != 1 {
			t.Errorf("%d incidents", n)
		}
	})
}

// TestTimerPanicEndsLegs: a panic while the timer writes slots (no packet
// to blame) ends every leg and the timer, not the process; Stop finalizes
// a valid file.
func TestTimerPanicEndsLegs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newFaultRig(t, LayoutDual)
		for range 10 {
			for j := range 2 {
				if err := g.legs[j].WriteRTP(g.packet(j)); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		var armed sync.Mutex
		fire := true
		setFaultHook(t, func(point string, l *Leg, _ *rtp.Packet) {
			armed.Lock()
			defer armed.Unlock()
			if point == "take" && fire {
				fire = false
				panic("timer fault")
			}
		})
		time.Sleep(time.Second + DefaultMaxBurst) // the timer writes the buffered slots (a silent leg is waited for up to MaxBurst)
		synctest.Wait()                           // and reports the faults
		if err := g.legs[0].WriteRTP(g.packet(0)); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after the timer's fault: %v", err)
		}
		metas := g.stop()
		if s := legStats(metas, Customer); s.Panics != 1 {
			t.Errorf("customer %+v", s)
		}
		if n := len(g.log.incidents()); n != 2 {
			t.Errorf("%d incidents, want one per leg", n)
		}
	})
}

// TestStopPanicFinalizes: a panic while Stop writes the last slots still
// finalizes the file.
func TestStopPanicFinalizes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newFaultRig(t, LayoutMono)
		for range 3 {
			for j := range 2 {
				if err := g.legs[j].WriteRTP(g.packet(j)); err != nil {
					t.Fatal(err)
				}
			}
		}
		fire := true
		setFaultHook(t, func(point string, l *Leg, _ *rtp.Packet) {
			if point == "take" && fire {
				fire = false
				panic("stop fault")
			}
		})
		time.Sleep(100 * time.Millisecond) // before the timer: Stop writes these slots
		metas := g.stop()
		if len(metas) != 2 || len(g.log.incidents()) != 4 { // 2 legs x 2 files
			t.Errorf("%d files, %d incidents", len(metas), len(g.log.incidents()))
		}
	})
}

// TestOggRepair: a page with a packet's bytes but not its lacing (a panic
// between the two) is trimmed back to its last whole packet.
func TestOggRepair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.opus")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st := newOggStream(f, 1, 1, 3072)
	if err := st.writeHeader(opusHead(1), flagBOS); err != nil {
		t.Fatal(err)
	}
	if err := st.writeHeader(opusTags("t", nil), 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := st.add(silence20, slotSamples); err != nil {
			t.Fatal(err)
		}
	}
	// A 300-byte packet: bytes and the first lacing value (255) only.
	st.buf = append(st.buf, make([]byte, 300)...)
	st.lacing[st.nseg] = 255
	st.nseg++
	st.repair()
	if st.npk != 3 || st.nseg != 3 {
		t.Fatalf("after repair: %d packets, %d segments", st.npk, st.nseg)
	}
	if err := st.add(silence20, slotSamples); err != nil {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, _ := os.Open(path)
	defer r.Close()
	in, err := Inspect(r)
	if err != nil || in.Packets != 4 {
		t.Fatalf("inspect: %+v, %v", in, err)
	}
}
