package consentrec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Call is one call under the Service's policy. It keeps the policy's
// decision and the recorder in step, in the order the rules require:
//
//   - the policy decided when the Call was made (and audited it);
//   - Inform plays the notice to the caller; a completed receipt lets
//     recording start, and capture starts by itself when the decision
//     allows it (in opt-in profiles, after the caller's consent key);
//   - the caller's keys (from the customer leg only) object or consent; an
//     objection stops the notice, revokes the policy's grant and purges
//     everything captured;
//   - AgentStart announces a mid-call recording to the caller first (R17);
//   - Pause and Resume for card data: keys pressed during a pause are
//     masked everywhere (never an answer, never logged, never handed to a
//     host in clear);
//   - Hangup finalizes, catalogues every kept recording with the
//     decision's purpose, lawful basis, retention and gap index, and
//     audits it.
//
// Nothing is recorded without the policy's grant (policy.Grant). All
// methods are safe for concurrent use. After Hangup every method that
// changes the call returns ErrCallEnded; Hangup returns its first result
// again.
type Call struct {
	s       *Service
	info    policy.CallInfo
	lang    string
	subject string
	pol     *policy.Call
	rec     *recorder.Recorder
	input   *notice.Input
	log     *slog.Logger
	ctx     context.Context // ends at Hangup
	cancel  context.CancelCauseFunc

	mu           sync.Mutex // guards the fields below (media goroutines read them)
	legs         [2]*recorder.Leg
	outputs      [2]output
	paused       bool
	keyDown      bool
	noticeCancel context.CancelCauseFunc
	ended        bool

	ctl        sync.Mutex // serialises state changes; never held by media goroutines
	recording  bool
	holdStart  bool // an announcement is playing: capture waits for it
	purged     bool
	beepStop   context.CancelFunc
	pauseTimer *time.Timer
	pauseGen   int
	hungUp     bool
	result     Result
	resultErr  error
	onChange   func(Status)
}

type output struct {
	sink  *notice.SharedSink
	codec notice.Codec
}

// Result is what a call kept, returned by Hangup.
type Result struct {
	CallID   string
	Decision policy.Decision // the last decision
	// Recordings are the catalogued recordings of the call (none when it
	// was not recorded, or purged).
	Recordings []retention.Recording
	// Purged reports that an objection purged what had been captured.
	Purged bool
}

func newCall(ctx context.Context, s *Service, info policy.CallInfo, co CallOptions) (*Call, error) {
	c := &Call{s: s, info: info, lang: co.Language, log: s.logger.With("call", info.ID), onChange: co.OnChange}
	if c.lang == "" {
		c.lang = s.opts.Language
	}
	if co.Caller != "" {
		c.subject = s.SubjectKey(co.Caller)
	}
	rec, err := recorder.New(recorder.Config{CallID: info.ID, Subject: c.subject, Layout: s.opts.Layout,
		// The Call ends pauses itself (Options.MaxPause), everywhere at
		// once; the recorder's own bound is only a backstop.
		Store: s.store, Audit: s.log, MaxPause: recorder.MaxMaxPause, OnDTMF: c.onDTMF, Clock: s.clock,
		Writers: s.opts.Writers, // nil: the Clock's
		// The Call reads the caller's keys for the answers (9 objects,
		// the consent key); hosts only ever see them masked (OnKey).
		ClearDTMF: "caller answers: objection and consent keys (R15, R16)",
		OnError:   func(err error) { c.log.Error("recorder", "err", err) }})
	if err != nil {
		return nil, fmt.Errorf("consentrec: call %s: %w", info.ID, err)
	}
	c.rec = rec
	c.pol, _, err = s.engine.Begin(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("consentrec: call %s: %w", info.ID, err)
	}
	c.ctx, c.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	c.input = &notice.Input{CallID: info.ID, Party: notice.PartyCaller, Keys: s.opts.Keys, Log: s.log,
		Handler: notice.HandlerFunc(c.onAnswer)}
	d := c.pol.Decision()
	c.log.Info("call", "record", d.Record, "reason", d.Reason, "profile", d.Profile, "requires", d.Requires.String())
	return c, nil
}

// ID returns the call id.
func (c *Call) ID() string { return c.info.ID }

