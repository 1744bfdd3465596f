package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// benchLog writes (once per process) a signed log of n entries, with
// realistic events, directly through the record encoder (building it
// through Append would take most of the benchmark's time).
var benchLogs sync.Map // n -> *benchLogResult

type benchLogResult struct {
	once sync.Once
	dir  string
	key  note.Verifier
	err  error
}

func benchLog(b *testing.B, n int) (string, note.Verifier) {
	v, _ := benchLogs.LoadOrStore(n, &benchLogResult{})
	r := v.(*benchLogResult)
	r.once.Do(func() { r.dir, r.key, r.err = writeBenchLog(n) })
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r.dir, r.key
}

func writeBenchLog(n int) (string, note.Verifier, error) {
	dir, err := os.MkdirTemp("", "audit-bench-")
	if err != nil {
		return "", nil, err
	}
	const origin = "bench.example/audit"
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	signer, _ := NoteSigner(origin, priv)
	vkey, _ := VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	key, _ := note.NewVerifier(vkey)
	f, err := os.Create(filepath.Join(dir, logFile))
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	store := &fullStore{}
	prev := Genesis(origin)
	buf := fileHeader(origin)
	var seed uint64
	rnd := func(p []byte) error {
		for i := range p {
			seed = seed*6364136223846793005 + 1442695040888963407
			p[i] = byte(seed >> 56)
		}
		return nil
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		e := Event{Kind: KindAccess, Time: t0.Add(time.Duration(i) * time.Millisecond),
			CallID: fmt.Sprintf("call-%08d", i), RecordingID: fmt.Sprintf("rec-%08d", i),
			Actor: "agent-0042", Role: "quality", Reason: "monthly quality review",
			Subject: fmt.Sprintf("sk1:%064x", i%1000), Purpose: "quality", PolicyVersion: "pv1:0123456789abcdef",
			Attrs: []Attr{{Key: "action", Value: "listen"}}}
		o, err := Seal(&e, rnd)
		if err != nil {
			return "", nil, err
		}
		leaf := Leaf{Index: uint64(i), Prev: prev, Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}
		raw, _ := leaf.MarshalBinary()
		buf = appendRecord(buf, raw, o, i%64 == 0)
		h := tlog.RecordHash(raw)
		hs, err := tlog.StoredHashesForRecordHash(int64(i), h, store)
		if err != nil {
			return "", nil, err
		}
		store.add(hs)
		prev = h
		if len(buf) > 1<<20 {
			if _, err := f.Write(buf); err != nil {
				return "", nil, err
			}
			buf = buf[:0]
		}
	}
	if _, err := f.Write(buf); err != nil {
		return "", nil, err
	}
	root, err := tlog.TreeHash(int64(n), store)
	if err != nil {
		return "", nil, err
	}
	cp, err := SignCheckpoint(Checkpoint{Origin: origin, Size: uint64(n), Root: root}, signer)
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, checkpointFile), cp, 0o644); err != nil {
		return "", nil, err
	}
	return dir, key, os.WriteFile(filepath.Join(dir, pubKeyFile), []byte(vkey+"\n"), 0o644)
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchLogs.Range(func(_, v any) bool {
		if r := v.(*benchLogResult); r.dir != "" {
			os.RemoveAll(r.dir)
		}
		return true
	})
	os.Exit(code)
}

// BenchmarkVerify measures a full verification (VerifyFS: every record's
// checksum, order, chain, commitment and subject commitment, the tree root
// against the signed checkpoint) of a log of 1,000,000 entries.
func BenchmarkVerify(b *testing.B) {
	const n = 1_000_000
	dir, key := benchLog(b, n)
	st, _ := os.Stat(filepath.Join(dir, logFile))
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		rep, err := VerifyFS(context.Background(), DirFS(dir), key)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Entries != n {
			b.Fatalf("%d entries", rep.Entries)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "entries/cpu-s")
}

// BenchmarkOpen measures opening (and fully checking) a log of 1,000,000
// entries with Open, which also keeps every tree hash for proofs.
func BenchmarkOpen(b *testing.B) {
	const n = 1_000_000
	dir, _ := benchLog(b, n)
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		l, err := Open(context.Background(), DirFS(dir), Options{Signer: priv})
		if err != nil {
			b.Fatal(err)
		}
		if l.Size() != n {
			b.Fatalf("%d entries", l.Size())
		}
		l.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "entries/cpu-s")
}
