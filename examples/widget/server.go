package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
	"github.com/consentrec/consentrec/notice/sampleprompts"
	"github.com/consentrec/consentrec/policy"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

//go:embed web
var web embed.FS

var (
	pages  = template.Must(template.ParseFS(web, "web/*.html"))
	static = must(fs.Sub(web, "web"))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Config configures the widget's server. Everything about consent and
// recording is the Service's; the widget only carries calls to it.
type Config struct {
	// Service records the calls (consentrec.Open). Required. Open it with
	// Encoders: opusprompt.Encoders (WebRTC speaks Opus).
	Service *consentrec.Service
	// Profile is the jurisdiction of the site the widget is deployed on
	// (policy.ProfileDE for a German site: opt-in). Empty: the policy's.
	// It is the deployment's setting, never the customer's choice.
	Profile policy.Profile
	// PrivacyURL is the privacy notice the customer's page links to.
	// Empty: /privacy, the sample notice served by the widget.
	PrivacyURL string
	// Agent is the agent id given to the policy (grids, caps, audit).
	// Empty: "agent-1" (the demo has one simulated agent).
	Agent string
	// Logger receives operational logs. Nil: slog.Default().
	Logger *slog.Logger
}

// DemoPolicy samples 10 % of calls for quality, and lets the agent record
// a call for training with the record button. Profile FR: notice first, the
// caller may object. A German site (Config.Profile DE) asks for a yes first.
const DemoPolicy = `{
  "name": "support-widget",
  "profile": "FR",
  "rules": [
    {"purpose": "quality", "mode": "sampling", "rate": 0.10, "retention": "P30D"},
    {"purpose": "training", "mode": "agent", "retention": "P30D"}
  ]
}`

// Server serves the customer's widget (/), the agent console (/agent),
// the WebRTC signalling (/offer) and the console's API (/agent/...).
type Server struct {
	cfg      Config
	svc      *consentrec.Service
	api      *webrtc.API
	greeting *notice.Prepared // the simulated agent's voice
	log      *slog.Logger

	mu      sync.Mutex
	calls   map[string]*call
	watches map[chan struct{}]struct{} // agent consoles waiting for a change
}

// NewServer checks cfg and prepares the simulated agent's greeting.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("widget: Config.Service is required")
	}
	if cfg.PrivacyURL == "" {
		cfg.PrivacyURL = "/privacy"
	}
	if cfg.Agent == "" {
		cfg.Agent = "agent-1"
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, calls: map[string]*call{}, watches: map[chan struct{}]struct{}{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	g, err := sampleprompts.Greeting()
	if err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	cache := notice.Cache{Encoders: opusprompt.Encoders}
	if s.greeting, err = cache.Get(g, notice.CodecOpus); err != nil {
		return nil, fmt.Errorf("widget: greeting: %w", err)
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
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 110},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126},
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

// Handler serves the two pages, the signalling endpoint and the agent
// console's API. The console's routes (/agent...) are for staff: put them
// behind your staff sign-in before serving them beyond loopback.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page("customer.html", map[string]string{
		"Profile": string(s.cfg.Profile), "PrivacyURL": s.cfg.PrivacyURL}))
	mux.HandleFunc("GET /privacy", s.page("privacy.html", nil))
	mux.HandleFunc("GET /agent", s.page("agent.html", nil))
	mux.Handle("GET /static/", http.FileServerFS(static))
	mux.HandleFunc("POST /offer", s.handleOffer)
	mux.HandleFunc("GET /agent/events", s.handleEvents)
	mux.HandleFunc("POST /agent/calls/{id}/{action}", s.handleAction)
	return mux
}

func (s *Server) page(name string, data any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; media-src 'self' blob: mediastream:")
		if err := pages.ExecuteTemplate(w, name, data); err != nil {
			s.log.Error("page", "name", name, "err", err)
		}
	}
}

type offerRequest struct {
	SDP  string `json:"sdp"`
	Lang string `json:"lang"` // navigator.language
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
	c, answer, err := s.answer(r.Context(), req.SDP, cleanLang(req.Lang))
	if err != nil {
		s.log.Error("offer", "err", err)
		http.Error(w, "the call could not be set up", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(offerResponse{SDP: answer, CallID: c.id})
}

// cleanLang keeps a BCP 47 tag as the browser sent it ("fr-CA": the
// notice library tries "fr-CA", then "fr", then its fallback), or "" when it
// is not one (the Service's default language then).
func cleanLang(tag string) string {
	if len(tag) > 35 || strings.Trim(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return ""
	}
	return tag
}

func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "call-" + hex.EncodeToString(b[:])
}

// answer creates the call's PeerConnection and returns the SDP answer,
// with every ICE candidate in it (no trickle).
func (s *Server) answer(ctx context.Context, offer, lang string) (*call, string, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	c, err := s.newCall(ctx, pc, lang)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	fail := func(err error) (*call, string, error) {
		c.hangup()
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

// handleEvents streams the calls in progress to an agent console
// (Server-Sent Events): the whole list after every change.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.watches[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watches, ch)
		s.mu.Unlock()
	}()
	for {
		b, _ := json.Marshal(s.snapshot())
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
}

// changed wakes every agent console (never blocks: a console busy sending
// gets the latest list on its next turn).
func (s *Server) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watches {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// snapshot lists the calls in progress, oldest first.
func (s *Server) snapshot() []state {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	out := make([]state, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.state())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// handleAction runs an agent console button: record, stop, pause, resume.
// Record returns at once (the announcement plays first; the result comes
// by the event stream); the others return once done, or 409 with why not.
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.calls[r.PathValue("id")]
	s.mu.Unlock()
	if c == nil {
		http.Error(w, "no such call in progress", http.StatusNotFound)
		return
	}
	var err error
	switch a := r.PathValue("action"); a {
	case "record":
		go c.record()
		w.WriteHeader(http.StatusAccepted)
		return
	case "stop":
		_, err = c.c.AgentStop(r.Context(), s.cfg.Agent)
	case "pause":
		err = c.c.Pause(r.Context(), "card-data", s.cfg.Agent)
	case "resume":
		err = c.c.Resume(r.Context(), s.cfg.Agent)
	default:
		http.Error(w, "unknown action "+a, http.StatusNotFound)
		return
	}
	if err != nil {
		c.setError(err)
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
		c.hangup()
	}
}

// Calls returns the number of calls in progress.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}
