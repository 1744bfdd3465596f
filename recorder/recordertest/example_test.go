package recordertest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// MemStore is a ready-to-use in-memory Store for tests; Corrupt damages a
// recording to test integrity handling.
func ExampleMemStore() {
	ctx := context.Background()
	var s recordertest.MemStore
	w, _ := s.Create(ctx, recorder.Meta{ID: "rec-1", CallID: "call-1", Purpose: policy.Training})
	io.WriteString(w, "audio")
	w.Finalize(ctx, recorder.Final{})

	rc, _ := s.Open(ctx, "rec-1")
	b, _ := io.ReadAll(rc)
	fmt.Println(string(b))

	s.Corrupt("rec-1")
	_, err := s.Open(ctx, "rec-1")
	fmt.Println(errors.Is(err, recorder.ErrIntegrity))
	// Output:
	// audio
	// true
}

// Source replays packets to a Leg, as a pion track would.
func ExampleSource() {
	src := &recordertest.Source{Packets: recordertest.OpusPackets([][]byte{{0xF8, 0xFF, 0xFE}, {0xF8, 0xFF, 0xFE}}, 111, 7, 100, 0)}
	n := 0
	for {
		p, _, err := src.ReadRTP()
		if err != nil {
			fmt.Println(n, "packets, then", err)
			return
		}
		n++
		_ = p
	}
	// Output: 2 packets, then EOF
}

// Sequence decodes fuzz input as packet steps: here two steps encoded with
// AppendStep, a PCMU packet then, 20 ms later, the next one of the leg.
func ExampleSequence() {
	var in []byte
	in = recordertest.AppendStep(in, 0, 0, true, false, 1, 0, 0, make([]byte, 160))
	in = recordertest.AppendStep(in, 0, 0, false, false, 1, 160, 20, make([]byte, 160))
	for _, s := range recordertest.Sequence(in, [8]uint8{0}, 1, 100) {
		p := s.Packet
		fmt.Println(s.Wait, p.PayloadType, p.Marker, p.SequenceNumber, p.Timestamp, len(p.Payload))
	}
	// Output:
	// 0s 0 true 1 0 160
	// 20ms 0 false 2 160 160
}

// DiscardStore keeps nothing and counts the bytes: a recorder measured
// without a disk.
func ExampleDiscardStore() {
	ctx := context.Background()
	var s recordertest.DiscardStore
	w, _ := s.Create(ctx, recorder.Meta{ID: "rec-1", CallID: "call-1", Purpose: policy.Quality})
	io.WriteString(w, "audio")
	m, _ := w.Finalize(ctx, recorder.Final{Duration: time.Second})
	fmt.Println(m.ID, m.State, m.Size, m.Duration, s.Written.Load())

	_, err := s.Open(ctx, "rec-1")
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output:
	// rec-1 finalized 5 1s 5
	// true
}
