package notice

import (
	"errors"
	"strconv"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Party is who heard a prompt or pressed a key.
type Party string

// Parties.
const (
	PartyCaller Party = "caller" // the customer
	PartyAgent  Party = "agent"  // the employee (employee notice)
)

// Interruption says why a playback did not complete.
type Interruption string

// Interruptions. The empty value means the playback completed.
const (
	Completed         Interruption = ""
	InterruptHangup   Interruption = "hang-up"   // the call ended (cause ErrHangup)
	InterruptBargeIn  Interruption = "barge-in"  // the caller interrupted (cause ErrBargeIn)
	InterruptObjected Interruption = "objection" // the caller objected (cause ErrObjected)
	InterruptCanceled Interruption = "canceled"  // the context was canceled for another reason
	InterruptError    Interruption = "error"     // the sink failed
)

// interruption classifies the cause of an interrupted playback.
func interruption(cause error) Interruption {
	switch {
	case errors.Is(cause, ErrHangup):
		return InterruptHangup
	case errors.Is(cause, ErrBargeIn):
		return InterruptBargeIn
	case errors.Is(cause, ErrObjected):
		return InterruptObjected
	}
	return InterruptCanceled
}

// Receipt is the proof of one playback: which prompt version was played to
// whom, when, and whether it was heard to the end.
type Receipt struct {
	CallID      string
	Party       Party
	Prompt      string // the prompt's name
	Version     string // the prompt's version (SHA-256 of its file)
	Codec       Codec
	Start, End  time.Time
	Played      time.Duration // audio actually sent
	Interrupted Interruption  // Completed ("") when played to the end
}

// Completed reports whether the prompt was played to the end.
func (r Receipt) Completed() bool { return r.Interrupted == Completed }

// Event returns the receipt as an audit event of kind KindNoticePlayed.
// Attrs: prompt, version, party, codec, start, end, played_ms, completed,
// and interrupted when it did not complete.
func (r Receipt) Event() audit.Event {
	attrs := []audit.Attr{
		{Key: "prompt", Value: r.Prompt},
		{Key: "version", Value: r.Version},
		{Key: "party", Value: string(r.Party)},
		{Key: "codec", Value: string(r.Codec)},
		{Key: "start", Value: r.Start.UTC().Format(time.RFC3339Nano)},
		{Key: "end", Value: r.End.UTC().Format(time.RFC3339Nano)},
		{Key: "played_ms", Value: strconv.FormatInt(r.Played.Milliseconds(), 10)},
		{Key: "completed", Value: strconv.FormatBool(r.Completed())},
	}
	if !r.Completed() {
		attrs = append(attrs, audit.Attr{Key: "interrupted", Value: string(r.Interrupted)})
	}
	return audit.Event{
		Kind:   audit.KindNoticePlayed,
		Time:   r.End.UTC(),
		CallID: r.CallID,
		Actor:  "system",
		Attrs:  attrs,
	}
}