// Info returns what the host told of the call.
func (c *Call) Info() policy.CallInfo { return c.info }

// Decision returns the policy's current decision for the call.
func (c *Call) Decision() policy.Decision { return c.pol.Decision() }

// Recording reports whether audio is being captured right now (a recording
// in progress and not paused).
func (c *Call) Recording() bool {
	return c.rec.Recording() != "" && !c.rec.Paused()
}

// Output tells the call where a party hears the call's prompts: the notice
// and announcements (the caller), the beep while recording. For a pion
// call, notice.Samples(track) with a *webrtc.TrackLocalStaticSample and
// notice.CodecOpus; for a SIP leg, notice.NewRTPPacketizer. Prompts take
// turns on one output.
func (c *Call) Output(p notice.Party, sink notice.FrameSink, codec notice.Codec) error {
	i := partyIndex(p)
	if sink == nil || i < 0 {
		return fmt.Errorf("consentrec: call %s: output for %q: nil sink or unknown party", c.info.ID, p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return fmt.Errorf("consentrec: call %s: output: %w", c.info.ID, ErrCallEnded)
	}
	c.outputs[i] = output{sink: notice.Share(sink), codec: codec}
	return nil
}

func partyIndex(p notice.Party) int {
	switch p {
	case notice.PartyCaller, "":
		return 0
	case notice.PartyAgent:
		return 1
	}
	return -1
}

func (c *Call) output(p notice.Party) (output, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.outputs[partyIndex(p)]
	return o, o.sink != nil
}

// Leg configures a leg before its first packet, for hosts that know its
// payload types (from SDP or pion's RTPReceiver parameters), and returns
// it. Without it, a leg learns Opus's payload type from its first
// dynamic-type packet and recognises telephone-events by their shape. A
// host that reads packets itself (recorder/rtpudp) registers the leg as
// their Writer: it also takes the stream's RTCP (sender reports align the
// legs) and a batch's arrival instant, and after Hangup returns
// recorder.ErrClosed.
func (c *Call) Leg(cfg recorder.LegConfig) (*recorder.Leg, error) { return c.leg(cfg) }

func (c *Call) leg(cfg recorder.LegConfig) (*recorder.Leg, error) {
	i := roleIndex(cfg.Role)
	if i < 0 {
		return nil, fmt.Errorf("consentrec: call %s: leg role %q: %w", c.info.ID, cfg.Role, recorder.ErrConfig)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, fmt.Errorf("consentrec: call %s: %s leg: %w", c.info.ID, cfg.Role, ErrCallEnded)
	}
	if l := c.legs[i]; l != nil {
		return l, nil
	}
	l, err := c.rec.AddLeg(cfg)
	if err != nil {
		return nil, fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
	}
	c.legs[i] = l
	return l, nil
}

func roleIndex(r recorder.Role) int {
	switch r {
	case recorder.Customer:
		return 0
	case recorder.Agent:
		return 1
	}
	return -1
}

// Consume feeds a party's audio to the call from src until src ends, ctx is
// done or the call hangs up: a pion *webrtc.TrackRemote as is (its Opus
// payload type is read from the track), a G.711 leg through
// codec/g711opus, any recorder.Source. Run it on its own goroutine, as pion
// code does for each track:
//
//	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go call.Consume(ctx, recorder.Customer, t) })
//
// Audio reaches the recording only while the policy's grant allows capture;
// the customer's telephone-events are the caller's keys.
func (c *Call) Consume(ctx context.Context, role recorder.Role, src recorder.Source) error {
	cfg := recorder.LegConfig{Role: role}
	if t, ok := src.(interface {
		Codec() webrtc.RTPCodecParameters
	}); ok {
		if p := t.Codec(); strings.EqualFold(p.MimeType, webrtc.MimeTypeOpus) {
			cfg.OpusPT = uint8(p.PayloadType)
		}
	}
	l, err := c.leg(cfg)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	context.AfterFunc(c.ctx, stop)
	return l.Consume(ctx, src)
}

// RTCPReader reads one raw (decrypted) RTCP compound packet per call to
// Read, as *webrtc.RTPReceiver does. Read returns an error once the stream
// is over (io.EOF, io.ErrClosedPipe).
type RTCPReader interface {
	Read(b []byte) (n int, a interceptor.Attributes, err error)
}

// ConsumeRTCP feeds a party's RTCP to the call from r until r ends (nil),
// ctx is done (checked between packets) or the call hangs up: once both
// legs' senders sent reports, the legs are aligned on their clocks (see
// recorder.Leg.WriteRTCP). Run it beside Consume, with the track's
// receiver:
//
//	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
//		go call.Consume(ctx, recorder.Customer, t)
//		go call.ConsumeRTCP(ctx, recorder.Customer, r)
//	})
//
// Malformed packets are skipped; it allocates one buffer.
func (c *Call) ConsumeRTCP(ctx context.Context, role recorder.Role, r RTCPReader) error {
	l, err := c.leg(recorder.LegConfig{Role: role})
	if err != nil {
		return err
	}
	b := make([]byte, 1500)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.ctx.Err() != nil {
			return nil
		}
		n, _, err := r.Read(b)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consentrec: call %s: %s leg rtcp: %w", c.info.ID, role, err)
		}
		if err := l.WriteRTCP(b[:n]); errors.Is(err, recorder.ErrClosed) {
			return nil
		}
	}
}

