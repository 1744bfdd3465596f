package notice

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Frame is one encoded frame handed to a FrameSink. Data is shared with the
// cache: a sink must not modify it or keep it after WriteFrame returns
// unless it copies it.
type Frame struct {
	Data     []byte
	Samples  uint32        // duration in RTP clock units (RTP timestamp increment)
	Duration time.Duration // the same, as a duration
}

// FrameSink receives the frames of a playback, one call per frame, paced in
// real time by the caller. WriteFrame is not called concurrently for one
// playback; an error stops the playback.
type FrameSink interface {
	WriteFrame(f Frame) error
}

// FrameSinkFunc adapts a function to a FrameSink.
type FrameSinkFunc func(f Frame) error

// WriteFrame calls fn(f).
func (fn FrameSinkFunc) WriteFrame(f Frame) error { return fn(f) }

// Talkspurter is an optional interface of a FrameSink: StartTalkspurt is
// called before the first frame of every playback (an RTP sink sets the
// marker bit and moves its timestamp over the silence since the last one).
type Talkspurter interface {
	StartTalkspurt()
}

// SampleSink is what pion's webrtc.TrackLocalStaticSample offers.
type SampleSink interface {
	WriteSample(media.Sample) error
}

// RTPSink is what an RTP writer offers: pion's TrackLocalStaticRTP, or a SIP
// leg's RTP session.
type RTPSink interface {
	WriteRTP(*rtp.Packet) error
}

// Samples adapts a SampleSink (a pion TrackLocalStaticSample, whose codec
// must match the prepared prompt's) to a FrameSink.
func Samples(s SampleSink) FrameSink {
	return FrameSinkFunc(func(f Frame) error {
		return s.WriteSample(media.Sample{Data: f.Data, Duration: f.Duration})
	})
}

// RTPPacketizer is a FrameSink that wraps frames in RTP packets (one frame
// per packet) for an RTPSink: the media of one RTP stream, e.g. a SIP leg.
// Keep one per stream, so that sequence numbers and timestamps stay
// continuous across prompts and beeps. It reuses one packet: the RTPSink
// must not keep it after WriteRTP returns. Not safe for concurrent use.
type RTPPacketizer struct {
	w        RTPSink
	clock    int
	pkt      rtp.Packet
	marker   bool
	started  bool
	lastWall time.Time
	lastDur  time.Duration
}

var (
	_ FrameSink   = (*RTPPacketizer)(nil)
	_ Talkspurter = (*RTPPacketizer)(nil)
)

