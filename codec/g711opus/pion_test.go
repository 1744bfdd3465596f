package g711opus_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/internal/pionlog"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// pionPair connects two in-process peer connections over loopback UDP and
// returns the agent's outgoing Opus track and the TrackRemote the recorder
// side receives.
func pionPair(t *testing.T) (*webrtc.TrackLocalStaticSample, *webrtc.TrackRemote, func()) {
	t.Helper()
	se := webrtc.SettingEngine{LoggerFactory: pionlog.ForTest(t)} // pion's logs only if the test fails
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	agentPC, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	serverPC, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	closeAll := func() { agentPC.Close(); serverPC.Close() }
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "agent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agentPC.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	got := make(chan *webrtc.TrackRemote, 1)
	serverPC.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { got <- tr })
	offer, err := agentPC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g1 := webrtc.GatheringCompletePromise(agentPC)
	agentPC.SetLocalDescription(offer)
	<-g1
	if err := serverPC.SetRemoteDescription(*agentPC.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, err := serverPC.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g2 := webrtc.GatheringCompletePromise(serverPC)
	serverPC.SetLocalDescription(answer)
	<-g2
	if err := agentPC.SetRemoteDescription(*serverPC.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	// The track arrives with the first packets: send silence until then.
	silence := []byte{0xF8, 0xFF, 0xFE}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case tr := <-got:
			return track, tr, closeAll
		case <-tick.C:
			track.WriteSample(media.Sample{Data: silence, Duration: 20 * time.Millisecond})
		case <-deadline:
			closeAll()
			t.Fatal("no pion connection over loopback within 15 s")
		}
	}
}

// TestMixedCallPion: the agent on a real pion WebRTC connection (Opus,
// DTLS-SRTP over loopback, recorded from the *webrtc.TrackRemote as is),
// the customer on a G.711 leg through the transcoder: one dual-channel
// file, each leg on its side, the agent's frames untouched.
func TestMixedCallPion(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time WebRTC call (5 s)")
	}
	f, err := os.Open(filepath.Join("..", "..", "testdata", "tone.opus"))
	if err != nil {
		t.Fatal(err)
	}
	tone, _, err := recorder.Packets(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	track, remote, closeAll := pionPair(t)
	defer closeAll()

	store := &recordertest.MemStore{}
	rec, err := recorder.New(recorder.Config{CallID: "mixed-pion", Purpose: policy.Quality, PolicyVersion: "pv",
		Store: store, Audit: audit.Discard})
	if err != nil {
		t.Fatal(err)
	}
	cust, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	agent, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: uint8(remote.PayloadType())})
	ctx := context.Background()
	if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1"); err != nil {
		t.Fatal(err)
	}
	// The customer's G.711 leg, paced in real time by a ticker.
	src := voice(8000 * 3)
	gpk := make(chan *rtp.Packet)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(gpk)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i+160 <= len(src); i += 160 {
			<-tick.C
			pl := make([]byte, 160)
			g711.ULaw.Encode(pl, src[i:i+160])
			gpk <- &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i / 160), Timestamp: uint32(i), SSRC: 9}, Payload: pl}
		}
	})
	leg, _ := g711opus.New(sourceFunc(func() (*rtp.Packet, interceptorAttributes, error) {
		p, ok := <-gpk
		if !ok {
			return nil, nil, errEOF
		}
		return p, nil, nil
	}), g711opus.Config{OpusPT: 111})
	wg.Go(func() {
		if err := cust.Consume(ctx, leg); err != nil {
			t.Error(err)
		}
	})
	// The agent speaks (the tone) for 3 s over WebRTC.
	agentDone := make(chan struct{})
	wg.Go(func() {
		agent.Consume(ctx, remote) // ends with an error when the connection closes
	})
	go func() {
		defer close(agentDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := range 150 {
			<-tick.C
			track.WriteSample(media.Sample{Data: tone[i], Duration: 20 * time.Millisecond})
		}
	}()
	<-agentDone
	ms, err := rec.Stop(ctx, "agent-1")
	closeAll()
	wg.Wait()
	if err != nil || len(ms) != 1 {
		t.Fatalf("stop: %v, %d files", err, len(ms))
	}
	m := ms[0]
	t.Logf("meta: %v, gaps %+v, legs %+v", m.Duration, m.Gaps, m.Legs)
	data := store.Bytes(m.ID)
	info, err := recorder.Inspect(bytes.NewReader(data))
	if err != nil || info.Channels != 2 || info.Mismatched != 0 {
		t.Fatalf("inspect: %v %+v", err, info)
	}
	pk := oggPackets(t, data)
	found := 0
	for _, a := range tone[20:120] {
		for _, p := range pk {
			if bytes.Contains(p, a[1:]) {
				found++
				break
			}
		}
	}
	t.Logf("%d of 100 agent frames (sent over WebRTC) found unchanged in the file", found)
	// Real time on a shared machine: tickers stall under load and the
	// recorder re-aligns (slips) or drops late packets, on both legs alike
	// (the exact timeline is TestMixedCall's, in a synctest bubble). This
	// test checks the wiring: a TrackRemote and a transcoded leg in one file.
	if found < 50 {
		t.Errorf("only %d of 100 agent frames found unchanged", found)
	}
	for _, l := range m.Legs {
		if l.Packets < 75 {
			t.Errorf("leg %s: %d of 150 packets written", l.Role, l.Packets)
		}
	}
}

type interceptorAttributes = interceptor.Attributes

var errEOF = io.EOF
