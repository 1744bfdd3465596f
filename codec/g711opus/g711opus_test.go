package g711opus

import (
	"errors"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/pion/interceptor"
	"github.com/pion/opus"
	"github.com/pion/rtp"
)

// fakeSource replays packets, then returns io.EOF.
type fakeSource struct {
	pkts []*rtp.Packet
}

func (f *fakeSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if len(f.pkts) == 0 {
		return nil, nil, io.EOF
	}
	p := f.pkts[0]
	f.pkts = f.pkts[1:]
	return p, nil, nil
}

// tone returns n samples of a 440 Hz tone with a 3 Hz tremolo.
func tone(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		t := float64(i) / 8000
		s[i] = int16(9000 * (0.6 + 0.4*math.Sin(2*math.Pi*3*t)) * math.Sin(2*math.Pi*440*t))
	}
	return s
}

// g711Packets cuts pcm into packets of ptime samples of law, starting at
// seq0/ts0 with SSRC 0x1234.
func g711Packets(pcm []int16, ptime int, law g711.Law, seq0 uint16, ts0 uint32) []*rtp.Packet {
	var out []*rtp.Packet
	for i := 0; i < len(pcm); i += ptime {
		chunk := pcm[i:min(len(pcm), i+ptime)]
		payload := make([]byte, len(chunk))
		law.Encode(payload, chunk)
		out = append(out, &rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: law.PayloadType(), SequenceNumber: seq0 + uint16(len(out)),
				Timestamp: ts0 + uint32(i), SSRC: 0x1234, Marker: i == 0},
			Payload: payload,
		})
	}
	return out
}

type outPkt struct {
	rtp.Header
	payload []byte
}

func drain(t *testing.T, tr *Transcoder) []outPkt {
	t.Helper()
	var out []outPkt
	for {
		p, _, err := tr.ReadRTP()
		if errors.Is(err, io.EOF) {
			// EOF is sticky.
			if _, _, err := tr.ReadRTP(); !errors.Is(err, io.EOF) {
				t.Fatalf("second read after EOF: %v", err)
			}
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, outPkt{p.Header, slices.Clone(p.Payload)})
	}
}

