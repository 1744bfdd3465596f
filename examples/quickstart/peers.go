package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// peers is the demo's stand-in for a real deployment: the caller's browser
// (customer) and the support backend, two pion peer connections on
// loopback.
type peers struct {
	customer, backend *webrtc.PeerConnection
	fromCaller        *webrtc.TrackLocalStaticSample // the caller's microphone
	toCaller          *webrtc.TrackLocalStaticSample // what the backend sends: notice, then the agent
}

var opusCodec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}

// newAPI builds a pion API restricted to loopback (no mDNS, no other
// interface), with the default codecs and interceptors and quiet logs.
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = lf
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

func newPeers() (*peers, error) {
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	p := &peers{}
	if p.customer, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	if p.backend, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		p.customer.Close()
		return nil, err
	}
	if p.fromCaller, err = webrtc.NewTrackLocalStaticSample(opusCodec, "audio", "caller"); err != nil {
		return nil, p.close(err)
	}
	if p.toCaller, err = webrtc.NewTrackLocalStaticSample(opusCodec, "audio", "support"); err != nil {
		return nil, p.close(err)
	}
	for _, x := range []struct {
		pc *webrtc.PeerConnection
		t  *webrtc.TrackLocalStaticSample
	}{{p.customer, p.fromCaller}, {p.backend, p.toCaller}} {
		sender, err := x.pc.AddTrack(x.t)
		if err != nil {
			return nil, p.close(err)
		}
		go func() { // read RTCP so that interceptors work
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	return p, nil
}

func (p *peers) close(err error) error {
	return errors.Join(err, p.customer.Close(), p.backend.Close())
}

// connect exchanges offer and answer in-process (no trickle: each side's
// description carries its loopback candidates) and waits for the
// connection.
func (p *peers) connect(ctx context.Context) error {
	connected := make(chan struct{})
	p.backend.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case <-connected:
			default:
				close(connected)
			}
		}
	})
	offer, err := p.customer.CreateOffer(nil)
	if err != nil {
		return err
	}
	g := webrtc.GatheringCompletePromise(p.customer)
	if err := p.customer.SetLocalDescription(offer); err != nil {
		return err
	}
	<-g
	if err := p.backend.SetRemoteDescription(*p.customer.LocalDescription()); err != nil {
		return err
	}
	answer, err := p.backend.CreateAnswer(nil)
	if err != nil {
		return err
	}
	g = webrtc.GatheringCompletePromise(p.backend)
	if err := p.backend.SetLocalDescription(answer); err != nil {
		return err
	}
	<-g
	if err := p.customer.SetRemoteDescription(*p.backend.LocalDescription()); err != nil {
		return err
	}
	select {
	case <-connected:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// play sends packets on t every 20 ms, by the clock (a late tick sends
// what is due, so the media clock follows real time as a phone's does),
// from now until ctx ends or the packets run out (then it loops).
func play(ctx context.Context, t *webrtc.TrackLocalStaticSample, packets [][]byte) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for due := int(time.Since(begin) / (20 * time.Millisecond)); i <= due; i++ {
			_ = t.WriteSample(media.Sample{Data: packets[i%len(packets)], Duration: 20 * time.Millisecond})
		}
	}
}

// fixtures returns the caller's speech and the agent's 1 kHz tone as Opus
// packets (testdata/speech.opus and tone.opus, found from the working
// directory or from this source file).
func fixtures() (speech, tone [][]byte, err error) {
	dir, err := findTestdata()
	if err != nil {
		return nil, nil, err
	}
	if speech, err = loadPackets(filepath.Join(dir, "speech.opus")); err != nil {
		return nil, nil, err
	}
	tone, err = loadPackets(filepath.Join(dir, "tone.opus"))
	return speech, tone, err
}

func findTestdata() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "testdata", "speech.opus")); err == nil {
				return filepath.Join(d, "testdata"), nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
		if _, err := os.Stat(filepath.Join(d, "speech.opus")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("quickstart: testdata/speech.opus not found (run from the repository)")
}

func loadPackets(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, _, err := recorder.Packets(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
