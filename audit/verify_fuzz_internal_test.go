package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"testing"
	"time"
)

// fuzzLog returns the log file of a small log with a prune and a shred,
// and its verifier's origin.
func fuzzLog(f *testing.F) []byte {
	ctx := context.Background()
	dir := f.TempDir()
	l, err := Open(ctx, DirFS(dir), Options{Signer: ed25519.NewKeyFromSeed(make([]byte, 32)), Origin: "fuzz.example/log"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 6 {
		e := Event{Kind: KindAccess, Time: time.Unix(int64(1000+i), 0), CallID: "c", Actor: "a", Reason: "r", Subject: "sk1:" + string(rune('a'+i%2))}
		if i%3 == 0 {
			e.Kind = KindConsentGiven
		}
		if _, err := l.Append(ctx, e); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := l.Prune(ctx, time.Unix(1003, 0), AccessKinds...); err != nil {
		f.Fatal(err)
	}
	if _, err := l.Shred(ctx, "sk1:a"); err != nil {
		f.Fatal(err)
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := readFile(DirFS(dir), logFile)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzScanLog: the verifier's scan of a whole log file (framing, torn
// tail, order, chain, commitments, prune and shred coverage) never panics
// nor hangs on any input, and reports every problem as a *VerifyError
// naming an entry it read.
func FuzzScanLog(f *testing.F) {
	good := fuzzLog(f)
	f.Add(good)
	f.Add(good[:len(good)-9])
	f.Add(append(bytes.Clone(good), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		sizes := make([]uint64, 21)
		for i := range sizes {
			sizes[i] = uint64(i)
		}
		st, err := scan(context.Background(), io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b))), "fuzz.example/log", &frontierStore{}, nil, sizes...)
		if err != nil {
			t.Fatalf("scan of bytes failed with %v (only ctx errors are returned)", err)
		}
		// Signed as far as it goes (up to 20): the coverage rules apply.
		size := min(st.n, 20)
		_, err = st.check(Checkpoint{Size: size, Root: st.rootAt[size]}, int64(len(b)))
		if len(b) == len(good) && bytes.Equal(b, good) && err != nil {
			t.Fatalf("the good log fails: %v", err)
		}
		if ve, ok := err.(*VerifyError); ok && ve.Index > st.n {
			t.Fatalf("problem at entry %d beyond the %d read", ve.Index, st.n)
		}
	})
}

// FuzzParseRanges: the shred event's entry list parser never panics, and
// what it accepts is ascending within each range.
func FuzzParseRanges(f *testing.F) {
	for _, e := range ShredEvents("a", []uint64{1, 2, 3, 7, 9, 10}) {
		f.Add(e.Attrs[1].Value)
	}
	f.Add("0-18446744073709551615")
	f.Fuzz(func(t *testing.T, s string) {
		rs, ok := parseRanges(s)
		if !ok {
			return
		}
		for _, r := range rs {
			if r[0] > r[1] {
				t.Fatalf("range %v of %q descends", r, s)
			}
		}
	})
}
