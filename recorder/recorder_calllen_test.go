package recorder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// A call id the retention catalog would refuse is refused before anything
// is captured: such a recording could never expire.
func TestNewRefusesOverlongCallID(t *testing.T) {
	cfg := recorder.Config{CallID: strings.Repeat("x", recorder.MaxCallIDLen+1), Purpose: policy.Quality,
		Store: &recordertest.MemStore{}, Audit: audit.Discard}
	if _, err := recorder.New(cfg); !errors.Is(err, recorder.ErrConfig) {
		t.Fatalf("New with a %d-byte call id: %v, want ErrConfig", len(cfg.CallID), err)
	}
	cfg.CallID = strings.Repeat("x", recorder.MaxCallIDLen)
	if _, err := recorder.New(cfg); err != nil {
		t.Fatalf("New with a %d-byte call id: %v", len(cfg.CallID), err)
	}
}
