package report_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/policy"
)

var (
	bigOnce sync.Once
	bigLog  *audittest.MemLog
)

// bigHistory is a month of a 50-agent call centre in 1,000,000 entries:
// per call a decision and, for the sampled 10 %, a notice, a recording
// (started, stopped, finalized) and a listen by the quality team; one
// sampled call in 20 objects and is purged, one in 10 has a card-data
// pause. Built once, in memory (audittest.MemLog: real encoding, salts,
// chain and tree).
func bigHistory(b *testing.B) *audittest.MemLog {
	bigOnce.Do(func() {
		ctx := context.Background()
		l := audittest.NewLog("bench.example/audit", nil)
		const total = 1_000_000
		t0 := time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
		app := func(e audit.Event) bool {
			if l.Size() >= total {
				return false
			}
			if _, err := l.Append(ctx, e); err != nil {
				panic(err)
			}
			return true
		}
		for i := 0; l.Size() < total; i++ {
			call := "call-" + strconv.Itoa(i)
			at := t0.Add(time.Duration(i) * 3 * time.Second)
			sampled := i%10 == 7
			d := policy.Decision{Record: sampled, Mode: policy.ModeSampling, Reason: policy.ReasonNotSampled,
				PolicyVersion: "pv1:00112233445566778899aabbccddeeff", OnObjection: policy.ObjectionStopAndPurge,
				Profile: policy.ProfileFR, Requires: policy.NeedNotice, Draw: uint64(i) * 2654435761}
			if sampled {
				d.Purpose, d.Reason, d.Deadline = policy.Quality, policy.ReasonSampled, at.AddDate(0, 0, 30)
			}
			e := d.AuditEvent(call, at)
			e.Attrs = append(e.Attrs, audit.Attr{Key: "agent", Value: "agent-" + strconv.Itoa(i%50)},
				audit.Attr{Key: "rule", Value: "0"}, audit.Attr{Key: "rate", Value: "0.1"})
			if !app(e) || !sampled {
				continue
			}
			rec := "rec-" + call
			ev := func(k audit.Kind, dt time.Duration, actor, reason string) audit.Event {
				return audit.Event{Kind: k, Time: at.Add(dt), CallID: call, RecordingID: rec, Actor: actor, Reason: reason,
					Purpose: "quality", PolicyVersion: d.PolicyVersion}
			}
			app(audit.Event{Kind: audit.KindNoticePlayed, Time: at.Add(8 * time.Second), CallID: call, Actor: "system",
				Attrs: []audit.Attr{{Key: "prompt", Value: "fr"}, {Key: "completed", Value: "true"}}})
			app(ev(audit.KindRecordingStarted, 9*time.Second, "policy", ""))
			if i%200 == 7 {
				app(audit.Event{Kind: audit.KindObjection, Time: at.Add(20 * time.Second), CallID: call, Actor: "system",
					Attrs: []audit.Attr{{Key: "method", Value: "dtmf-rfc4733"}}})
				app(ev(audit.KindRecordingPurged, 21*time.Second, "system", "objection"))
				continue
			}
			if i%100 == 17 {
				app(ev(audit.KindRecordingPaused, 30*time.Second, "agent", "card data"))
				app(ev(audit.KindRecordingResumed, 70*time.Second, "agent", ""))
			}
			app(ev(audit.KindRecordingStopped, 3*time.Minute, "policy", ""))
			app(ev(audit.KindRecordingFinalized, 3*time.Minute, "policy", ""))
			a := ev(audit.KindAccess, 24*time.Hour, "q-"+strconv.Itoa(i%7), "weekly review")
			a.Role = "quality"
			a.Attrs = []audit.Attr{{Key: "action", Value: "listen"}}
			app(a)
		}
		bigLog = l
	})
	return bigLog
}

// BenchmarkReport1M builds the report of a 1,000,000-entry log: verifying
// the signed checkpoint, the chain and the tree, decoding and checking every
// entry against its leaf, and computing every section. Target: under 10 s.
func BenchmarkReport1M(b *testing.B) {
	l := bigHistory(b)
	ctx := context.Background()
	opts := report.Options{Now: time.Date(2026, time.December, 15, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		rep, err := report.Build(ctx, report.Source{Log: l}, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Integrity.Entries != 1_000_000 || len(rep.Violations) != 0 || rep.Sampling.Decided == 0 {
			b.Fatalf("entries %d, violations %d", rep.Integrity.Entries, len(rep.Violations))
		}
	}
	// On this shared machine the wall clock depends on the load: report
	// the CPU seconds (user+system, GC included) beside it.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(l.Size()), "entries")
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	bigDirOnce sync.Once
	bigDir     string
	bigDirErr  error
)

// noSyncFS is the file layer of a benchmark fixture: writes as usual,
// syncs skipped (building a million-entry log one fsync per append would
// take hours; the log read back is the same).
type noSyncFS struct{ audit.FS }

func (f noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (audit.File, error) {
	fl, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{fl}, nil
}

func (noSyncFS) SyncDir() error { return nil }

type noSyncFile struct{ audit.File }

func (noSyncFile) Sync() error { return nil }

// bigDataDir writes bigHistory's entries, in order, into the file log of a
// data directory (removed by TestMain).
func bigDataDir(b *testing.B) string {
	l := bigHistory(b)
	bigDirOnce.Do(func() {
		ctx := context.Background()
		root, err := os.MkdirTemp("", "consentrec-report-bench-")
		if err != nil {
			bigDirErr = err
			return
		}
		bigDir = root
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		fl, err := audit.Open(ctx, noSyncFS{audit.DirFS(filepath.Join(root, "audit"))},
			audit.Options{Signer: priv, Origin: "bench.example/audit", CheckpointInterval: -1})
		if err != nil {
			bigDirErr = err
			return
		}
		for _, e := range l.Appended {
			if _, err := fl.Append(ctx, e); err != nil {
				bigDirErr = err
				return
			}
		}
		bigDirErr = fl.Close()
	})
	if bigDirErr != nil {
		b.Fatal(bigDirErr)
	}
	return bigDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// BenchmarkReport1MDir is the command line's path over the same 1,000,000
// entries on disk: audit.Verify reads and checks the whole file (framing,
// checksums, chain, commitments, tree, signed checkpoint), then
// audit.ReadFS reads it again for the report.
func BenchmarkReport1MDir(b *testing.B) {
	dir := bigDataDir(b)
	ctx := context.Background()
	opts := report.Options{Now: time.Date(2026, time.December, 15, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		rep, err := report.Build(ctx, report.DirSource(dir, nil), opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Integrity.Entries != 1_000_000 || len(rep.Violations) != 0 {
			b.Fatalf("entries %d, violations %d", rep.Integrity.Entries, len(rep.Violations))
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