func run(t *testing.T, cfg Config, pkts []*rtp.Packet) ([]outPkt, Stats) {
	t.Helper()
	tr, err := New(&fakeSource{pkts: pkts}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := drain(t, tr)
	return out, tr.Stats()
}

func audio(out []outPkt) []outPkt {
	var a []outPkt
	for _, p := range out {
		if p.PayloadType == DefaultOpusPT {
			a = append(a, p)
		}
	}
	return a
}

func TestContinuous(t *testing.T) {
	for _, law := range []g711.Law{g711.ULaw, g711.ALaw} {
		src := tone(8000)
		out, st := run(t, Config{}, g711Packets(src, 160, law, 65500, 4294960000)) // seq and ts wrap
		if len(out) != 50 || st.Frames != 50 || st.Packets != 50 {
			t.Fatalf("%v: %d packets out, stats %+v", law, len(out), st)
		}
		for i, p := range out {
			if p.PayloadType != DefaultOpusPT || p.SSRC != 0x1234 || p.Marker != (i == 0) {
				t.Fatalf("%v: packet %d header %+v", law, i, p.Header)
			}
			if i > 0 && (p.SequenceNumber != out[i-1].SequenceNumber+1 || p.Timestamp != out[i-1].Timestamp+960) {
				t.Fatalf("%v: packet %d seq %d ts %d after seq %d ts %d", law, i, p.SequenceNumber, p.Timestamp,
					out[i-1].SequenceNumber, out[i-1].Timestamp)
			}
		}
		if first := uint32(4294960000); out[0].Timestamp != first*6 {
			t.Errorf("first timestamp %d, want %d", out[0].Timestamp, first*6)
		}
		// Decode and compare with the source.
		dec, _ := opus.NewDecoderWithOutput(8000, 1)
		var got []int16
		buf := make([]int16, 160)
		for _, p := range out {
			n, err := dec.DecodeToInt16(p.payload, buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		c := correlation(src[800:7000], got[800+52:7000+52])
		t.Logf("%v: correlation of the decoded tone with the source: %.3f", law, c)
		if c < 0.9 {
			t.Errorf("%v: correlation %.3f < 0.9", law, c)
		}
	}
}

func correlation(a, b []int16) float64 {
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	return ab / math.Sqrt(aa*bb)
}

func TestLossIsAGap(t *testing.T) {
	pkts := g711Packets(tone(8000), 160, g711.ULaw, 100, 1000)
	pkts = slices.Delete(pkts, 10, 12) // two packets lost
	out, st := run(t, Config{}, pkts)
	if len(out) != 48 || st.LostFrames != 2 {
		t.Fatalf("%d packets, stats %+v", len(out), st)
	}
	a, b := out[9], out[10]
	if b.Timestamp-a.Timestamp != 3*960 || b.SequenceNumber-a.SequenceNumber != 3 {
		t.Errorf("across the loss: ts +%d seq +%d, want +2880 and +3", b.Timestamp-a.Timestamp, b.SequenceNumber-a.SequenceNumber)
	}
	if b.Marker {
		t.Errorf("marker set after loss (it marks the start of a talkspurt, not loss)")
	}
}

func TestDTXAndComfortNoise(t *testing.T) {
	src := tone(8000)
	first := g711Packets(src[:1600], 160, g711.ULaw, 100, 1000) // frames 0-9
	cn := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: PayloadTypeCN, SequenceNumber: 110, Timestamp: 1000 + 1600, SSRC: 0x1234},
		Payload: []byte{40}}
	second := g711Packets(src[4800:], 160, g711.ULaw, 111, 1000+4800) // frames 30-49
	second[0].Marker = true
	pkts := append(append(first, cn), second...)
	out, st := run(t, Config{}, pkts)
	if len(out) != 30 || st.DTXFrames != 20 || st.LostFrames != 0 || st.ComfortNoise != 1 {
		t.Fatalf("%d packets, stats %+v", len(out), st)
	}
	a, b := out[9], out[10]
	if b.Timestamp-a.Timestamp != 21*960 || b.SequenceNumber-a.SequenceNumber != 1 || !b.Marker {
		t.Errorf("across DTX: ts +%d seq +%d marker %v, want +20160, +1, true", b.Timestamp-a.Timestamp, b.SequenceNumber-a.SequenceNumber, b.Marker)
	}

	// The same silence without a CN packet: still DTX (no sequence gap).
	second = g711Packets(src[4800:], 160, g711.ULaw, 110, 1000+4800)
	out, st = run(t, Config{}, append(g711Packets(src[:1600], 160, g711.ULaw, 100, 1000), second...))
	if len(out) != 30 || st.DTXFrames != 20 || out[10].SequenceNumber-out[9].SequenceNumber != 1 {
		t.Fatalf("DTX without CN: %d packets, stats %+v", len(out), st)
	}
}

func TestLongSilence(t *testing.T) {
	// 20 s of DTX, longer than the ring: skipped without output, then the
	// audio resumes at the right timestamp.
	src := tone(1600)
	pkts := append(g711Packets(src, 160, g711.ULaw, 1, 0), g711Packets(src, 160, g711.ULaw, 11, 8000*20+1600)...)
	out, st := run(t, Config{}, pkts)
	if len(out) != 20 || out[10].Timestamp-out[9].Timestamp != 48000*20+960 || st.DTXFrames != 1000 {
		t.Fatalf("%d packets, jump %d, stats %+v", len(out), out[10].Timestamp-out[9].Timestamp, st)
	}
}

func TestReorderIsRepaired(t *testing.T) {
	in := g711Packets(tone(8000), 160, g711.ULaw, 7, 0)
	want, _ := run(t, Config{}, slices.Clone(in))
	re := slices.Clone(in)
	re[5], re[6] = re[6], re[5]
	re[20], re[21] = re[21], re[20]
	got, st := run(t, Config{}, re)
	if len(got) != len(want) || st.LostFrames != 0 || st.Late != 0 {
		t.Fatalf("%d packets (want %d), stats %+v", len(got), len(want), st)
	}
	for i := range want {
		if got[i].Timestamp != want[i].Timestamp || got[i].SequenceNumber != want[i].SequenceNumber ||
			!slices.Equal(got[i].payload, want[i].payload) {
			t.Fatalf("packet %d differs from the in-order run", i)
		}
	}
}

func TestLatePacketDropped(t *testing.T) {
	in := g711Packets(tone(8000), 160, g711.ULaw, 7, 0)
	late := in[5]
	re := slices.Insert(slices.Delete(slices.Clone(in), 5, 6), 12, late) // 7 packets late > 60 ms
	out, st := run(t, Config{}, re)
	if st.Late != 1 || st.LostFrames != 1 || len(out) != 49 {
		t.Fatalf("%d packets, stats %+v", len(out), st)
	}
}

func TestDuplicates(t *testing.T) {
	in := g711Packets(tone(3200), 160, g711.ULaw, 7, 0)
	in = slices.Insert(in, 5, in[4], in[4])
	out, st := run(t, Config{}, in)
	if st.Duplicates != 2 || len(out) != 20 {
		t.Fatalf("%d packets, stats %+v", len(out), st)
	}
}

func TestLongUnalignedPackets(t *testing.T) {
	// ffmpeg sends PCM in long packets that do not fall on 20 ms.
	src := tone(8000)
	out, st := run(t, Config{}, g711Packets(src, 1000, g711.ALaw, 1, 0))
	if len(out) != 50 || st.PartialFrames != 0 || st.Packets != 8 {
		t.Fatalf("%d packets, stats %+v", len(out), st)
	}
	// Lose the packet covering samples 3000-4000: frames 19-24 are lost,
	// frame 18 (2880-3040) straddles the hole and is sent partial.
	pkts := g711Packets(src, 1000, g711.ALaw, 1, 0)
	pkts = slices.Delete(pkts, 3, 4)
	out, st = run(t, Config{}, pkts)
	if st.LostFrames != 6 || st.PartialFrames != 1 || len(out) != 44 {
		t.Fatalf("loss: %d packets, stats %+v", len(out), st)
	}
}

func TestDTMFPassThrough(t *testing.T) {
	in := g711Packets(tone(8000), 160, g711.ULaw, 100, 5000)
	ev := func(seq uint16, end bool, dur uint16) *rtp.Packet {
		flags := byte(10)
		if end {
			flags |= 0x80
		}
		return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: seq, Timestamp: 5000 + 20*160, SSRC: 0x1234, Marker: !end && dur == 160},
			Payload: []byte{5, flags, byte(dur >> 8), byte(dur)}}
	}
	// Audio packets 20..29 keep their place; events are interleaved and
	// take sequence numbers, as a real sender does.
	var pkts []*rtp.Packet
	seq := uint16(100)
	for i, p := range in {
		p.SequenceNumber = seq
		seq++
		pkts = append(pkts, p)
		if i >= 20 && i < 25 {
			pkts = append(pkts, ev(seq, i == 24, uint16(160*(i-19))))
			seq++
		}
	}
	out, st := run(t, Config{}, pkts)
	if st.DTMF != 5 || st.LostFrames != 0 || len(audio(out)) != 50 || len(out) != 55 {
		t.Fatalf("%d packets (%d audio), stats %+v", len(out), len(audio(out)), st)
	}
	var evs []outPkt
	for _, p := range out {
		if p.PayloadType == 101 {
			evs = append(evs, p)
		}
	}
	for i, e := range evs {
		if e.Timestamp != 5000*6+20*960 {
			t.Errorf("event %d ts %d, want %d", i, e.Timestamp, 5000*6+20*960)
		}
		if d := int(e.payload[2])<<8 | int(e.payload[3]); d != 160*(i+1) || e.payload[0] != 5 {
			t.Errorf("event %d: %v, want duration %d (8 kHz units, unchanged)", i, e.payload, 160*(i+1))
		}
	}
	// Sequence numbers: strictly increasing by one over all packets.
	for i := 1; i < len(out); i++ {
		if out[i].SequenceNumber != out[i-1].SequenceNumber+1 {
			t.Fatalf("seq %d after %d", out[i].SequenceNumber, out[i-1].SequenceNumber)
		}
	}
}