// NewRTPPacketizer returns a packetizer writing to w with payload type pt
// (0 for PCMU, 8 for PCMA, the negotiated one for Opus), source ssrc and
// the codec's clock rate. The first sequence number and timestamp are
// random (RFC 3550).
func NewRTPPacketizer(w RTPSink, pt uint8, ssrc uint32, c Codec) (*RTPPacketizer, error) {
	if c.ClockRate() == 0 {
		return nil, fmt.Errorf("notice: rtp packetizer: codec %q: %w", c, ErrCodec)
	}
	if pt > 127 {
		return nil, fmt.Errorf("notice: rtp packetizer: payload type %d: %w", pt, ErrCodec)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	p := &RTPPacketizer{w: w, clock: c.ClockRate()}
	p.pkt.Version = 2
	p.pkt.PayloadType = pt
	p.pkt.SSRC = ssrc
	p.pkt.SequenceNumber = binary.BigEndian.Uint16(r[0:])
	p.pkt.Timestamp = binary.BigEndian.Uint32(r[2:])
	return p, nil
}

// StartTalkspurt marks the next packet as the start of a talkspurt and, if
// packets were sent before, advances the timestamp over the silence since.
func (p *RTPPacketizer) StartTalkspurt() {
	p.marker = true
	if p.started {
		gap := time.Since(p.lastWall) - p.lastDur
		if gap > 0 {
			p.pkt.Timestamp += uint32(gap * time.Duration(p.clock) / time.Second)
		}
	}
}

// WriteFrame sends one frame as one RTP packet.
func (p *RTPPacketizer) WriteFrame(f Frame) error {
	p.pkt.Marker = p.marker
	p.pkt.Payload = f.Data
	err := p.w.WriteRTP(&p.pkt)
	p.marker = false
	p.started = true
	p.lastWall, p.lastDur = time.Now(), f.Duration
	p.pkt.SequenceNumber++
	p.pkt.Timestamp += f.Samples
	p.pkt.Payload = nil
	if err != nil {
		return fmt.Errorf("notice: write rtp: %w", err)
	}
	return nil
}

// Stream sends the frames of p to sink paced in real time: frame i leaves
// at start + the duration of the frames before it, so pacing never drifts;
// Stream returns once the last frame has had time to play. It stops early,
// without error, when ctx is done. It returns how much audio was sent.
// If sink is Exclusive, Stream first waits for its turn (not counted as
// played). No receipt is kept: use a Player for notices. Time comes from package
// time, so tests can run it in a synctest bubble.
func Stream(ctx context.Context, p *Prepared, sink FrameSink) (time.Duration, error) {
	return stream(ctx, p, sink, nil)
}

// stream is Stream; it sets *began, if not nil, when the first frame is
// about to be sent (after the wait for an Exclusive sink).
func stream(ctx context.Context, p *Prepared, sink FrameSink, began *time.Time) (time.Duration, error) {
	if ex, ok := sink.(Exclusive); ok {
		if ex.Acquire(ctx) != nil {
			return 0, nil
		}
		defer ex.Release()
	}
	if ts, ok := sink.(Talkspurter); ok {
		ts.StartTalkspurt()
	}
	clock := time.Duration(p.codec.ClockRate())
	start := time.Now()
	if began != nil {
		*began = start
	}
	var sent time.Duration
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, f := range p.frames {
		if i > 0 && !sleepUntil(ctx, timer, start.Add(sent)) {
			return sent, nil
		}
		if ctx.Err() != nil {
			return sent, nil
		}
		d := time.Duration(p.samples[i]) * time.Second / clock
		if err := sink.WriteFrame(Frame{Data: f, Samples: p.samples[i], Duration: d}); err != nil {
			return sent, err
		}
		sent += d
	}
	sleepUntil(ctx, timer, start.Add(sent))
	return sent, nil
}

// sleepUntil waits for t or ctx; it reports whether t was reached.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		if !timer.Stop() {
			<-timer.C
		}
		return false
	}
}

// Player plays notices and keeps a receipt of every playback in the audit
// log. Its zero value is not usable: Log is required. A Player holds no
// per-playback state and may be used by several goroutines.
type Player struct {
	CallID string
	Party  Party          // who hears it; default PartyCaller (PartyAgent for the employee notice)
	Log    audit.Appender // required: receipts are appended here
}

// Play streams p into sink in real time (see Stream) and appends its
// receipt to the log. To interrupt it, cancel ctx with a cause:
// context.WithCancelCause(ctx) and cancel(ErrHangup), ErrBargeIn or
// ErrObjected; the receipt records the interruption. An interruption is not
// an error: the returned error is non-nil only when the sink failed (the
// receipt says InterruptError) or the receipt could not be logged. The
// receipt is logged even when ctx was canceled.
func (pl *Player) Play(ctx context.Context, p *Prepared, sink FrameSink) (Receipt, error) {
	party := pl.Party
	if party == "" {
		party = PartyCaller
	}
	r := Receipt{CallID: pl.CallID, Party: party, Prompt: p.prompt.name, Version: p.prompt.version,
		Codec: p.codec, Start: time.Now()}
	if pl.Log == nil {
		return r, fmt.Errorf("notice: play %s: %w", p.prompt.name, ErrNoLog)
	}
	// The receipt starts when the notice begins to play, after any wait
	// for a shared sink: that is what the caller heard, and what tells a
	// notice cut during its last frame from a complete one.
	var began time.Time
	played, err := stream(ctx, p, sink, &began)
	r.End, r.Played = time.Now(), played
	if !began.IsZero() {
		r.Start = began
	}
	switch {
	case err != nil:
		r.Interrupted = InterruptError
	case played < p.dur || r.End.Sub(r.Start) < p.dur:
		r.Interrupted = interruption(context.Cause(ctx))
	}
	if _, lerr := pl.Log.Append(context.WithoutCancel(ctx), r.Event()); lerr != nil {
		return r, fmt.Errorf("notice: play %s: log receipt: %w", p.prompt.name, lerr)
	}
	if err != nil {
		return r, fmt.Errorf("notice: play %s: %w", p.prompt.name, err)
	}
	return r, nil
}