// WriteRTP hands one packet of a party's leg to the call (push-style: RTP
// forked over UDP by a media server). p is not retained.
func (c *Call) WriteRTP(role recorder.Role, p *rtp.Packet) error {
	l, err := c.leg(recorder.LegConfig{Role: role})
	if err != nil {
		return err
	}
	if err := l.WriteRTP(p); errors.Is(err, recorder.ErrClosed) {
		return fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	} else if err != nil {
		return fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
	}
	return nil
}

// onDTMF receives the legs' telephone-events (from the recorder, on the
// media goroutine). Only the customer's keys are the caller's answers; keys
// pressed during a pause are card data and go nowhere but, masked, to
// Options.OnKey.
func (c *Call) onDTMF(ev recorder.DTMF) {
	if ev.Leg != recorder.Customer {
		return
	}
	c.mu.Lock()
	masked := ev.Masked || c.paused
	press := false
	if ev.End {
		press = !c.keyDown
		c.keyDown = false
	} else {
		press = !c.keyDown
		c.keyDown = true
	}
	ended := c.ended
	c.mu.Unlock()
	if cb := c.s.opts.OnKey; cb != nil && press {
		m := ev
		m.Event, m.Digit, m.Masked = 0, 0, true
		cb(c.info.ID, m)
	}
	if masked || !press || ended || ev.Digit == 0 {
		return
	}
	go func() {
		if _, err := c.input.Key(c.ctx, notice.Key(ev.Digit), notice.MethodRFC4733); err != nil && c.ctx.Err() == nil {
			c.log.Error("caller key", "err", err)
		}
	}()
}

// onAnswer applies a logged answer (objection, consent) to the policy and
// the recorder.
func (c *Call) onAnswer(ctx context.Context, a notice.Answer) {
	if a.Action == notice.ActionObjection {
		c.mu.Lock()
		if c.noticeCancel != nil {
			c.noticeCancel(notice.ErrObjected) // the receipt says why it stopped
		}
		c.mu.Unlock()
	}
	ev := a.PolicyEvent()
	if ev.Kind == 0 {
		return
	}
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return
	}
	_, err := c.pol.Apply(context.WithoutCancel(ctx), ev)
	if errors.Is(err, policy.ErrRecordingRefused) {
		c.log.Info("the caller refused to be recorded: the host must end the call (R18)")
	} else if err != nil {
		c.log.Error("policy", "event", ev.Kind.String(), "err", err)
	}
	if err := c.syncLocked(context.WithoutCancel(ctx)); err != nil {
		c.log.Error("recorder", "err", err)
	}
}

// Object reports the caller's objection given otherwise than by a key: a
// button, or said to the agent (actor: who reports it). It is logged, stops
// the notice, revokes the grant and purges what was captured (R15), except
// under a statute (the recording continues; the caller is told).
func (c *Call) Object(ctx context.Context, m notice.Method, actor string) (policy.Decision, error) {
	if err := c.live(); err != nil {
		return c.Decision(), err
	}
	_, err := c.input.Object(ctx, m, actor)
	return c.Decision(), err
}

