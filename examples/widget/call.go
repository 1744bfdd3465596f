package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// call is one widget call. Its state changes run one at a time on its
// worker goroutine (do); the media goroutines only read the leg pointers.
type call struct {
	s       *Server
	id      string
	lang    string
	pc      *webrtc.PeerConnection
	out     *notice.SharedSink // audio to the caller: notice, greeting, beeps
	input   *notice.Input
	pol     *policy.Call
	ctx     context.Context
	cancel  context.CancelCauseFunc
	work    chan func()
	hangups sync.Once

	mu           sync.Mutex // guards the fields below, read by media goroutines
	dc           *webrtc.DataChannel
	custLeg      *recorder.Leg
	agentLeg     *recorder.Leg
	noticeCancel context.CancelCauseFunc
	announceStop context.CancelCauseFunc // the mid-call announcement playing
	cardData     bool                    // paused for card data: keys are card digits, not answers

	// Worker-only state.
	rec        *recorder.Recorder
	recording  bool
	purged     bool
	beepCancel context.CancelFunc
	noticeSt   string
	started    bool
	paused     bool   // card data: the agent paused (policy and recorder)
	pauseGen   int    // counts pauses: a max-pause timer ends only its own
	announceSt string // the mid-call announcement: "", playing, done, interrupted
}

func (s *Server) newCall(pc *webrtc.PeerConnection, lang string, profile policy.Profile) (*call, error) {
	c := &call{s: s, id: newCallID(), lang: cleanLang(lang), pc: pc, work: make(chan func(), 64), noticeSt: "none"}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	track, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "agent", "support")
	if err != nil {
		return nil, err
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return nil, err
	}
	go func() { // read RTCP so that interceptors run
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	// What the caller hears also goes to the recorder's agent leg (the
	// agent's side of the call), as RTP, when a recording runs.
	agentRTP, err := notice.NewRTPPacketizer(agentLegSink{c}, 111, 0x5EED, notice.CodecOpus)
	if err != nil {
		return nil, err
	}
	c.out = notice.Share(notice.Tee(notice.Samples(track), agentRTP))
	c.input = &notice.Input{CallID: c.id, Keys: s.cfg.Keys, Log: s.cfg.Log,
		Handler: notice.HandlerFunc(func(_ context.Context, a notice.Answer) { c.do(func() { c.onAnswer(a) }) })}

	var d policy.Decision
	c.pol, d, err = s.engine.Begin(c.ctx, policy.CallInfo{ID: c.id, Agent: "agent-1", Profile: profile})
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Log.Append(c.ctx, d.AuditEvent(c.id, time.Now().UTC())); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}

	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) { go c.readCaller(t, r) })
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		c.mu.Lock()
		c.dc = dc
		c.mu.Unlock()
		dc.OnOpen(func() { c.do(c.begin) })
		dc.OnMessage(func(m webrtc.DataChannelMessage) { c.onMessage(m.Data) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed ||
			st == webrtc.PeerConnectionStateDisconnected {
			go c.hangup(notice.ErrHangup)
		}
	})
	go c.worker()
	s.mu.Lock()
	s.calls[c.id] = c
	s.mu.Unlock()
	s.log.Info("call", "id", c.id, "lang", c.lang, "profile", d.Profile, "record", d.Record,
		"reason", d.Reason, "requires", d.Requires.String())
	return c, nil
}

func cleanLang(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return -1
	}, s)
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

// agentLegSink forwards RTP to the recorder's agent leg while one exists.
type agentLegSink struct{ c *call }

func (a agentLegSink) WriteRTP(p *rtp.Packet) error {
	a.c.mu.Lock()
	leg := a.c.agentLeg
	a.c.mu.Unlock()
	if leg != nil {
		_ = leg.WriteRTP(p) // a closed leg at hang-up is not the caller's problem
	}
	return nil
}

func (c *call) worker() {
	for {
		select {
		case f := <-c.work:
			f()
		case <-c.ctx.Done():
			return
		}
	}
}

// do runs f on the worker, in order. It drops f once the call is over.
func (c *call) do(f func()) {
	select {
	case c.work <- f:
	case <-c.ctx.Done():
	}
}

