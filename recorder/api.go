package recorder

import (
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Source is a pull-style RTP packet source. *webrtc.TrackRemote satisfies it
// as is; so does any adapter (a UDP socket, a G.711 to Opus transcoder).
//
// ReadRTP blocks until a packet is available. It returns io.EOF (or any
// error) when the source is finished; the Leg reading it then stops. The
// returned packet is only read before the next call: a Source may reuse it.
type Source interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
}

// SourceFunc adapts a function to a Source.
type SourceFunc func() (*rtp.Packet, interceptor.Attributes, error)

// ReadRTP calls f().
func (f SourceFunc) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) { return f() }

// LegConfig describes one leg of a call.
//
// For a pion track, in OnTrack(track, receiver):
//
//	leg, err := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: uint8(track.PayloadType())})
//	go leg.Consume(ctx, track)
//
// pion delivers the telephone-events of the same SSRC through the same
// track; with DTMFPT zero they are recognised by shape. Set DTMFPT and
// DTMFClockRate from receiver.GetParameters().Codecs ("audio/telephone-event")
// when only one is negotiated, for exact durations.
type LegConfig struct {
	// Role is whose voice the leg carries. Required.
	Role Role
	// OpusPT is the RTP payload type of Opus (RFC 7587, 48 kHz clock).
	// Zero: the first dynamic payload type (96-127) that is not DTMFPT is
	// taken as Opus.
	OpusPT uint8
	// DTMFPT is the payload type of RFC 4733 telephone-event. Zero: any
	// other dynamic payload type (96-127) carrying a well-formed 4-byte
	// event is taken as telephone-event.
	DTMFPT uint8
	// DTMFClockRate is the RTP clock rate of telephone-event. Zero: 8000.
	DTMFClockRate uint32
}

// DTMF is one RFC 4733 telephone-event seen on a leg. Telephone-events are
// never written to the recording; they are handed to Config.OnDTMF, once
// when the event begins (End false) and once when it ends (End true).
type DTMF struct {
	Leg      Role
	Event    uint8         // 0-9, 10 = '*', 11 = '#', 12-15 = A-D, others per RFC 4733
	Digit    rune          // the key for events 0-15, 0 otherwise
	End      bool          // the end of the event
	Duration time.Duration // so far (at the end: the whole duration)
	Volume   uint8         // in -dBm0 (0-63)
	At       time.Time     // arrival time of the packet that reported it
	// Masked is set for every key unless Config.ClearDTMF names why the
	// host needs them, and always for keys pressed while the recording is
	// paused: they may be card data (PCI DSS, R21-R23), so Event and Digit
	// are withheld (zero) and only the fact that a key was pressed is
	// reported.
	Masked bool
}
