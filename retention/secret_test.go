package retention_test

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/retention"
)

// Two processes creating the subject secret at once (the host and the CLI
// on a fresh data directory): the loser used to read the winner's file
// between its creation and its write, and failed ("shorter than 16 bytes").
// Every caller must get the one secret.
func TestSubjectSecretConcurrentCreate(t *testing.T) {
	for round := range 50 {
		dir := filepath.Join(t.TempDir(), "keys")
		const n = 8
		var wg sync.WaitGroup
		got := make([][]byte, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { got[i], errs[i] = retention.SubjectSecret(dir, true) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d caller %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("round %d: callers got different secrets", round)
			}
		}
		again, err := retention.SubjectSecret(dir, false)
		if err != nil || !bytes.Equal(again, got[0]) {
			t.Fatalf("round %d: reread %x, %v; want %x", round, again, err, got[0])
		}
	}
}
