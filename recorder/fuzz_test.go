package recorder_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// FuzzInspect: any bytes give an Info or an error, never a panic; what
// Inspect accepts, ExportWAV decodes.
func FuzzInspect(f *testing.F) {
	for _, name := range []string{"speech.opus", "ptime60.opus"} {
		b, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := recorder.Inspect(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, recorder.ErrFormat) && !errors.Is(err, recorder.ErrBadPacket) {
				t.Fatalf("error not wrapping ErrFormat/ErrBadPacket: %v", err)
			}
			return
		}
		if in.Channels < 1 || in.Size != int64(len(b)) {
			t.Fatalf("info %+v for %d bytes", in, len(b))
		}
		var out seekBuf
		if _, err := recorder.ExportWAV(bytes.NewReader(b), &out); err != nil {
			t.Fatalf("Inspect accepts what ExportWAV refuses: %v", err)
		}
	})
}

type seekBuf struct {
	b   []byte
	off int
}

func (s *seekBuf) Write(p []byte) (int, error) {
	if need := s.off + len(p); need > len(s.b) {
		s.b = append(s.b, make([]byte, need-len(s.b))...)
	}
	copy(s.b[s.off:], p)
	s.off += len(p)
	return len(p), nil
}

func (s *seekBuf) Seek(off int64, whence int) (int64, error) {
	s.off = int(off)
	return off, nil
}

// FuzzRecorder: whatever RTP a leg receives (payloads, timestamps,
// sequence numbers, SSRCs, arrival times), the file is valid Ogg Opus whose
// every multistream packet has streams of equal duration.
func FuzzRecorder(f *testing.F) {
	f.Add([]byte{0x78, 1, 2, 3, 0, 0, 3, 0xc0, 0, 0, 0, 1, 0x20}, uint8(3))
	f.Add([]byte{0xfb, 0x83, 1, 2, 9, 8, 8, 7, 0x4b, 0x41, 0x41, 0xff}, uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		store := &recordertest.MemStore{}
		rec, _ := recorder.New(recorder.Config{CallID: "f", Purpose: policy.Quality, Store: store, Audit: audit.Discard, Now: clk.Now, MaxPause: recorder.MaxMaxPause})
		legs := [2]*recorder.Leg{}
		legs[0], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		legs[1], _ = rec.AddLeg(recorder.LegConfig{Role: recorder.Agent})
		ctx := context.Background()
		rec.Start(ctx, policytest.GrantFor(t, rec), "f")
		// Each record: 1 byte flags, 2 bytes seq, 4 bytes ts delta, 1 byte
		// length, payload.
		for i := 0; len(data) >= 8 && i < 400; i++ {
			flags := data[0]
			seq := binary.BigEndian.Uint16(data[1:])
			ts := binary.BigEndian.Uint32(data[3:]) * 120
			n := min(int(data[7]), len(data)-8)
			payload := data[8 : 8+n]
			data = data[8+n:]
			pt := uint8(111)
			if flags&0x10 != 0 {
				pt = 101
			}
			legs[flags&1].WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(flags >> 5)}, Payload: payload})
			clk.Advance(time.Duration(step%64) * time.Millisecond)
			if flags&0x0e == 0x0e {
				if rec.Paused() {
					rec.Resume(ctx, "f")
				} else {
					rec.Pause(ctx, "x", "f")
				}
			}
		}
		clk.Advance(100 * time.Millisecond)
		ms, err := rec.Stop(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}
		in, err := recorder.Inspect(bytes.NewReader(store.Bytes(ms[0].ID)))
		if err != nil {
			t.Fatalf("the recorder wrote an invalid file: %v", err)
		}
		if in.Mismatched != 0 || !in.EOS || in.Channels != 2 || in.Duration != ms[0].Duration {
			t.Fatalf("file %+v, meta duration %v", in, ms[0].Duration)
		}
	})
}
