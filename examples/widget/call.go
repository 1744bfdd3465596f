package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// call is one widget call: a PeerConnection carried to a consentrec.Call,
// which does everything about consent and recording. The widget keeps only
// what the pages show.
type call struct {
	s      *Server
	id     string
	lang   string
	since  time.Time
	pc     *webrtc.PeerConnection
	c      *consentrec.Call
	voice  notice.FrameSink // the simulated agent's voice (gives way to prompts)
	ctx    context.Context  // ends at hang-up
	cancel context.CancelFunc
	once   sync.Once
	sendMu sync.Mutex // orders the states sent to the pages
	// announcing is set while the agent's start waits for the Service to
	// announce the recording: its first prompt frame is the announcement.
	announcing atomic.Bool

	mu       sync.Mutex // guards the fields below
	dc       *webrtc.DataChannel
	st       consentrec.Status
	noticeSt string // none, playing, done, interrupted
	announce string // "", playing, done, interrupted
	objected bool
	err      string
	media    mediaClock
}

// mediaClock counts the customer's audio by its RTP clock while recorded
// and while paused, for the agent console ("recorded 0:42"); it reads the
// call's status, so it counts what the Service captured, not wall time.
type mediaClock struct {
	last               uint32
	seen               bool
	recorded, paused   time.Duration
	published, pubPaus time.Duration
}

func (s *Server) newCall(ctx context.Context, pc *webrtc.PeerConnection, lang string) (*call, error) {
	c := &call{s: s, id: newCallID(), lang: lang, since: time.Now(), pc: pc, noticeSt: "none"}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	var err error
	c.c, err = s.svc.Call(ctx, policy.CallInfo{ID: c.id, Agent: s.cfg.Agent, Profile: s.cfg.Profile},
		consentrec.CallOptions{Language: lang, OnChange: c.onChange})
	if err != nil {
		return nil, err
	}
	c.st = consentrec.Status{CallID: c.id, Decision: c.c.Decision()}

	// What the customer hears: the Service's prompts (notice, "this call is
	// now being recorded", beeps) and the simulated agent's voice, into one
	// outgoing track; the same audio is the agent's side of the recording.
	track, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "agent", "support")
	if err != nil {
		return nil, c.fail(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, c.fail(err)
	}
	go func() { // read RTCP so that interceptors run
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	agentLeg, err := notice.NewRTPPacketizer(agentSide{c.c}, 111, 0x5EED, notice.CodecOpus)
	if err != nil {
		return nil, c.fail(err)
	}
	out := &arbiter{sink: notice.Tee(notice.Samples(track), agentLeg), onPrompt: func() {
		if c.announcing.CompareAndSwap(true, false) {
			c.update(func() { c.announce = "playing" }) // its audio is going out now
		}
	}}
	c.voice = voice{out}
	if err := c.c.Output(notice.PartyCaller, prompts{out}, notice.CodecOpus); err != nil {
		return nil, c.fail(err)
	}

	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			if err := c.c.Consume(c.ctx, recorder.Customer, &clocked{t, c}); err != nil && c.ctx.Err() == nil {
				s.log.Error("customer leg", "call", c.id, "err", err)
			}
		}()
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		c.mu.Lock()
		c.dc = dc
		c.mu.Unlock()
		dc.OnOpen(func() { go c.begin() })
		dc.OnMessage(func(m webrtc.DataChannelMessage) { c.onMessage(m.Data) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			go c.hangup()
		}
	})
	s.mu.Lock()
	s.calls[c.id] = c
	s.mu.Unlock()
	s.changed()
	return c, nil
}

func (c *call) fail(err error) error {
	_, _ = c.c.Hangup(context.Background())
	c.cancel()
	return err
}