// Consent reports the caller's affirmative consent given otherwise than by a
// key (a button; said to the agent). Under opt-in profiles (DE), recording
// starts only after it (R16).
func (c *Call) Consent(ctx context.Context, m notice.Method, actor string) (policy.Decision, error) {
	if err := c.live(); err != nil {
		return c.Decision(), err
	}
	_, err := c.input.Consent(ctx, m, actor)
	return c.Decision(), err
}

func (c *Call) live() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	}
	return nil
}

// Inform plays the notice to the caller (through the Output given for
// notice.PartyCaller), in the call's language and for its profile, and
// returns its receipt once it ended: completed, or interrupted by an
// objection, a hang-up or ctx. A completed receipt lets recording start, and
// capture starts at once when the decision allows it. A call the policy can
// never record needs no notice: Inform then returns a zero Receipt and nil.
func (c *Call) Inform(ctx context.Context) (notice.Receipt, error) {
	if err := c.live(); err != nil {
		return notice.Receipt{}, err
	}
	d := c.Decision()
	if (!d.Record && !d.Candidate) || d.Purge {
		return notice.Receipt{}, nil
	}
	out, ok := c.output(notice.PartyCaller)
	if !ok {
		return notice.Receipt{}, fmt.Errorf("consentrec: call %s: inform: %w", c.info.ID, ErrNoOutput)
	}
	prompt, err := c.s.notices.Select(c.lang, d.Profile)
	if err != nil {
		return notice.Receipt{}, fmt.Errorf("consentrec: call %s: inform: %w", c.info.ID, err)
	}
	prep, err := c.s.cache.Get(prompt, out.codec)
	if err != nil {
		return notice.Receipt{}, fmt.Errorf("consentrec: call %s: inform: %w", c.info.ID, err)
	}
	c.input.SetPrompt(prompt.Version())
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.ctx, func() { cancel(notice.ErrHangup) })
	defer stop()
	c.mu.Lock()
	c.noticeCancel = cancel
	c.mu.Unlock()
	player := notice.Player{CallID: c.info.ID, Party: notice.PartyCaller, Log: c.s.log}
	r, perr := player.Play(pctx, prep, out.sink)
	c.mu.Lock()
	c.noticeCancel = nil
	c.mu.Unlock()
	if r.Start.IsZero() {
		return r, fmt.Errorf("consentrec: call %s: inform: %w", c.info.ID, perr)
	}
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return r, perr
	}
	_, err = c.pol.Apply(context.WithoutCancel(ctx), r.PolicyEvent())
	if err := errors.Join(err, c.syncLocked(context.WithoutCancel(ctx))); err != nil {
		return r, fmt.Errorf("consentrec: call %s: inform: %w", c.info.ID, errors.Join(perr, err))
	}
	if perr != nil && !r.Completed() && errors.Is(perr, context.Canceled) {
		perr = nil // an interrupted notice is in the receipt, not an error
	}
	return r, perr
}

// Informed records that the caller was told otherwise than by Inform, and
// vouches for it: a PBX or SBC that plays the notice itself before forking
// the call to the recorder (SIPREC: the recorder's media lines are
// receive-only), an IVR of the host's. evidence names who told the caller
// (e.g. "src:sbc-paris-1, prompt fr-2026-01"); it is audited as a notice
// receipt (audit.KindNoticePlayed, actor "host", attr external=true), so an
// auditor sees it was not played by consentrec, and the policy then allows
// capture as after a completed Inform.
func (c *Call) Informed(ctx context.Context, evidence string) error {
	if err := c.live(); err != nil {
		return err
	}
	if strings.TrimSpace(evidence) == "" || len(evidence) > 1024 {
		return fmt.Errorf("consentrec: call %s: informed: evidence must name who told the caller (1 to 1024 bytes): %w", c.info.ID, recorder.ErrConfig)
	}
	now := time.Now().UTC()
	// The same receipt as a played notice's, marked external and vouched
	// for by the host.
	ev := notice.Receipt{CallID: c.info.ID, Party: notice.PartyCaller, Prompt: "external", Start: now, End: now}.Event()
	ev.Actor, ev.Reason = "host", evidence
	ev.Attrs = append(ev.Attrs, audit.Attr{Key: "external", Value: "true"})
	if _, err := c.s.log.Append(ctx, ev); err != nil {
		return fmt.Errorf("consentrec: call %s: informed: audit: %w", c.info.ID, err)
	}
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	}
	if _, err := c.pol.Apply(ctx, policy.Event{Kind: policy.EventNoticeCompleted, Party: policy.PartyCaller, Actor: "host",
		Time: now, Evidence: "external:" + evidence}); err != nil {
		return fmt.Errorf("consentrec: call %s: informed: %w", c.info.ID, err)
	}
	return c.syncLocked(ctx)
}

