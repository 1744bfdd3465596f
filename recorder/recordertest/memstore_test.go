package recordertest_test

import (
	"testing"

	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func TestMemStore(t *testing.T) {
	recordertest.TestStore(t, func(t *testing.T) (recorder.Store, func(string)) {
		s := &recordertest.MemStore{}
		return s, s.Corrupt
	})
}
