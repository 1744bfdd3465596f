// Package democall runs a real WebRTC call in-process, for the quickstart:
// two pion peer connections on loopback, the customer sending recorded
// speech (testdata/speech.opus), the agent a 1 kHz tone
// (testdata/tone.opus), and a recorder tapping both received tracks into a
// dual-channel Ogg Opus file in the data directory's recordings.
package democall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Config configures the demo call.
type Config struct {
	DataDir       string         // the data directory (required); recordings go to its recordings subdirectory
	Audit         audit.Appender // where recording events go (required)
	CallID        string         // zero: "demo-call"
	Purpose       policy.Purpose // zero: policy.Quality
	PolicyVersion string
	// Duration of the call; zero: the length of the speech fixture (7.9 s).
	Duration time.Duration
	// PauseAt and PauseFor pause the recording during the call (card data);
	// zero PauseFor: no pause.
	PauseAt, PauseFor time.Duration
	// Testdata is the directory holding speech.opus and tone.opus; zero:
	// the repository's testdata, found from the working directory or from
	// this source file.
	Testdata string
	// LoggerFactory receives pion's logs (ICE, DTLS, the interceptors);
	// nil: pion's default, errors to standard error. Tests pass
	// internal/pionlog.ForTest.
	LoggerFactory logging.LoggerFactory
}

// Result is what the demo recorded.
type Result struct {
	Meta recorder.Meta  // the stored recording's metadata (gap index, SHA-256...)
	Path string         // the file
	Info *recorder.Info // what Inspect reads back from the file
	Sent [2]int         // RTP packets sent by the customer and the agent
	// Recorded is the wall time from Start to Stop: the file lasts as long
	// (to a 20 ms slot, minus the 6.5 ms pre-skip).
	Recorded time.Duration
}

// Summary is a few lines for a terminal.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "recording %s\n  file      %s\n", r.Meta.ID, r.Path)
	fmt.Fprintf(&b, "  layout    %d channels, left %s, right %s (mapping family %d)\n",
		r.Info.Channels, r.Info.Tag("LEFT"), r.Info.Tag("RIGHT"), r.Info.Family)
	fmt.Fprintf(&b, "  duration  %v (packets sent: customer %d, agent %d)\n", r.Meta.Duration.Round(time.Millisecond), r.Sent[0], r.Sent[1])
	fmt.Fprintf(&b, "  sha256    %s\n", r.Meta.SHA256)
	fmt.Fprintf(&b, "  gaps      %d\n", len(r.Meta.Gaps))
	for _, g := range r.Meta.Gaps {
		leg := string(g.Leg)
		if leg == "" {
			leg = "all"
		}
		fmt.Fprintf(&b, "    %7.3fs-%7.3fs %-8s %s", g.Start.Seconds(), g.End.Seconds(), leg, g.Reason)
		if g.Actor != "" {
			fmt.Fprintf(&b, " by %s (%s)", g.Actor, g.Note)
		}
		b.WriteByte('\n')
	}
	return b.String()
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
		d := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata")
		if _, err := os.Stat(filepath.Join(d, "speech.opus")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("democall: testdata/speech.opus not found (run from the repository)")
}

func loadPackets(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, _, err := recorder.Packets(f)
	return p, err
}

// newAPI builds a pion API restricted to loopback (no mDNS, no other
// interface), with the default codecs and interceptors, logging through lf
// (nil: pion's default).
func newAPI(lf logging.LoggerFactory) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	var opts []webrtc.InterceptorOption
	if lf != nil {
		opts = append(opts, webrtc.WithInterceptorLoggerFactory(lf))
	}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, reg, opts...); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// Run places the call, records it from start to end and returns what was