// AgentStart starts a recording on the agent's (or with SupervisorStart, a
// supervisor's) action, for purpose p (empty: the policy's first such rule).
// The caller first hears that the call is now being recorded (R17) when the
// call has a caller Output; capture starts once that announcement was heard
// to the end. It returns the new decision.
func (c *Call) AgentStart(ctx context.Context, actor string, p policy.Purpose) (policy.Decision, error) {
	return c.manualStart(ctx, policy.EventAgentStart, actor, p)
}

// SupervisorStart is AgentStart for a supervisor's on-demand request.
func (c *Call) SupervisorStart(ctx context.Context, actor string, p policy.Purpose) (policy.Decision, error) {
	return c.manualStart(ctx, policy.EventSupervisorStart, actor, p)
}

func (c *Call) manualStart(ctx context.Context, k policy.EventKind, actor string, p policy.Purpose) (policy.Decision, error) {
	c.ctl.Lock()
	if c.hungUp {
		c.ctl.Unlock()
		return c.Decision(), fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	}
	d, err := c.pol.Apply(ctx, policy.Event{Kind: k, Actor: actor, Purpose: p})
	if err != nil {
		c.ctl.Unlock()
		return d, fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
	}
	out, announce := c.output(notice.PartyCaller)
	announce = announce && d.Capture
	if !announce {
		err := c.syncLocked(ctx)
		c.ctl.Unlock()
		return c.Decision(), err
	}
	c.holdStart = true
	c.ctl.Unlock()

	heard, aerr := c.announce(ctx, d, out)

	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.holdStart = false
	if c.hungUp {
		return c.Decision(), fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	}
	if !heard {
		// Not announced: no recording; the agent may start again.
		if nd, err := c.pol.Apply(context.WithoutCancel(ctx), policy.Event{Kind: stopOf(k), Actor: "system"}); err != nil && c.pol.Decision().Record {
			return nd, errors.Join(aerr, err)
		}
		return c.Decision(), fmt.Errorf("consentrec: call %s: recording not started: the announcement was not heard to the end: %w",
			c.info.ID, errors.Join(aerr, policy.ErrNotAllowed))
	}
	return c.Decision(), c.syncLocked(ctx)
}

func stopOf(k policy.EventKind) policy.EventKind {
	if k == policy.EventSupervisorStart {
		return policy.EventSupervisorStop
	}
	return policy.EventAgentStop
}

func (c *Call) announce(ctx context.Context, d policy.Decision, out output) (bool, error) {
	prompt, err := c.s.announce.Select(c.lang, d.Profile)
	if err != nil {
		return false, err
	}
	prep, err := c.s.cache.Get(prompt, out.codec)
	if err != nil {
		return false, err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.ctx, func() { cancel(notice.ErrHangup) })
	defer stop()
	c.mu.Lock()
	c.noticeCancel = cancel
	c.mu.Unlock()
	if c.input.Objected() {
		// The caller objected while the announcement was being prepared:
		// it is not played, and its receipt says why.
		cancel(notice.ErrObjected)
	}
	// The agent hears it too when the agent has an output (the employee
	// side of R17): capture waits for both receipts.
	type played struct {
		r   notice.Receipt
		err error
	}
	var toAgent chan played
	if ag, ok := c.output(notice.PartyAgent); ok {
		aprep, err := c.s.cache.Get(prompt, ag.codec)
		if err != nil {
			return false, err
		}
		toAgent = make(chan played, 1)
		go func() {
			pl := notice.Player{CallID: c.info.ID, Party: notice.PartyAgent, Log: c.s.log}
			r, err := pl.Play(pctx, aprep, ag.sink)
			toAgent <- played{r, err}
		}()
	}
	player := notice.Player{CallID: c.info.ID, Party: notice.PartyCaller, Log: c.s.log}
	r, err := player.Play(pctx, prep, out.sink)
	heard := r.Completed() && err == nil
	if !heard {
		cancel(errNotAnnounced) // the agent's copy too
	}
	if toAgent != nil {
		a := <-toAgent
		heard = heard && a.r.Completed() && a.err == nil
		err = errors.Join(err, a.err)
	}
	c.mu.Lock()
	c.noticeCancel = nil
	c.mu.Unlock()
	return heard, err
}