// begin runs once the data channel is open: the notice (the Service plays
// it and starts capture when the policy allows), then the agent's greeting.
func (c *call) begin() {
	d := c.c.Decision()
	if d.Record || d.Candidate {
		c.update(func() { c.noticeSt = "playing" })
	}
	r, err := c.c.Inform(c.ctx)
	if err != nil && c.ctx.Err() == nil {
		c.s.log.Error("notice", "call", c.id, "err", err)
	}
	if !r.Start.IsZero() {
		c.update(func() {
			c.noticeSt = "interrupted"
			if r.Completed() {
				c.noticeSt = "done"
			}
		})
	}
	if c.ctx.Err() == nil {
		if _, err := notice.Stream(c.ctx, c.s.greeting, c.voice); err != nil {
			c.s.log.Error("greeting", "call", c.id, "err", err)
		}
	}
}

// record is the console's Record button: the Service announces the
// recording to the customer first, and captures once it was heard (R17).
func (c *call) record() {
	c.update(func() { c.announce, c.err = "requested", "" })
	c.announcing.Store(true)
	_, err := c.c.AgentStart(c.ctx, c.s.cfg.Agent, "")
	c.announcing.Store(false)
	c.update(func() {
		switch {
		case err == nil && c.st.Recording:
			c.announce = "done"
		case err == nil: // nothing to announce yet (e.g. opt-in: no "yes" yet)
			c.announce = ""
		case errors.Is(err, policy.ErrNotAllowed) && c.st.Decision.Reason != policy.ReasonObjected:
			c.announce = "interrupted"
		default:
			c.announce = ""
		}
	})
	if err != nil {
		c.setError(err)
	}
}

type message struct {
	Type string `json:"type"`
}

// onMessage handles the customer page's messages.
func (c *call) onMessage(b []byte) {
	var m message
	if json.Unmarshal(b, &m) != nil {
		return
	}
	switch m.Type {
	case "object": // the "I object" button
		c.update(func() { c.objected = true })
		go func() {
			if _, err := c.c.Object(c.ctx, notice.MethodButton, "caller"); err != nil {
				c.s.log.Error("objection", "call", c.id, "err", err)
			}
		}()
	case "hangup":
		go c.hangup()
	}
}

// onChange is told of the call's status by the Service; it must not block.
func (c *call) onChange(st consentrec.Status) {
	c.update(func() {
		c.st = st
		if st.Decision.Reason == policy.ReasonObjected {
			c.objected = true
		}
	})
}

func (c *call) setError(err error) { c.update(func() { c.err = err.Error() }) }

// update changes what the pages show and sends it to them. States leave
// in the order they were made (sendMu), so that the page never shows an
// older state last.
func (c *call) update(f func()) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	f()
	st, dc := c.stateLocked(), c.dc
	c.mu.Unlock()
	if dc != nil {
		b, _ := json.Marshal(st)
		_ = dc.SendText(string(b)) // queued by SCTP, never waits for the page; an error means the page left
	}
	c.s.changed()
}

// state is what the pages show of a call.
type state struct {
	Type       string    `json:"type"` // "state"
	CallID     string    `json:"callId"`
	Lang       string    `json:"lang"`
	Since      time.Time `json:"since"`
	Notice     string    `json:"notice"`    // none, playing, done, interrupted
	Recording  bool      `json:"recording"` // audio is captured now: the indicator
	Paused     bool      `json:"paused"`    // card data: nothing is recorded until resumed
	Objected   bool      `json:"objected"`
	Pending    string    `json:"pending"` // what recording still waits for: notice, consent
	Reason     string    `json:"reason"`
	Purpose    string    `json:"purpose"`
	Candidate  bool      `json:"candidate"` // the agent may start recording
	Announce   string    `json:"announce"`  // "this call is now being recorded": "", requested, playing, done, interrupted
	RecordedMs int64     `json:"recordedMs"`
	PausedMs   int64     `json:"pausedMs"`
	Ended      bool      `json:"ended"`
	Error      string    `json:"error,omitempty"`
}

func (c *call) state() state {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateLocked()
}

