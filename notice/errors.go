package notice

import (
	"errors"
	"fmt"
)

// Sentinel errors. Check them with errors.Is.
var (
	// ErrFormat: the prompt file is malformed or of an unsupported kind.
	ErrFormat = errors.New("bad prompt format")
	// ErrNoPrompt: the library holds no prompt for the call.
	ErrNoPrompt = errors.New("no prompt")
	// ErrCodec: the codec is unknown, or the prompt cannot be played in it.
	ErrCodec = errors.New("unsupported codec")
	// ErrHangup: the call ended during playback (a cancel cause).
	ErrHangup = errors.New("hang-up")
	// ErrBargeIn: the caller interrupted the playback (a cancel cause).
	ErrBargeIn = errors.New("barge-in")
	// ErrObjected: the caller objected during playback (a cancel cause).
	ErrObjected = errors.New("objection")
	// ErrTelephoneEvent: an RFC 4733 payload is malformed.
	ErrTelephoneEvent = errors.New("bad telephone-event")
)

// FormatError tells where a prompt file is malformed. It wraps ErrFormat.
type FormatError struct {
	Format string // "mp3", "wav", "ogg"
	Offset int64  // byte offset of the problem, -1 when unknown
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: %s at byte %d", e.Format, e.Msg, e.Offset)
	}
	return e.Format + ": " + e.Msg
}

// Unwrap returns ErrFormat.
func (e *FormatError) Unwrap() error { return ErrFormat }

func formatErr(format string, off int64, msg string, a ...any) error {
	return &FormatError{Format: format, Offset: off, Msg: fmt.Sprintf(msg, a...)}
}