var errNotAnnounced = errors.New("consentrec: the announcement was not heard to the end")

// AgentStop stops a recording the agent started (the policy refuses it for
// a statute's recording). What was recorded is kept and catalogued at
// Hangup; the agent may start again.
func (c *Call) AgentStop(ctx context.Context, actor string) (policy.Decision, error) {
	return c.manualStop(ctx, policy.EventAgentStop, actor)
}

// SupervisorStop ends a supervisor's request.
func (c *Call) SupervisorStop(ctx context.Context, actor string) (policy.Decision, error) {
	return c.manualStop(ctx, policy.EventSupervisorStop, actor)
}

func (c *Call) manualStop(ctx context.Context, k policy.EventKind, actor string) (policy.Decision, error) {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return c.Decision(), fmt.Errorf("consentrec: call %s: %w", c.info.ID, ErrCallEnded)
	}
	// Stop first, with the actor's name in the trail; then the policy
	// revokes the grant (nothing left to stop).
	if c.recording && c.pol.Decision().Record {
		if _, err := c.rec.Stop(ctx, actor); err != nil && !errors.Is(err, recorder.ErrState) {
			c.log.Error("stop", "err", err)
		}
		c.recording = false
		c.stopBeepLocked()
	}
	d, err := c.pol.Apply(ctx, policy.Event{Kind: k, Actor: actor})
	if err != nil {
		return d, fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
	}
	return c.Decision(), c.syncLocked(ctx)
}

// Pause pauses the call for card data (PCI DSS; R21, R22): once it
// returns, no audio is captured and the caller's keys are masked everywhere
// (they are card digits: never an answer, never logged). The pause is in
// the recording's gap index with reason and actor, and in the audit log.
// It ends with Resume, or by itself after Options.MaxPause (actor
// "system"). A pause before recording started holds capture back until
// the resume.
func (c *Call) Pause(ctx context.Context, reason, actor string) error {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return fmt.Errorf("consentrec: call %s: pause: %w", c.info.ID, ErrCallEnded)
	}
	c.mu.Lock()
	if c.paused {
		c.mu.Unlock()
		return fmt.Errorf("consentrec: call %s: pause: already paused: %w", c.info.ID, recorder.ErrState)
	}
	c.paused = true // keys are card digits from now on
	c.mu.Unlock()
	c.stopBeepLocked()
	var errs []error
	if c.recording {
		if err := c.rec.Pause(ctx, reason, actor); err != nil && !errors.Is(err, recorder.ErrState) {
			errs = append(errs, err) // the pause took effect; its audit failed
		}
	}
	if _, err := c.pol.Apply(ctx, policy.Event{Kind: policy.EventPause, Actor: actor}); err != nil {
		errs = append(errs, err)
	}
	c.pauseGen++
	gen := c.pauseGen
	maxPause := c.s.opts.MaxPause
	if maxPause <= 0 {
		maxPause = recorder.DefaultMaxPause
	}
	c.pauseTimer = time.AfterFunc(maxPause, func() {
		c.ctl.Lock()
		defer c.ctl.Unlock()
		if c.pauseGen == gen && !c.hungUp {
			if err := c.resumeLocked(context.Background(), "system"); err != nil {
				c.log.Error("automatic resume", "err", err)
			}
		}
	})
	c.notifyLocked()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consentrec: call %s: pause: %w", c.info.ID, err)
	}
	return nil
}

// Resume ends a card-data pause: capture resumes (or starts, if the pause
// held it back) once it returns.
func (c *Call) Resume(ctx context.Context, actor string) error {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return fmt.Errorf("consentrec: call %s: resume: %w", c.info.ID, ErrCallEnded)
	}
	return c.resumeLocked(ctx, actor)
}