// begin runs when the data channel opens: the notice, then the agent.
func (c *call) begin() {
	if c.started {
		return
	}
	c.started = true
	d := c.pol.Decision()
	c.send(d)
	if !d.Record && !d.Candidate {
		go c.speak(c.s.greeting) // nothing can be recorded: no notice needed
		return
	}
	prompt, err := c.s.lib.Select(c.lang, d.Profile)
	if err != nil {
		c.s.log.Error("notice", "call", c.id, "err", err)
		return
	}
	prep, err := c.s.cache.Get(prompt, notice.CodecOpus)
	if err != nil {
		c.s.log.Error("notice", "call", c.id, "err", err)
		return
	}
	c.input.SetPrompt(prompt.Version())
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.mu.Lock()
	c.noticeCancel = cancel
	c.mu.Unlock()
	c.noticeSt = "playing"
	c.send(d)
	go func() {
		player := notice.Player{CallID: c.id, Log: c.s.cfg.Log}
		r, err := player.Play(ctx, prep, c.out)
		cancel(nil)
		if err != nil {
			c.s.log.Error("notice", "call", c.id, "err", err)
		}
		c.do(func() {
			c.noticeSt = "interrupted"
			if r.Completed() {
				c.noticeSt = "done"
			}
			// Only a completed receipt lets recording start (R14).
			d, err := c.pol.Apply(c.ctx, r.PolicyEvent())
			if err != nil {
				c.s.log.Error("policy", "call", c.id, "err", err)
			}
			c.apply(d)
		})
		if r.Interrupted != notice.InterruptHangup {
			c.speak(c.s.greeting)
		}
	}()
}

func (c *call) speak(p *notice.Prompt) {
	prep, err := c.s.cache.Get(p, notice.CodecOpus)
	if err == nil {
		_, err = notice.Stream(c.ctx, prep, c.out)
	}
	if err != nil {
		c.s.log.Error("speak", "call", c.id, "err", err)
	}
}

// readCaller reads the caller's track: telephone-events become keys, audio
// goes to the recorder's customer leg while one exists.
func (c *call) readCaller(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	events := map[uint8]bool{}
	for _, p := range r.GetParameters().Codecs {
		if strings.EqualFold(p.MimeType, mimeTelephoneEvent) {
			events[uint8(p.PayloadType)] = true
		}
	}
	var det notice.EventDetector
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if events[p.PayloadType] {
			k, ok, err := det.Feed(p.Timestamp, p.Payload)
			c.mu.Lock()
			cardData := c.cardData
			c.mu.Unlock()
			if cardData {
				continue // a card number's 9 is no objection (the button still is)
			}
			if err == nil && ok {
				if _, err := c.input.Key(c.ctx, k, notice.MethodRFC4733); err != nil {
					c.s.log.Error("input", "call", c.id, "err", err)
				}
			}
			continue
		}
		c.mu.Lock()
		leg := c.custLeg
		c.mu.Unlock()
		if leg != nil {
			_ = leg.WriteRTP(p)
		}
	}
}

type message struct {
	Type   string `json:"type"`
	Action string `json:"action,omitempty"`
}

func (c *call) onMessage(b []byte) {
	var m message
	if json.Unmarshal(b, &m) != nil {
		return
	}
	switch m.Type {
	case "object": // the page's "I object" button
		if _, err := c.input.Object(c.ctx, notice.MethodButton, "caller"); err != nil {
			c.s.log.Error("input", "call", c.id, "err", err)
		}
	case "agent": // the simulated agent console's buttons
		ev := policy.Event{Kind: policy.EventAgentStart, Actor: "agent-1"}
		switch m.Action {
		case "stop":
			ev.Kind = policy.EventAgentStop
		case "pause", "resume":
			c.do(func() { c.pause(m.Action == "pause", "agent-1") })
			return
		}
		c.do(func() {
			d, err := c.pol.Apply(c.ctx, ev)
			if err != nil {
				c.sendError(err)
				return
			}
			if _, err := c.s.cfg.Log.Append(c.ctx, d.AuditEvent(c.id, time.Now().UTC())); err != nil {
				c.s.log.Error("audit", "call", c.id, "err", err)
			}
			c.apply(d)
		})
	case "hangup":
		go c.hangup(notice.ErrHangup)
	}
}