// recorded. It takes about cfg.Duration of wall time.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.DataDir == "" || cfg.Audit == nil {
		return Result{}, errors.New("democall: DataDir and Audit are required")
	}
	if cfg.CallID == "" {
		cfg.CallID = "demo-call"
	}
	if cfg.Purpose == "" {
		cfg.Purpose = policy.Quality
	}
	td := cfg.Testdata
	if td == "" {
		var err error
		if td, err = findTestdata(); err != nil {
			return Result{}, err
		}
	}
	speech, err := loadPackets(filepath.Join(td, "speech.opus"))
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	tone, err := loadPackets(filepath.Join(td, "tone.opus"))
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Duration(len(speech)) * 20 * time.Millisecond
	}

	store, err := recorder.NewFileStore(consentrec.DataDir{Root: cfg.DataDir}.Recordings())
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	rec, err := recorder.New(recorder.Config{
		CallID: cfg.CallID, Purpose: cfg.Purpose, PolicyVersion: cfg.PolicyVersion,
		Layout: recorder.LayoutDual, Store: store, Audit: cfg.Audit,
	})
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	defer rec.Close(context.WithoutCancel(ctx))

	api, err := newAPI(cfg.LoggerFactory)
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	customer, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	defer customer.Close()
	agent, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	defer agent.Close()

	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	custTrack, err := webrtc.NewTrackLocalStaticSample(opus, "audio", "customer")
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	agentTrack, err := webrtc.NewTrackLocalStaticSample(opus, "audio", "agent")
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	for _, x := range []struct {
		pc *webrtc.PeerConnection
		t  *webrtc.TrackLocalStaticSample
	}{{customer, custTrack}, {agent, agentTrack}} {
		sender, err := x.pc.AddTrack(x.t)
		if err != nil {
			return Result{}, fmt.Errorf("democall: %w", err)
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

	// The recorder taps what each side receives: the agent's peer receives
	// the customer's voice, the customer's peer the agent's.
	var wg sync.WaitGroup
	legErr := make(chan error, 2)
	tap := func(role recorder.Role) func(*webrtc.TrackRemote, *webrtc.RTPReceiver) {
		return func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			leg, err := rec.AddLeg(recorder.LegConfig{Role: role, OpusPT: uint8(tr.PayloadType())})
			if err != nil {
				legErr <- err
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := leg.Consume(ctx, tr); err != nil && !errors.Is(err, context.Canceled) {
					legErr <- err
				}
			}()
		}
	}
	agent.OnTrack(tap(recorder.Customer))
	customer.OnTrack(tap(recorder.Agent))

	connected := make(chan struct{})
	var once sync.Once
	agent.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if err := signal(customer, agent); err != nil {
		return Result{}, fmt.Errorf("democall: signalling: %w", err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		return Result{}, errors.New("democall: peers did not connect on loopback")
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}

	if _, err := rec.Start(ctx, "agent-demo"); err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	started := time.Now()
	var res Result
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	paused, resumed := false, false
	// Send by the clock, not by ticks: a late tick sends what is due, so
	// that the senders' media clocks follow real time as a phone's do.
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case err := <-legErr:
			return Result{}, fmt.Errorf("democall: %w", err)
		case <-tick.C:
		}
		el := time.Since(begin)
		if el >= cfg.Duration {
			break
		}
		if cfg.PauseFor > 0 && !paused && el >= cfg.PauseAt {
			paused = true
			if err := rec.Pause(ctx, "card-data", "agent-demo"); err != nil {
				return Result{}, fmt.Errorf("democall: %w", err)
			}
		}
		if paused && !resumed && el >= cfg.PauseAt+cfg.PauseFor {
			resumed = true
			if err := rec.Resume(ctx, "agent-demo"); err != nil {
				return Result{}, fmt.Errorf("democall: %w", err)
			}
		}
		for due := int(el / (20 * time.Millisecond)); i <= due; i++ {
			if i < len(speech) {
				if err := custTrack.WriteSample(media.Sample{Data: speech[i], Duration: 20 * time.Millisecond}); err == nil {
					res.Sent[0]++
				}
			}
			if i < len(tone) {
				if err := agentTrack.WriteSample(media.Sample{Data: tone[i], Duration: 20 * time.Millisecond}); err == nil {
					res.Sent[1]++
				}
			}
		}
	}
	stopAt := time.Now()
	metas, err := rec.Stop(ctx, "agent-demo")
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	res.Recorded = stopAt.Sub(started)
	customer.Close()
	agent.Close()
	wg.Wait()
	res.Meta = metas[0]
	res.Path = filepath.Join(store.Dir(), res.Meta.ID+".opus")
	rc, err := store.Open(ctx, res.Meta.ID) // checks the SHA-256
	if err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	defer rc.Close()
	if res.Info, err = recorder.Inspect(rc); err != nil {
		return Result{}, fmt.Errorf("democall: %w", err)
	}
	return res, nil
}

// signal exchanges offer and answer in-process (no trickle: each side's
// description carries its gathered loopback candidates).
func signal(offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return err
	}
	g := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		return err
	}
	<-g
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return err
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return err
	}
	g = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		return err
	}
	<-g
	return offerer.SetRemoteDescription(*answerer.LocalDescription())
}
