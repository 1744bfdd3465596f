package audittest_test

import (
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"golang.org/x/mod/sumdb/note"
)

func TestMemLog(t *testing.T) {
	audittest.TestLog(t, func(t *testing.T) audit.Log { return audittest.NewLog("test.example/mem", nil) })
}

func TestMemWitness(t *testing.T) {
	audittest.TestWitness(t, func(t *testing.T, logKey note.Verifier) (audit.Witness, note.Verifier) {
		w := audittest.NewWitness("witness.example", logKey)
		return w, w.Verifier()
	})
}
