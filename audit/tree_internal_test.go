package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestFrontierMatchesTlog: the verifier's O(log n) store computes the same
// stored hashes and roots as tlog over a full store, at every size.
func TestFrontierMatchesTlog(t *testing.T) {
	full, fr, fast := &fullStore{}, &frontierStore{}, &fullStore{}
	for n := range int64(1100) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		h := tlog.Hash(sha256.Sum256(b[:]))
		hs, err := tlog.StoredHashesForRecordHash(n, h, full)
		if err != nil {
			t.Fatal(err)
		}
		full.add(hs)
		fr.addRecord(n, h)
		fast.addRecord(n, h)
		if len(fast.h) != len(full.h) || fast.h[len(fast.h)-1] != full.h[len(full.h)-1] {
			t.Fatalf("n=%d: fullStore.addRecord differs from tlog", n)
		}
		if fr.next != int64(len(full.h)) {
			t.Fatalf("n=%d: frontier stored %d hashes, tlog %d", n, fr.next, len(full.h))
		}
		want, _ := tlog.TreeHash(n+1, full)
		got, err := tlog.TreeHash(n+1, fr)
		if err != nil || got != want {
			t.Fatalf("size %d: frontier root %v (%v), tlog %v", n+1, got, err, want)
		}
	}
}
