//go:build unix

package agestore_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pion/rtp"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

// BenchmarkRecorderPerPacket is the recorder's cost per RTP packet
// (dual-channel call, speech and tone legs, simulated clock), writing to a
// discarding store or to the file store: plain (enc=none), encrypted to one
// X25519 recipient (age, the default), with the journal (age+journal), with
// per-recording keys (age+keys). One op is one
// packet. Compare with benchstat: the encryption overhead is the
// difference.
func BenchmarkRecorderPerPacket(b *testing.B) {
	speech, tone := fixture(b, "speech.opus"), fixture(b, "tone.opus")
	op, _ := age.GenerateX25519Identity()
	for _, inner := range []string{"discard", "file"} {
		for _, enc := range []string{"none", "age", "age+journal", "age+keys"} {
			b.Run("inner="+inner+"/enc="+enc, func(b *testing.B) {
				benchPerPacket(b, inner, enc, op, speech, tone)
			})
		}
	}
}

func benchPerPacket(b *testing.B, inner, enc string, op *age.X25519Identity, speech, tone [][]byte) {
	var st recorder.Store = &recordertest.DiscardStore{}
	if inner == "file" {
		fs, err := recorder.NewFileStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		st = fs
	}
	switch enc {
	case "age":
		st, _ = agestore.New(st, agestore.Config{Recipients: []age.Recipient{op.Recipient()}})
	case "age+journal":
		st, _ = agestore.New(st, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Journal: true})
	case "age+keys":
		st, _ = agestore.New(st, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Keys: &agestoretest.MemKeyStore{}})
	}
	clk := &simClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec, err := recorder.New(recorder.Config{CallID: "b", Purpose: policy.Quality, Store: st, Audit: audit.Discard,
		Now: clk.now, MaxPause: recorder.MaxMaxPause})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	a, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Agent, OpusPT: 111})
	legs := []*recorder.Leg{c, a}
	if _, err := rec.Start(context.Background(), policytest.GrantFor(b, rec), "bench"); err != nil {
		b.Fatal(err)
	}
	pkts := [2]rtp.Packet{}
	for j := range pkts {
		pkts[j] = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: uint32(j + 1)}}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		slot, j := i/2, i%2
		if j == 0 {
			clk.t = clk.t.Add(20 * time.Millisecond)
		}
		p := &pkts[j]
		p.Timestamp, p.SequenceNumber = uint32(slot*960), uint16(slot)
		src := [2][][]byte{speech, tone}[j]
		p.Payload = src[slot%len(src)]
		if err := legs[j].WriteRTP(p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The machine is shared: CPU time per packet is the cost.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	rec.Stop(context.Background(), "bench")
}

// BenchmarkCreate is the one-time cost of starting an encrypted recording
// (age headers: one X25519 wrap for the file and one for the journal key;
// with per-recording keys, a key pair and one more wrap).
func BenchmarkCreate(b *testing.B) {
	op, _ := age.GenerateX25519Identity()
	for _, keys := range []bool{false, true} {
		b.Run(map[bool]string{false: "recipients", true: "per-recording-keys"}[keys], func(b *testing.B) {
			cfg := agestore.Config{Recipients: []age.Recipient{op.Recipient()}}
			if keys {
				cfg.Keys = &agestoretest.MemKeyStore{}
			}
			st, _ := agestore.New(&recordertest.DiscardStore{}, cfg)
			m := meta("r")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.Create(context.Background(), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
