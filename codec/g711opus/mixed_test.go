package g711opus_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/codec/resample"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// pacedSource sends one packet every 20 ms (fake time in a synctest
// bubble), as a phone or a WebRTC peer would, then io.EOF.
type pacedSource struct {
	pkts []*rtp.Packet
	i    int
}

func (p *pacedSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if p.i == len(p.pkts) {
		return nil, nil, io.EOF
	}
	time.Sleep(20 * time.Millisecond)
	p.i++
	return p.pkts[p.i-1], nil, nil
}

// voice is a voice-like 8 kHz signal: a gliding 120-200 Hz fundamental,
// harmonics up to 3.4 kHz, a 4 Hz syllable envelope.
func voice(n int) []int16 {
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / 8000
		f0 := 160 + 40*math.Sin(2*math.Pi*0.5*t)
		phase += 2 * math.Pi * f0 / 8000
		var v float64
		for k := 1; float64(k)*f0 < 3400; k++ {
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		out[i] = int16(6000 * (0.55 + 0.45*math.Sin(2*math.Pi*4*t)) * v)
	}
	return out
}

// goertzelShare returns the share of x's energy at freq (Hz, rate 48 kHz).
func goertzelShare(x []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / 48000
	c := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range x {
		f := float64(v)
		s := f + c*s1 - s2
		s2, s1 = s1, s
		total += f * f
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * p / (float64(len(x)) * total)
}

// TestMixedCall: a customer on a SIP phone (PCMA through the transcoder)
// and an agent on WebRTC (an Opus track, recorded untouched) give one
// dual-channel file, customer left, agent right.
func TestMixedCall(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "tone.opus"))
	if err != nil {
		t.Fatal(err)
	}
	tone, _, err := recorder.Packets(f) // 6 s of a 1 kHz sine, Opus
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	src := voice(8000 * 5) // 5 s
	store := &recordertest.MemStore{}
	var meta recorder.Meta
	var agentPackets [][]byte
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		rec, err := recorder.New(recorder.Config{CallID: "mixed", Purpose: policy.Quality, PolicyVersion: "pv",
			Store: store, Audit: audit.Discard})
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		agent, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1"); err != nil {
			t.Fatal(err)
		}
		// The G.711 leg: 20 ms PCMA packets.
		var g []*rtp.Packet
		for i := 0; i+160 <= len(src); i += 160 {
			pl := make([]byte, 160)
			g711.ALaw.Encode(pl, src[i:i+160])
			g = append(g, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: g711.PayloadTypePCMA,
				SequenceNumber: uint16(1000 + i/160), Timestamp: uint32(5555 + i), SSRC: 0xA}, Payload: pl})
		}
		leg, err := g711opus.New(&pacedSource{pkts: g}, g711opus.Config{OpusPT: 111})
		if err != nil {
			t.Fatal(err)
		}
		// The Opus leg, as a pion TrackRemote would deliver it.
		var o []*rtp.Packet
		for i := range 250 {
			o = append(o, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i),
				Timestamp: uint32(777 + i*960), SSRC: 0xB}, Payload: tone[i]})
			agentPackets = append(agentPackets, tone[i])
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := cust.Consume(ctx, leg); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := agent.Consume(ctx, &pacedSource{pkts: o}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
		ms, err := rec.Stop(ctx, "agent-1")
		if err != nil || len(ms) != 1 {
			t.Fatalf("stop: %v, %d files", err, len(ms))
		}
		meta = ms[0]
		t.Logf("transcoder %+v", leg.Stats())
	})
	t.Logf("meta: %v, channels %v, gaps %+v, legs %+v", meta.Duration, meta.Channels, meta.Gaps, meta.Legs)
	if meta.Layout != recorder.LayoutDual || len(meta.Channels) != 2 || meta.Channels[0] != recorder.Customer {
		t.Fatalf("layout %v channels %v", meta.Layout, meta.Channels)
	}
	data := store.Bytes(meta.ID)

	// The Opus leg is untouched: the recorder may repacketize (join two
	// 20 ms packets into one 40 ms Ogg packet) but every frame of the
	// agent's packets is in the file byte for byte.
	info, err := recorder.Inspect(bytes.NewReader(data))
	if err != nil || info.Channels != 2 || info.Streams != 2 || info.Coupled != 0 || info.Mismatched != 0 {
		t.Fatalf("inspect: %v, %+v", err, info)
	}
	pk := oggPackets(t, data)
	found := 0
	for _, a := range agentPackets[:50] {
		frame := a[1:] // code 0: TOC, then the frame
		for _, p := range pk {
			if bytes.Contains(p, frame) {
				found++
				break
			}
		}
	}
	t.Logf("%d of the agent's first 50 frames found unchanged in the file", found)
	if found < 48 {
		t.Errorf("only %d of the agent's first 50 frames found unchanged in the file", found)
	}

	// Decode (pion/opus via ExportWAV) and check each side.
	wavPath := filepath.Join(t.TempDir(), "call.wav")
	wf, _ := os.Create(wavPath)
	if _, err := recorder.ExportWAV(bytes.NewReader(data), wf); err != nil {
		t.Fatal(err)
	}
	wf.Close()
	raw, _ := os.ReadFile(wavPath)
	raw = raw[44:]
	left, right := make([]int16, len(raw)/4), make([]int16, len(raw)/4)
	for i := range left {
		left[i] = int16(binary.LittleEndian.Uint16(raw[4*i:]))
		right[i] = int16(binary.LittleEndian.Uint16(raw[4*i+2:]))
	}
	// The source at 48 kHz, to compare with the left channel.
	rs, _ := resample.New(8000, 48000)
	src48 := rs.Process(nil, src)
	ref := src48[48000 : 48000*2] // 1 s from 1 s into the call
	// The leg starts 20 ms into the file (not started before); search
	// -10..+40 ms around its start.
	lo := 48000 - 480
	cl, lag := bestLag(ref, left, lo, lo+2400)
	cr, _ := bestLag(ref, right, lo, lo+2400)
	mid := left[48000*2 : 48000*3]
	midR := right[48000*2 : 48000*3]
	t.Logf("left (customer, G.711 -> Opus): correlation with the source %.3f at %.1f ms, 1 kHz share %.3f", cl, float64(lag-48000)/48, goertzelShare(mid, 1000))
	t.Logf("right (agent, Opus untouched): correlation with the customer's source %.3f, 1 kHz share %.3f", cr, goertzelShare(midR, 1000))
	if cl < 0.6 {
		t.Errorf("left channel correlates %.3f with the customer's speech", cl)
	}
	if cr > 0.1 || cr < -0.1 {
		t.Errorf("right channel correlates %.3f with the customer's speech (cross-talk)", cr)
	}
	if s := goertzelShare(midR, 1000); s < 0.9 {
		t.Errorf("right channel: 1 kHz holds %.3f of the energy, want the agent's tone", s)
	}
	if s := goertzelShare(mid, 1000); s > 0.1 {
		t.Errorf("left channel: 1 kHz holds %.3f of the energy (the agent's tone leaked)", s)
	}

	// Real validators, when installed.
	if opusinfo, err := exec.LookPath("opusinfo"); err == nil {
		p := filepath.Join(t.TempDir(), "call.opus")
		os.WriteFile(p, data, 0o600)
		if out, err := exec.Command(opusinfo, p).CombinedOutput(); err != nil {
			t.Fatalf("opusinfo: %v\n%s", err, out)
		}
	}
}

// oggPackets returns the packets of a one-stream Ogg file (RFC 3533).
func oggPackets(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	var cur []byte
	for len(b) >= 27 {
		if string(b[:4]) != "OggS" {
			t.Fatal("bad page")
		}
		nseg := int(b[26])
		segs := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range segs {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				out = append(out, cur)
				cur = nil
			}
		}
		b = body
	}
	return out
}
