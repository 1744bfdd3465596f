package audittest_test

import (
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

func TestMemLog(t *testing.T) {
	audittest.TestLog(t, func(t *testing.T) audit.Log { return audittest.NewLog("test.example/mem", nil) })
}
