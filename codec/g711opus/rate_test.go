package g711opus_test

import (
	"io"
	"testing"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/pion/interceptor"
	"github.com/pion/opus"
	"github.com/pion/rtp"
)

// TestRateChoice backs the default 8 kHz encoding: G.711 carries nothing
// above 4 kHz, so Opus at 16 kHz codes an empty upper band. On the same
// voice-like signal, 8 kHz must be as faithful (correlation after decoding,
// against the G.711-decoded input) for fewer bytes; BenchmarkTranscode
// shows it also costs half the CPU.
func TestRateChoice(t *testing.T) {
	src := voice(8000 * 4)
	var pkts []*rtp.Packet
	for i := 0; i+160 <= len(src); i += 160 {
		pl := make([]byte, 160)
		g711.ULaw.Encode(pl, src[i:i+160])
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i / 160), Timestamp: uint32(i), SSRC: 1}, Payload: pl})
	}
	ref := make([]int16, len(src)) // what the phone really sent
	for i, p := range pkts {
		g711.ULaw.Decode(ref[i*160:], p.Payload)
	}
	type res struct {
		corr float64
		kbps float64
	}
	out := map[int]res{}
	for _, rate := range []int{8000, 16000} {
		cfg := g711opus.Config{}
		cfg.Encoder.SampleRate = rate
		tr, err := g711opus.New(&fakeSrc{pkts: pkts}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		dec, _ := opus.NewDecoderWithOutput(8000, 1)
		var got []int16
		buf := make([]int16, 160)
		bytes := 0
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				break
			}
			bytes += len(p.Payload)
			n, _ := dec.DecodeToInt16(p.Payload, buf)
			got = append(got, buf[:n]...)
		}
		c, _ := bestLag(ref[4000:20000], got, 4000, 4000+200)
		out[rate] = res{c, float64(bytes*8) / 4 / 1000}
		t.Logf("encoding at %5d Hz (default bitrate): correlation %.3f, %.1f kbit/s", rate, c, out[rate].kbps)
	}
	if out[8000].corr < out[16000].corr-0.05 {
		t.Errorf("8 kHz encoding is clearly worse than 16 kHz: %.3f vs %.3f", out[8000].corr, out[16000].corr)
	}
}

type fakeSrc struct{ pkts []*rtp.Packet }

func (f *fakeSrc) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	if len(f.pkts) == 0 {
		return nil, nil, io.EOF
	}
	p := f.pkts[0]
	f.pkts = f.pkts[1:]
	return p, nil, nil
}
