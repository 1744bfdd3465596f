package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
	"github.com/consentrec/consentrec/notice/sampleprompts"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

//go:embed index.html
var indexHTML []byte

// Config configures the widget's server.
type Config struct {
	Policy      *policy.Policy // nil: DemoPolicy
	SamplingKey []byte         // the sampling draw's secret (16+ bytes)
	Store       recorder.Store // where recordings go (a recorder.FileStore in the data dir)
	Log         audit.Appender // the audit log (audit.OpenDir of the data dir)
	Keys        notice.Keys    // zero: '9' objects, '1' consents
	BeepEvery   time.Duration  // zero: 15 s
	MaxPause    time.Duration  // a card-data pause ends by itself after it (R22); zero: recorder.DefaultMaxPause; at most recorder.MaxMaxPause less 1 s
	Logger      *slog.Logger   // nil: slog.Default()
	// AgentAudio returns what the call's agent hears (Opus frames, 48 kHz
	// RTP clock), for the employee notice: a recording started mid-call is
	// announced to the agent too, and capture waits for both receipts
	// (R17). Nil, or a nil sink: the agent has no audio of its own (the
	// demo's simulated agent) and hears no announcement.
	AgentAudio func(callID string) notice.FrameSink
}

// DemoPolicy samples 10 % of calls for quality, and lets the agent record
// a call for training with the record button. Profile FR: notice first, the
// caller may object. A German caller (profile DE) must say yes first.
const DemoPolicy = `{
  "name": "support-widget",
  "profile": "FR",
  "rules": [
    {"purpose": "quality", "mode": "sampling", "rate": 0.10, "retention": "P30D"},
    {"purpose": "training", "mode": "agent", "retention": "P30D"}
  ]
}`

// Server answers the widget's calls: WebRTC (pion), the notice, the policy,
// the recorder and the audit log.
type Server struct {
	cfg      Config
	engine   *policy.Engine
	api      *webrtc.API
	lib      *notice.Library
	cache    notice.Cache
	greeting *notice.Prompt
	recNow   *notice.Library // "this call is now being recorded" (R17)
	beep     *notice.Prepared
	log      *slog.Logger

	mu    sync.Mutex
	calls map[string]*call
}

// NewServer checks cfg, loads the prompts and prepares them for Opus.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Log == nil {
		return nil, errors.New("widget: Store and Log are required")
	}
	if cfg.Policy == nil {
		p, err := policy.Parse([]byte(DemoPolicy))
		if err != nil {
			return nil, err
		}
		cfg.Policy = p
	}
	if cfg.Keys == (notice.Keys{}) {
		cfg.Keys = notice.Keys{Object: '9', Consent: '1'}
	}
	if cfg.BeepEvery == 0 {
		cfg.BeepEvery = 15 * time.Second
	}
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = recorder.DefaultMaxPause
	}
	cfg.MaxPause = min(cfg.MaxPause, recorder.MaxMaxPause-time.Second) // ends before the recorder's own backstop
	s := &Server{cfg: cfg, log: cfg.Logger, calls: map[string]*call{},
		cache: notice.Cache{Encoders: opusprompt.Encoders}}
	if s.log == nil {
		s.log = slog.Default()
	}
	var err error
	if s.engine, err = policy.New(cfg.Policy, policy.Options{Key: cfg.SamplingKey}); err != nil {
		return nil, fmt.Errorf("widget: policy: %w", err)
	}
	// The sample notices (English, French; German asks for a "yes": opt-in)
	// and the simulated agent's greeting. Replace them with your own.
	if s.lib, err = sampleprompts.Library(); err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	for _, lang := range []string{"en", "fr", "de"} {
		p, err := s.lib.Select(lang, "")
		if err != nil {
			return nil, fmt.Errorf("widget: %w", err)
		}
		if _, err := s.cache.Get(p, notice.CodecOpus); err != nil { // prepare once, at start
			return nil, fmt.Errorf("widget: %w", err)
		}
	}
	if s.greeting, err = sampleprompts.Greeting(); err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	if s.recNow, err = sampleprompts.RecordingNow(); err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	for _, lang := range []string{"en", "fr", "de"} {
		p, err := s.recNow.Select(lang, "")
		if err != nil {
			return nil, fmt.Errorf("widget: %w", err)
		}
		if _, err := s.cache.Get(p, notice.CodecOpus); err != nil {
			return nil, fmt.Errorf("widget: %w", err)
		}
	}
	bp, err := notice.BeepPrompt(0, 0)
	if err != nil {
		return nil, err
	}
	if s.beep, err = s.cache.Get(bp, notice.CodecOpus); err != nil {
		return nil, err
	}
	if s.api, err = newAPI(); err != nil {
		return nil, err
	}
	return s, nil
}

// newAPI builds a pion API for Opus with RFC 4733 telephone-events, on
// loopback UDP only (the widget is a local demo; a deployment sets its own
// network and TURN).
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000}, PayloadType: 110},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("widget: codec %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

const mimeTelephoneEvent = "audio/telephone-event"

// Handler serves the page and the signalling endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("POST /offer", s.handleOffer)
	return mux
}

type offerRequest struct {
	SDP     string `json:"sdp"`
	Lang    string `json:"lang"`
	Profile string `json:"profile"`
}

type offerResponse struct {
	SDP    string `json:"sdp"`
	CallID string `json:"callId"`
}

func (s *Server) handleOffer(w http.ResponseWriter, r *http.Request) {
	var req offerRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.SDP == "" {
		http.Error(w, "bad offer", http.StatusBadRequest)
		return
	}
	profile := policy.Profile(req.Profile)
	switch profile {
	case "", policy.ProfileFR, policy.ProfileDE, policy.ProfileUK, policy.ProfileUSAllParty,
		policy.ProfileUSOneParty, policy.ProfileMiFID, policy.ProfileFRInsurance:
	default:
		http.Error(w, "unknown profile", http.StatusBadRequest)
		return
	}
	c, answer, err := s.answer(r.Context(), req.SDP, path.Clean("/" + req.Lang)[1:], profile)
	if err != nil {
		s.log.Error("offer", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(offerResponse{SDP: answer, CallID: c.id})
}

func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "call-" + hex.EncodeToString(b[:])
}

// answer creates the call's PeerConnection and returns the SDP answer,
// with every ICE candidate in it (no trickle).
func (s *Server) answer(ctx context.Context, offer, lang string, profile policy.Profile) (*call, string, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	c, err := s.newCall(pc, lang, profile)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	fail := func(err error) (*call, string, error) {
		c.hangup(err)
		return nil, "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("remote description: %w", err))
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(fmt.Errorf("local description: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return c, pc.LocalDescription().SDP, nil
}

// Close hangs up every call.
func (s *Server) Close() {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.hangup(notice.ErrHangup)
	}
}

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}