func TestDTMFBeforeAudio(t *testing.T) {
	ev := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 9, Timestamp: 800, SSRC: 1},
		Payload: []byte{1, 0x80, 0, 160}}
	pkts := g711Packets(tone(1600), 160, g711.ULaw, 10, 960)
	for _, p := range pkts {
		p.SSRC = 1
	}
	out, _ := run(t, Config{}, append([]*rtp.Packet{ev}, pkts...))
	if len(out) != 11 || out[0].Timestamp != 800*6 || out[1].Timestamp != 960*6 {
		t.Fatalf("%d packets, ts %d then %d", len(out), out[0].Timestamp, out[1].Timestamp)
	}
}

func TestSSRCChange(t *testing.T) {
	a := g711Packets(tone(1600), 160, g711.ULaw, 10, 0)
	b := g711Packets(tone(1600), 160, g711.ULaw, 5000, 777777)
	for _, p := range b {
		p.SSRC = 99
	}
	out, st := run(t, Config{}, append(a, b...))
	if len(out) != 20 || st.Resets != 1 || out[10].SSRC != 99 || out[10].Timestamp != 777777*6 || !out[10].Marker {
		t.Fatalf("%d packets, stats %+v, out[10] %+v", len(out), st, out[10].Header)
	}
}

func TestOtherRates(t *testing.T) {
	for _, rate := range []int{16000, 48000} {
		cfg := Config{OpusPT: 96}
		cfg.Encoder.SampleRate = rate
		src := tone(8000)
		out, _ := run(t, cfg, g711Packets(src, 160, g711.ULaw, 1, 0))
		if len(out) != 50 || out[0].PayloadType != 96 {
			t.Fatalf("%d Hz: %d packets", rate, len(out))
		}
		dec, _ := opus.NewDecoderWithOutput(8000, 1)
		var got []int16
		buf := make([]int16, 160)
		for _, p := range out {
			n, _ := dec.DecodeToInt16(p.payload, buf)
			got = append(got, buf[:n]...)
		}
		best := 0.0
		for lag := 0; lag < 200; lag++ {
			best = max(best, correlation(src[800:7000], got[800+lag:7000+lag]))
		}
		t.Logf("%d Hz encoding: correlation %.3f", rate, best)
		if best < 0.9 {
			t.Errorf("%d Hz: correlation %.3f", rate, best)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	src := &fakeSource{}
	for _, c := range []Config{{OpusPT: 200}, {OpusPT: 101, DTMFPT: 101}, {ReorderWindow: -1}, {ReorderWindow: 2e9}} {
		if _, err := New(src, c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if _, err := New(nil, Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("nil source: %v", err)
	}
	bad := Config{}
	bad.Encoder.SampleRate = 44100
	if _, err := New(src, bad); !errors.Is(err, ErrConfig) {
		t.Errorf("44.1 kHz encoder: %v", err)
	}
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	pkts := g711Packets(tone(800), 160, g711.ULaw, 1, 0)
	i := 0
	tr, _ := New(sourceFunc(func() (*rtp.Packet, interceptor.Attributes, error) {
		if i < len(pkts) {
			i++
			return pkts[i-1], nil, nil
		}
		return nil, nil, boom
	}), Config{})
	n := 0
	for {
		_, _, err := tr.ReadRTP()
		if err != nil {
			if !errors.Is(err, boom) || n != 5 {
				t.Fatalf("after %d packets: %v", n, err)
			}
			break
		}
		n++
	}
}

type sourceFunc func() (*rtp.Packet, interceptor.Attributes, error)

func (f sourceFunc) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) { return f() }

// Issue 18 item 1: a telephone-event sets the clock, then audio arrives
// with an earlier timestamp on the same SSRC. Its position is negative; it
// used to index the frame ring with -1 and panic.
func TestAudioBeforeDTMFClock(t *testing.T) {
	for _, ts0 := range []uint32{99840, 99841, 99999, 99000, 4294867296, 5, 0xffffff00} {
		ev := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 9, Timestamp: 100000, SSRC: 1},
			Payload: []byte{1, 0x80, 0, 160}}
		pkts := g711Packets(tone(1600), 160, g711.ULaw, 10, ts0)
		for _, p := range pkts {
			p.SSRC = 1
		}
		out, st := run(t, Config{}, append([]*rtp.Packet{ev}, pkts...))
		a := audio(out)
		if st.DTMF != 1 || st.Late != 0 || len(a) < 10 || len(a) > 11 {
			t.Fatalf("ts0 %d: %d audio packets, stats %+v", ts0, len(a), st)
		}
		// Output timestamps keep the 6x mapping of the input clock, on the
		// grid of 20 ms frames; all audio is sent, none dropped as late.
		for i := 1; i < len(a); i++ {
			if a[i].Timestamp-a[i-1].Timestamp != 960 {
				t.Fatalf("ts0 %d: step %d at %d", ts0, a[i].Timestamp-a[i-1].Timestamp, i)
			}
		}
		if first, want := a[0].Timestamp, ts0*6; int32(want-first) < 0 || want-first >= 960 {
			t.Fatalf("ts0 %d: first audio at %d, want the frame holding %d", ts0, first, want)
		}
	}
}

// A telephone-event on another SSRC re-anchors the clock: the audio frames
// still waiting in the reorder window are sent first (they used to be
// wiped without a trace), and the re-anchoring is counted. Found by
// FuzzTranscode (an output timestamp off the 20 ms grid with no reset).
func TestDTMFOnAnotherSSRCKeepsPendingAudio(t *testing.T) {
	pkts := g711Packets(tone(1600), 160, g711.ULaw, 10, 0)
	pkts = append(pkts[:8], pkts[9]) // packet 8 lost: frame 9 waits behind it
	ev := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 500, Timestamp: 777, SSRC: 99},
		Payload: []byte{1, 0x80, 0, 160}}
	more := g711Packets(tone(320), 160, g711.ULaw, 20, 1600)
	out, st := run(t, Config{}, append(append(pkts, ev), more...))
	a := audio(out)
	if st.Frames != 11 || len(a) != 11 || st.DTMF != 1 || st.Resets < 1 {
		t.Fatalf("%d audio packets, stats %+v", len(a), st)
	}
	for i := 1; i < 9; i++ { // frames 0-7 and 9 of the first grid
		if d := a[i].Timestamp - a[i-1].Timestamp; d != 960 && !(i == 8 && d == 1920) {
			t.Fatalf("frame %d: step %d", i, d)
		}
	}
}
