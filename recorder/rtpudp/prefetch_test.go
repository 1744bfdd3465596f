package rtpudp

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// logWriter logs its Prefetch stages and writes; it prefetches stages
// below stages.
type logWriter struct {
	name   string
	stages int
	log    *[]string
}

func (w *logWriter) WriteRTP(p *rtp.Packet) error {
	*w.log = append(*w.log, fmt.Sprintf("%s write %d", w.name, p.SequenceNumber))
	return nil
}

func (w *logWriter) Prefetch(stage int) bool {
	*w.log = append(*w.log, fmt.Sprintf("%s %d", w.name, stage))
	return stage+1 < w.stages
}

// A batch's Prefetchers run stage by stage, each stage for every packet of
// the batch (in batch order) before the next, as long as they return true
// and at most maxPrefetchStages; then the packets are written. Writers that
// do not prefetch, unknown SSRCs and malformed datagrams are left out.
func TestPrefetchStagesBeforeWrites(t *testing.T) {
	var log []string
	s := &Server{cfg: Config{Batch: 5}}
	s.byssrc.put(1, newStream(&logWriter{name: "a", stages: 2, log: &log}))
	s.byssrc.put(2, newStream(&logWriter{name: "b", stages: 1, log: &log}))
	s.byssrc.put(3, newStream(&logWriter{name: "c", stages: 100, log: &log}))
	plain := &chanWriter{ch: make(chan rtp.Packet, 1)}
	s.byssrc.put(4, newStream(plain))
	r := s.newReaderBufs()
	for i, d := range [][]byte{packet(1, 10), packet(2, 20), packet(4, 40), packet(3, 30), packet(9, 90)} {
		r.lens[i] = copy(r.bufs[i], d)
	}
	r.dispatch(5, time.Now())
	want := []string{"a 0", "b 0", "c 0", "a 1", "c 1", "c 2", "c 3",
		"a write 10", "b write 20", "c write 30"}
	if !slices.Equal(log, want) {
		t.Fatalf("calls:\n%q\nwant\n%q", log, want)
	}
	if p := <-plain.ch; p.SequenceNumber != 40 {
		t.Fatalf("plain writer got %d", p.SequenceNumber)
	}
	if st := s.Stats(); st.Unknown != 1 || st.Datagrams != 5 {
		t.Fatalf("stats %+v", st)
	}
}
