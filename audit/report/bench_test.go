package report_test

import (
	"context"
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