func (c *Call) resumeLocked(ctx context.Context, actor string) error {
	c.mu.Lock()
	if !c.paused {
		c.mu.Unlock()
		return fmt.Errorf("consentrec: call %s: resume: not paused: %w", c.info.ID, recorder.ErrState)
	}
	c.mu.Unlock()
	c.pauseGen++
	if c.pauseTimer != nil {
		c.pauseTimer.Stop()
	}
	var errs []error
	if c.recording && c.rec.Paused() {
		if err := c.rec.Resume(ctx, actor); err != nil && !errors.Is(err, recorder.ErrState) {
			errs = append(errs, err)
		}
	}
	if _, err := c.pol.Apply(ctx, policy.Event{Kind: policy.EventResume, Actor: actor}); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	c.paused = false
	c.keyDown = false
	c.mu.Unlock()
	if c.recording {
		c.startBeepLocked()
	}
	errs = append(errs, c.syncLocked(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consentrec: call %s: resume: %w", c.info.ID, err)
	}
	return nil
}

// Paused reports whether the call is paused for card data.
func (c *Call) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// notifyLocked tells OnChange of the call's status. c.ctl held.
func (c *Call) notifyLocked() {
	if c.onChange == nil {
		return
	}
	c.onChange(Status{CallID: c.info.ID, Decision: c.pol.Decision(), Recording: c.recording && !c.Paused(),
		Paused: c.Paused(), Ended: c.hungUp})
}

// syncLocked makes the recorder follow the policy's decision and tells
// OnChange. c.ctl held.
func (c *Call) syncLocked(ctx context.Context) error {
	defer c.notifyLocked()
	d := c.pol.Decision()
	if c.recording && c.rec.Recording() == "" {
		c.recording = false // stopped by the grant's revocation
		c.stopBeepLocked()
	}
	switch {
	case d.Purge && !c.purged:
		c.purged = true
		c.recording = false
		c.stopBeepLocked()
		if err := c.rec.Discard(ctx, "objection", "caller"); err != nil {
			return fmt.Errorf("consentrec: call %s: purge: %w", c.info.ID, err)
		}
		c.log.Info("objection: everything captured was purged")
	case d.Capture && !c.recording && !c.holdStart:
		g, err := c.pol.Grant()
		if err != nil {
			return fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
		}
		actor := "system"
		if d.Reason == policy.ReasonAgentStarted || d.Reason == policy.ReasonSupervisor {
			actor = c.info.Agent
		}
		id, err := c.rec.Start(ctx, g, actor)
		if err != nil {
			return fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
		}
		c.recording = true
		c.startBeepLocked()
		c.log.Info("recording", "id", id, "purpose", g.Purpose(), "basis", g.LawfulBasis())
	case c.recording && (!d.Record || d.Pending != 0):
		c.recording = false
		c.stopBeepLocked()
		if _, err := c.rec.Stop(ctx, "policy"); err != nil && !errors.Is(err, recorder.ErrState) {
			return fmt.Errorf("consentrec: call %s: %w", c.info.ID, err)
		}
	}
	return nil
}

func (c *Call) startBeepLocked() {
	if c.s.beep == nil || c.beepStop != nil {
		return
	}
	out, ok := c.output(notice.PartyCaller)
	if !ok {
		return
	}
	prep, err := c.s.cache.Get(c.s.beep, out.codec)
	if err != nil {
		c.log.Error("beep", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.beepStop = cancel
	go func() { _ = notice.Beeper{Interval: c.s.opts.Beep}.Run(ctx, prep, out.sink) }()
}

func (c *Call) stopBeepLocked() {
	if c.beepStop != nil {
		c.beepStop()
		c.beepStop = nil
	}
}

// Hangup ends the call: a notice or announcement playing stops (its receipt
// says hang-up), a recording in progress is finalized, the policy's grant
// is spent, and every recording the call kept is catalogued with the
// decision's purpose, lawful basis, retention and deadline, its gap index
// (pauses with actor and note) and the caller's pseudonym, and audited
// (audit.KindRecordingCatalogued). It is idempotent: a second Hangup returns
// the first one's result and error. ctx bounds the finalization.
func (c *Call) Hangup(ctx context.Context) (Result, error) {
	c.mu.Lock()
	if c.noticeCancel != nil {
		c.noticeCancel(notice.ErrHangup)
	}
	c.ended = true
	c.mu.Unlock()
	c.cancel(notice.ErrHangup)

	c.ctl.Lock()
	defer c.ctl.Unlock()
	if c.hungUp {
		return c.result, c.resultErr
	}
	c.hungUp = true
	c.stopBeepLocked()
	if c.pauseTimer != nil {
		c.pauseTimer.Stop()
	}
	var errs []error
	if c.rec.Recording() != "" {
		if _, err := c.rec.Stop(ctx, "hangup"); err != nil && !errors.Is(err, recorder.ErrState) {
			errs = append(errs, err)
		}
	}
	c.recording = false
	d := c.pol.Decision()
	c.pol.End()
	if err := c.rec.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	res := Result{CallID: c.info.ID, Decision: d, Purged: c.purged}
	if !c.purged {
		for _, id := range c.rec.Files() {
			m, err := c.s.store.Stat(ctx, id)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r, err := c.s.catalogue(ctx, m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			res.Recordings = append(res.Recordings, r)
		}
	}
	c.result = res
	c.notifyLocked()
	if err := errors.Join(errs...); err != nil {
		c.resultErr = fmt.Errorf("consentrec: call %s: hangup: %w", c.info.ID, err)
	}
	c.s.ended(c)
	c.log.Info("hangup", "recordings", len(res.Recordings), "purged", res.Purged)
	return c.result, c.resultErr
}

func (s *Service) catalogue(ctx context.Context, m recorder.Meta) (retention.Recording, error) {
	return Catalogue(ctx, s.catalog, s.log, m)
}

// Catalogue adds a finalized recording to the catalog with what the policy's
// grant fixed and the recorder kept in its Meta (purpose, lawful basis,
// retention, deadline, subject, gap index with actors and notes), and audits
// it (audit.KindRecordingCatalogued). Every path that finalizes a recording
// goes through it: Call.Hangup, Open's crash recovery, Recover (and so the
// CLI's recover commands). A recording already catalogued is returned as it
// is, so a retry is safe.
func Catalogue(ctx context.Context, cat retention.Catalog, log audit.Appender, m recorder.Meta) (retention.Recording, error) {
	if m.State != recorder.StateFinalized {
		return retention.Recording{}, fmt.Errorf("consentrec: catalogue %s: %w", m.ID, recorder.ErrNotFinalized)
	}
	if r, err := cat.Get(ctx, m.ID); err == nil {
		return r, nil
	}
	e, err := fromrecorder.Entry(m, "", policy.Period{})
	if err != nil {
		return retention.Recording{}, fmt.Errorf("consentrec: catalogue: %w", err)
	}
	r, err := retention.New(e)
	if err != nil {
		return retention.Recording{}, fmt.Errorf("consentrec: catalogue %s: %w", m.ID, err)
	}
	if err := cat.Add(ctx, r); err != nil && !errors.Is(err, retention.ErrExists) {
		return retention.Recording{}, fmt.Errorf("consentrec: catalogue %s: %w", m.ID, err)
	}
	ev := audit.Event{Kind: audit.KindRecordingCatalogued, Time: time.Now().UTC(), CallID: r.CallID, RecordingID: r.ID,
		Actor: "system", Subject: r.Subject, Purpose: string(r.Purpose), PolicyVersion: m.PolicyVersion, SHA256: r.SHA256,
		Attrs: []audit.Attr{{Key: "lawful_basis", Value: r.LawfulBasis}, {Key: "deadline", Value: r.Deadline.Format(time.RFC3339)},
			{Key: "retention", Value: m.Retention.String()}, {Key: "gaps", Value: fmt.Sprint(len(r.Gaps))}}}
	if m.Recovered {
		ev.Attrs = append(ev.Attrs, audit.Attr{Key: "recovered", Value: "true"})
	}
	if _, err := log.Append(ctx, ev); err != nil {
		return r, fmt.Errorf("consentrec: catalogue %s: audit: %w", m.ID, err)
	}
	return r, nil
}
