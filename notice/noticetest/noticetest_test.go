package noticetest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/pion/rtp"
)

func TestTelephoneEvents(t *testing.T) {
	p := noticetest.TelephoneEvents('#', 8000, 100*time.Millisecond)
	if len(p) != 4+3 { // updates at 20, 40, 60, 80 ms, then three end packets
		t.Fatalf("%d payloads", len(p))
	}
	for i, b := range p {
		ev, err := notice.ParseTelephoneEvent(b)
		if err != nil || ev.Event != 11 || ev.End != (i >= 4) {
			t.Fatalf("payload %d: %+v, %v", i, ev, err)
		}
	}
	if ev, _ := notice.ParseTelephoneEvent(p[6]); ev.Duration != 800 {
		t.Fatalf("end duration %d, want 800", ev.Duration)
	}
}

func TestDTMFIsDetected(t *testing.T) {
	d, _ := notice.NewToneDetector(16000)
	keys := d.Feed(nil, noticetest.DTMF('7', 16000, 60*time.Millisecond, -20))
	if string(keys) != "7" {
		t.Fatalf("keys %q", keys)
	}
}

func TestFakes(t *testing.T) {
	var s noticetest.Sink
	data := []byte{1, 2, 3}
	if err := s.WriteFrame(notice.Frame{Data: data}); err != nil {
		t.Fatal(err)
	}
	data[0] = 9
	if f, _ := s.Snapshot(); f[0].Data[0] != 1 {
		t.Fatal("Sink must copy frames")
	}
	boom := errors.New("boom")
	s.SetErr(boom)
	if err := s.WriteFrame(notice.Frame{}); !errors.Is(err, boom) || s.Len() != 1 {
		t.Fatalf("err %v, %d frames", err, s.Len())
	}
	var r noticetest.RTPSink
	pkt := &rtp.Packet{Header: rtp.Header{SequenceNumber: 5}, Payload: []byte{1}}
	_ = r.WriteRTP(pkt)
	pkt.Payload[0] = 2
	if got := r.Snapshot(); got[0].Payload[0] != 1 || got[0].SequenceNumber != 5 {
		t.Fatal("RTPSink must deep-copy packets")
	}
	var l noticetest.Log
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Append(ctx, audit.Event{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled append: %v", err)
	}
}

func ExampleSink() {
	p, _ := notice.BeepPrompt(0, 60*time.Millisecond)
	var cache notice.Cache
	prep, _ := cache.Get(p, notice.CodecPCMA)
	var sink noticetest.Sink
	_, _ = notice.Stream(context.Background(), prep, &sink)
	frames, _ := sink.Snapshot()
	fmt.Println(len(frames), "frames of", len(frames[0].Data), "bytes,", sink.Talkspurts, "talkspurt")
	// Output: 3 frames of 160 bytes, 1 talkspurt
}

// Run the conformance suite on your own FrameEncoder.
func ExampleTestFrameEncoder() {
	// In a _test.go file:
	//
	//	func TestMyEncoder(t *testing.T) {
	//		noticetest.TestFrameEncoder(t, func(t *testing.T) notice.FrameEncoder { return mycodec.New() })
	//	}
	fmt.Println("see TestG711EncodersConformance in package notice")
	// Output: see TestG711EncodersConformance in package notice
}