func (c *call) onAnswer(a notice.Answer) {
	if a.Action == notice.ActionObjection {
		c.mu.Lock()
		if c.noticeCancel != nil {
			c.noticeCancel(notice.ErrObjected) // the receipt says why it stopped
		}
		if c.announceStop != nil {
			c.announceStop(notice.ErrObjected)
		}
		c.mu.Unlock()
	}
	d, err := c.pol.Apply(c.ctx, a.PolicyEvent())
	c.apply(d)
	if errors.Is(err, policy.ErrRecordingRefused) {
		go c.hangup(err) // FR insurance canvassing: a refusal ends the call (R18)
	} else if err != nil {
		c.sendError(err)
	}
}

// apply makes the recorder follow the policy's decision.
func (c *call) apply(d policy.Decision) {
	ctx := context.WithoutCancel(c.ctx)
	switch {
	case d.Purge && !c.purged:
		c.purged = true
		c.stopBeep()
		c.recording = false
		if c.rec != nil {
			if err := c.rec.Discard(ctx, "objection", "caller"); err != nil {
				c.s.log.Error("discard", "call", c.id, "err", err)
			}
		}
	case d.Capture && !c.recording && manual(d):
		// A recording started mid-call is announced first (R17); capture
		// starts once the announcement's receipt completes.
		if c.announceSt != "playing" {
			c.announce(d)
		}
	case d.Capture && !c.recording:
		if err := c.startRecording(ctx, d); err != nil {
			c.s.log.Error("record", "call", c.id, "err", err)
			c.sendError(err)
		}
	case !d.Capture && c.announceSt == "playing": // stopped or paused before it was announced
		c.mu.Lock()
		c.announceStop(errAnnounceAbandoned)
		c.mu.Unlock()
	case !d.Capture && c.recording && d.Reason != policy.ReasonPaused:
		c.recording = false
		c.stopBeep()
		if _, err := c.rec.Stop(ctx, "agent-1"); err != nil {
			c.s.log.Error("stop", "call", c.id, "err", err)
		}
	}
	c.send(d)
}

// manual reports whether d's recording is started by a person during the
// call (the agent's button, a supervisor), rather than decided at its start.
func manual(d policy.Decision) bool {
	return d.Reason == policy.ReasonAgentStarted || d.Reason == policy.ReasonSupervisor
}

var errAnnounceAbandoned = errors.New("recording no longer requested")

