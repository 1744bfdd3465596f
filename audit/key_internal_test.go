package audit

import (
	"path/filepath"
	"sync"
	"testing"
)

// Two processes opening a fresh data directory at once (the host and the
// CLI) both create the signing key: the loser used to fail with "file
// exists", or read the winner's key between its creation and its write
// ("not a PEM PRIVATE KEY"). A crash at that instant left an empty key file
// that no later open could parse. Every caller must get the one key.
func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	for round := range 50 {
		path := filepath.Join(t.TempDir(), "keys", SigningKeyFile)
		const n = 8
		var wg sync.WaitGroup
		keys := make([][]byte, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				k, err := loadOrCreateKey(path, true)
				keys[i], errs[i] = k, err
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d caller %d: %v", round, i, errs[i])
			}
			if string(keys[i]) != string(keys[0]) {
				t.Fatalf("round %d: callers got different keys", round)
			}
		}
		again, err := loadOrCreateKey(path, false)
		if err != nil || string(again) != string(keys[0]) {
			t.Fatalf("round %d: reread: %v", round, err)
		}
	}
}
