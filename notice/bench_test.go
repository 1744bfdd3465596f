package notice_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// discardRTP marshals each packet into a reused buffer, as a UDP writer would.
type discardRTP struct{ buf []byte }

func (d *discardRTP) WriteRTP(p *rtp.Packet) error {
	_, err := p.MarshalTo(d.buf)
	return err
}

// trackContext binds a pion TrackLocalStaticSample without a PeerConnection.
type trackContext struct{ w discardWriter }

type discardWriter struct{ buf []byte }

func (d *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(d.buf)
	return n + len(payload), err
}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

func (c *trackContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0}}
}
func (c *trackContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c *trackContext) SSRC() webrtc.SSRC                                      { return 1 }
func (c *trackContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *trackContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *trackContext) WriteStream() webrtc.TrackLocalWriter                   { return &c.w }
func (c *trackContext) ID() string                                             { return "bench" }
func (c *trackContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// BenchmarkPlayCachedFrame measures the work of sending one 20 ms frame of
// a cached prompt (everything Stream does per frame but wait): no encoding.
func BenchmarkPlayCachedFrame(b *testing.B) {
	p, err := notice.LoadFile("testdata/notice-en.wav")
	if err != nil {
		b.Fatal(err)
	}
	var cache notice.Cache
	prep, err := cache.Get(p, notice.CodecPCMU)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, sink notice.FrameSink) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			data, n := prep.Frame(i)
			if err := sink.WriteFrame(notice.Frame{Data: data, Samples: n, Duration: 20 * time.Millisecond}); err != nil {
				b.Fatal(err)
			}
			if i++; i == prep.Len() {
				i = 0
			}
		}
	}
	b.Run("RTPPacketizer", func(b *testing.B) {
		pk, err := notice.NewRTPPacketizer(&discardRTP{buf: make([]byte, 1500)}, 0, 1, notice.CodecPCMU)
		if err != nil {
			b.Fatal(err)
		}
		run(b, pk)
	})
	b.Run("pion-TrackLocalStaticSample", func(b *testing.B) {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "a", "s")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Bind(&trackContext{w: discardWriter{buf: make([]byte, 1500)}}); err != nil {
			b.Fatal(err)
		}
		run(b, notice.Samples(tr))
	})
}

// Playing a cached prompt allocates a constant amount per playback (the
// timer), nothing per frame, and encodes nothing.
func TestStreamAllocsDoNotGrowWithFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		allocs := func(d time.Duration) float64 {
			prep := preparedTone(t, d)
			pk, err := notice.NewRTPPacketizer(&discardRTP{buf: make([]byte, 1500)}, 0, 1, notice.CodecPCMU)
			if err != nil {
				t.Fatal(err)
			}
			return testing.AllocsPerRun(3, func() {
				if _, err := notice.Stream(t.Context(), prep, pk); err != nil {
					t.Fatal(err)
				}
			})
		}
		short, long := allocs(200*time.Millisecond), allocs(4*time.Second)
		if long > short || long > 10 {
			t.Fatalf("allocs per playback: %v for 10 frames, %v for 200", short, long)
		}
	})
}