func (c *call) stateLocked() state {
	d := c.st.Decision
	return state{Type: "state", CallID: c.id, Lang: c.lang, Since: c.since, Notice: c.noticeSt,
		Recording: c.st.Recording, Paused: c.st.Paused, Objected: c.objected, Pending: d.Pending.String(),
		Reason: string(d.Reason), Purpose: string(d.Purpose), Candidate: d.Candidate, Announce: c.announce,
		RecordedMs: c.media.published.Milliseconds(), PausedMs: c.media.pubPaus.Milliseconds(),
		Ended: c.st.Ended, Error: c.err}
}

// clocked is the customer's track, read by the Service; it advances the
// call's media clock by each packet's RTP timestamp.
type clocked struct {
	*webrtc.TrackRemote
	c *call
}

func (t *clocked) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	p, a, err := t.TrackRemote.ReadRTP()
	if err == nil && p.PayloadType == uint8(t.Codec().PayloadType) {
		t.c.tick(p.Timestamp)
	}
	return p, a, err
}

// tick advances the media clock; the pages hear of it every half second of
// customer audio.
func (c *call) tick(ts uint32) {
	c.mu.Lock()
	m := &c.media
	var d time.Duration
	if m.seen {
		if n := ts - m.last; n < 48000 { // a jump (or reordering) is not audio
			d = time.Duration(n) * time.Second / 48000
		}
	}
	m.last, m.seen = ts, true
	switch {
	case c.st.Recording:
		m.recorded += d
	case c.st.Paused:
		m.paused += d
	}
	publish := m.recorded-m.published >= 500*time.Millisecond || m.paused-m.pubPaus >= 500*time.Millisecond
	if publish {
		m.published, m.pubPaus = m.recorded, m.paused
	}
	c.mu.Unlock()
	if publish {
		c.update(func() {})
	}
}

// hangup ends the call once: the Service finalizes, catalogues and audits
// what was kept; then the PeerConnection closes.
func (c *call) hangup() {
	c.once.Do(func() {
		res, err := c.c.Hangup(context.Background())
		if err != nil {
			c.s.log.Error("hangup", "call", c.id, "err", err)
		}
		c.cancel()
		_ = c.pc.Close()
		c.s.mu.Lock()
		delete(c.s.calls, c.id)
		c.s.mu.Unlock()
		c.s.changed()
		c.s.log.Info("hangup", "call", c.id, "recordings", len(res.Recordings), "purged", res.Purged)
	})
}

// agentSide hands what the customer hears to the recording's agent leg
// (the Service drops it unless the call is being captured).
type agentSide struct{ c *consentrec.Call }

func (a agentSide) WriteRTP(p *rtp.Packet) error {
	_ = a.c.WriteRTP(recorder.Agent, p) // after hang-up: nothing to record
	return nil
}

// arbiter shares the outgoing track between the Service's prompts and the
// simulated agent's voice: a prompt always goes out; the voice is silenced
// while a prompt plays (the way a PBX ducks the agent under an
// announcement). A real agent's audio would be mixed instead.
type arbiter struct {
	mu         sync.Mutex
	sink       notice.FrameSink
	lastPrompt time.Time
	onPrompt   func() // after each prompt frame
}

type prompts struct{ a *arbiter }

func (p prompts) WriteFrame(f notice.Frame) error {
	p.a.mu.Lock()
	p.a.lastPrompt = time.Now()
	err := p.a.sink.WriteFrame(f)
	p.a.mu.Unlock()
	p.a.onPrompt()
	return err
}

func (p prompts) StartTalkspurt() {
	p.a.mu.Lock()
	defer p.a.mu.Unlock()
	if t, ok := p.a.sink.(notice.Talkspurter); ok {
		t.StartTalkspurt()
	}
}

type voice struct{ a *arbiter }

func (v voice) WriteFrame(f notice.Frame) error {
	v.a.mu.Lock()
	defer v.a.mu.Unlock()
	if time.Since(v.a.lastPrompt) < 3*f.Duration {
		return nil // a prompt is playing
	}
	return v.a.sink.WriteFrame(f)
}
