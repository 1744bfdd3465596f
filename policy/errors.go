package policy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Configuration errors wrap ErrRefused inside a *ConfigError.
var (
	// ErrRefused: the policy is not lawful as configured (e.g. systematic
	// recording without a statute). Check errors with errors.Is.
	ErrRefused = errors.New("policy refused")
	// ErrUnknownPurpose: a purpose outside the closed list (R6).
	ErrUnknownPurpose = errors.New("unknown purpose")
	// ErrRecordingRefused: in the FR insurance-canvassing profile the
	// prospect refused to be recorded; the host must end the call (R18).
	ErrRecordingRefused = errors.New("recording refused: the conversation cannot continue")
	// ErrNotAllowed: an event is not allowed in the call's state (e.g. an
	// agent start on a call the policy excluded).
	ErrNotAllowed = errors.New("not allowed")
)

// ConfigError is a refused or invalid policy: it names the field (a JSON
// path such as "mode.rate") and the rule (e.g. "R1") it breaks.
type ConfigError struct {
	Field string // JSON path of the offending field
	Rule  string // regulation reference, e.g. "R1"; empty for plain syntax errors
	Msg   string
	Err   error // ErrRefused, ErrUnknownPurpose, or a decoding error
}

func (e *ConfigError) Error() string {
	s := e.Field + ": " + e.Msg
	if e.Rule != "" {
		s += " (" + e.Rule + ")"
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }

func refuse(field, rule, format string, a ...any) *ConfigError {
	return &ConfigError{Field: field, Rule: rule, Msg: fmt.Sprintf(format, a...), Err: ErrRefused}
}