// announce plays "this call is now being recorded" to the caller, and to
// the agent when the agent has audio (Config.AgentAudio: the employee
// notice), then starts capture if every receipt says it was heard to the
// end and the policy still wants capture.
func (c *call) announce(d policy.Decision) {
	prompt, err := c.s.recNow.Select(c.lang, d.Profile)
	var prep *notice.Prepared
	if err == nil {
		prep, err = c.s.cache.Get(prompt, notice.CodecOpus)
	}
	if err != nil {
		c.s.log.Error("announce", "call", c.id, "err", err)
		c.sendError(fmt.Errorf("cannot announce the recording: %w", err))
		c.abandon()
		return
	}
	var agent notice.FrameSink
	if c.s.cfg.AgentAudio != nil {
		agent = c.s.cfg.AgentAudio(c.id)
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.mu.Lock()
	c.announceStop = cancel
	c.mu.Unlock()
	c.announceSt = "playing"
	go func() {
		type played struct {
			r   notice.Receipt
			err error
		}
		var toAgent chan played
		if agent != nil {
			toAgent = make(chan played, 1)
			go func() {
				player := notice.Player{CallID: c.id, Party: notice.PartyAgent, Log: c.s.cfg.Log}
				r, err := player.Play(ctx, prep, agent)
				toAgent <- played{r, err}
			}()
		}
		player := notice.Player{CallID: c.id, Party: notice.PartyCaller, Log: c.s.cfg.Log}
		r, err := player.Play(ctx, prep, c.out) // waits for the greeting to end first
		heard, why := r.Completed() && err == nil, "caller: "+string(r.Interrupted)
		if !heard {
			cancel(errAnnounceAbandoned) // the agent's copy too, unless already canceled
		}
		if toAgent != nil {
			a := <-toAgent
			if heard && (!a.r.Completed() || a.err != nil) {
				heard, why = false, "agent: "+string(a.r.Interrupted)
			}
			err = errors.Join(err, a.err)
		}
		cancel(nil)
		if err != nil {
			c.s.log.Error("announce", "call", c.id, "err", err)
		}
		c.do(func() {
			c.mu.Lock()
			c.announceStop = nil
			c.mu.Unlock()
			c.announceSt = "interrupted"
			if heard {
				c.announceSt = "done"
			}
			d := c.pol.Decision()
			switch {
			case heard && d.Capture && !c.recording && !d.Purge:
				if err := c.startRecording(context.WithoutCancel(c.ctx), d); err != nil {
					c.s.log.Error("record", "call", c.id, "err", err)
					c.sendError(err)
				}
			case d.Capture && !c.recording:
				// Not announced: no recording. The agent may press Record again.
				c.sendError(fmt.Errorf("recording not started: the announcement was interrupted (%s)", why))
				c.abandon()
				return
			}
			c.send(d)
		})
	}()
}

// abandon gives the agent's start back to the policy when the recording
// could not be announced, so that the button may be pressed again.
func (c *call) abandon() {
	d, err := c.pol.Apply(c.ctx, policy.Event{Kind: policy.EventAgentStop, Actor: "system"})
	if err != nil {
		c.s.log.Error("policy", "call", c.id, "err", err)
		return
	}
	if _, err := c.s.cfg.Log.Append(c.ctx, d.AuditEvent(c.id, time.Now().UTC())); err != nil {
		c.s.log.Error("audit", "call", c.id, "err", err)
	}
	c.apply(d)
}

func (c *call) startRecording(ctx context.Context, d policy.Decision) error {
	if c.rec == nil {
		// The call ends pauses itself (Config.MaxPause, at most
		// recorder.MaxMaxPause), so that the policy, the beep and the page
		// resume with the recorder: a recorder resuming alone would record
		// while the page still tells the caller to give card details. The
		// recorder's own limit is the backstop (R22).
		rec, err := recorder.New(recorder.Config{CallID: c.id, Purpose: d.Purpose, PolicyVersion: d.PolicyVersion,
			Store: c.s.cfg.Store, Audit: c.s.cfg.Log, MaxPause: recorder.MaxMaxPause})
		if err != nil {
			return err
		}
		cust, err := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		if err != nil {
			return err
		}
		agent, err := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
		if err != nil {
			return err
		}
		c.rec = rec
		c.mu.Lock()
		c.custLeg, c.agentLeg = cust, agent
		c.mu.Unlock()
	}
	actor := "system"
	if d.Reason == policy.ReasonAgentStarted {
		actor = "agent-1"
	}
	g, err := c.pol.Grant()
	if err != nil {
		return err
	}
	if _, err := c.rec.Start(ctx, g, actor); err != nil {
		return err
	}
	c.recording = true
	c.startBeep()
	return nil
}

// startBeep starts the Asterisk-style beep: now, then every BeepEvery.
func (c *call) startBeep() {
	c.stopBeep()
	bctx, cancel := context.WithCancel(c.ctx)
	c.beepCancel = cancel
	go func() { _ = notice.Beeper{Interval: c.s.cfg.BeepEvery}.Run(bctx, c.s.beep, c.out) }()
}

// pause pauses (on) or resumes the call for card data (PCI DSS; R21, R22).
// The recorder comes first: Pause returns once no more audio will be
// written, and only then does the policy learn it and the page show it.
// Resume likewise: the recorder captures again before the page says so.
// A pause before recording started keeps the policy from capturing until
// the resume. A pause ends by itself after Config.MaxPause (actor
// "system"), everywhere at once.
func (c *call) pause(on bool, actor string) {
	if on == c.paused {
		if on {
			c.sendError(errors.New("card-data pause: already paused"))
		} else {
			c.sendError(errors.New("card-data resume: not paused"))
		}
		return
	}
	ctx := context.WithoutCancel(c.ctx)
	ev := policy.Event{Kind: policy.EventPause, Actor: actor}
	if !on {
		ev.Kind = policy.EventResume
	}
	if c.recording {
		var err error
		switch {
		case on:
			c.stopBeep() // no "recording" beep while nothing is recorded
			err = c.rec.Pause(ctx, "card-data", actor)
		case c.rec.Paused():
			err = c.rec.Resume(ctx, actor)
		}
		if errors.Is(err, recorder.ErrState) {
			c.sendError(err)
			return
		}
		if err != nil { // the audit append failed; the pause (or resume) took effect
			c.s.log.Error("pause", "call", c.id, "err", err)
		}
		if !on {
			c.startBeep()
		}
	}
	d, err := c.pol.Apply(c.ctx, ev)
	if err != nil {
		c.sendError(err)
		return
	}
	if _, err := c.s.cfg.Log.Append(c.ctx, d.AuditEvent(c.id, time.Now().UTC())); err != nil {
		c.s.log.Error("audit", "call", c.id, "err", err)
	}
	c.paused = on
	c.mu.Lock()
	c.cardData = on
	c.mu.Unlock()
	c.pauseGen++
	if on {
		gen := c.pauseGen
		time.AfterFunc(c.s.cfg.MaxPause, func() {
			c.do(func() {
				if c.paused && c.pauseGen == gen {
					c.sendError(fmt.Errorf("card-data pause: ended by itself after %v", c.s.cfg.MaxPause))
					c.pause(false, "system")
				}
			})
		})
	}
	c.apply(d) // a resume may start a recording held back by the pause
}

func (c *call) stopBeep() {
	if c.beepCancel != nil {
		c.beepCancel()
		c.beepCancel = nil
	}
}

// state is what the page shows.
type state struct {
	Type      string `json:"type"`
	CallID    string `json:"callId"`
	Notice    string `json:"notice"`    // none, playing, done, interrupted
	Recording bool   `json:"recording"` // the indicator
	Objected  bool   `json:"objected"`
	Pending   string `json:"pending"` // what recording still waits for: notice, consent
	Reason    string `json:"reason"`
	Purpose   string `json:"purpose"`
	Candidate bool   `json:"candidate"` // the agent may start recording
	Paused    bool   `json:"paused"`    // card data: nothing is recorded until resumed
	Announce  string `json:"announce"`  // "this call is now being recorded": "", playing, done, interrupted
}

func (c *call) send(d policy.Decision) {
	c.sendJSON(state{Type: "state", CallID: c.id, Notice: c.noticeSt, Recording: c.recording,
		Objected: c.input.Objected(), Pending: d.Pending.String(), Reason: string(d.Reason),
		Purpose: string(d.Purpose), Candidate: d.Candidate, Paused: c.paused,
		Announce: c.announceSt})
}

func (c *call) sendError(err error) {
	c.sendJSON(map[string]string{"type": "error", "error": err.Error()})
}

func (c *call) sendJSON(v any) {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	if dc == nil {
		return
	}
	b, _ := json.Marshal(v)
	_ = dc.SendText(string(b))
}

// hangup ends the call: the notice stops (its receipt says hang-up), a
// recording in progress is finalized, and the PeerConnection closes.
func (c *call) hangup(cause error) {
	c.hangups.Do(func() {
		c.mu.Lock()
		if c.noticeCancel != nil {
			c.noticeCancel(cause)
		}
		if c.announceStop != nil {
			c.announceStop(cause)
		}
		c.mu.Unlock()
		done := make(chan struct{})
		c.do(func() {
			defer close(done)
			c.stopBeep()
			if c.rec != nil {
				c.recording = false
				if err := c.rec.Close(context.WithoutCancel(c.ctx)); err != nil {
					c.s.log.Error("close", "call", c.id, "err", err)
				}
			}
		})
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.s.log.Error("hangup: worker stuck", "call", c.id)
		}
		c.cancel(cause)
		_ = c.pc.Close()
		c.s.mu.Lock()
		delete(c.s.calls, c.id)
		c.s.mu.Unlock()
		c.s.log.Info("hangup", "id", c.id, "cause", cause)
	})
}
