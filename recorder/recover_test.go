package recorder_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
)

func TestRecoverDamagedTails(t *testing.T) {
	// Build one complete partial file, then cut it at several places.
	speech := fixture(t, "speech.opus")
	full := t.TempDir()
	var id string
	synctest.Test(t, func(t *testing.T) {
		st, _ := recorder.NewFileStore(full)
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: st, Audit: audit.Discard})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, _ = rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 150 {
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second + recorder.DefaultMaxBurst) // a silent second (after MaxBurst, the wait for a stalled leg): its page reaches the file too
	})
	part := filepath.Join(full, id+".opus.partial")
	meta, err := os.ReadFile(filepath.Join(full, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cut  int
		min  time.Duration
	}{
		{"empty", 0, 0},
		{"headers-only", 0, 0}, // set below
		{"torn-last-page", len(data) - 10, 1900 * time.Millisecond},
		{"whole", len(data), 2900 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cut := tc.cut
			if tc.name == "headers-only" {
				cut = headersEnd(t, data)
			}
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, id+".json"), meta, 0o600)
			os.WriteFile(filepath.Join(d, id+".opus.partial"), data[:cut], 0o600)
			st, _ := recorder.NewFileStore(d)
			ms, err := recorder.Recover(context.Background(), st, audit.Discard)
			if err != nil || len(ms) != 1 {
				t.Fatalf("Recover: %+v, %v", ms, err)
			}
			m := ms[0]
			if m.Duration < tc.min || !m.Recovered {
				t.Errorf("recovered %+v", m)
			}
			// The agent never spoke: one filler run over the whole file.
			if g := hasGap(m.Gaps, recorder.Agent, recorder.GapRecovered); tc.cut > 0 && (g == nil || g.Start != 0 || g.End < m.Duration) {
				t.Errorf("agent filler run %+v in %+v", g, m.Gaps)
			}
			path := filepath.Join(d, id+".opus")
			info := opusinfo(t, path)
			if d := opusinfoLength(t, info) - m.Duration; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("opusinfo %v, meta %v", opusinfoLength(t, info), m.Duration)
			}
			ffmpegDecode(t, path)
			if _, err := os.Stat(filepath.Join(d, id+".opus.partial")); !os.IsNotExist(err) {
				t.Errorf("partial file left: %v", err)
			}
		})
	}
}

// headersEnd returns the offset after the OpusHead and OpusTags pages.
func headersEnd(t *testing.T, b []byte) int {
	off := 0
	for range 2 {
		nseg := int(b[off+26])
		body := 0
		for _, l := range b[off+27 : off+27+nseg] {
			body += int(l)
		}
		off += 27 + nseg + body
	}
	return off
}

// A crash during a pause: the pause, its reason and actor survive in the
// recovered gap index (checkpointed when the pause began).
func TestRecoverKeepsCheckpointedPause(t *testing.T) {
	dir := t.TempDir()
	speech := fixture(t, "speech.opus")
	var id string
	synctest.Test(t, func(t *testing.T) {
		st, _ := recorder.NewFileStore(dir)
		rec, _ := recorder.New(recorder.Config{CallID: "c", Purpose: policy.Quality, Store: st, Audit: audit.Discard})
		c, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, _ = rec.Start(context.Background(), policytest.GrantFor(t, rec), "a")
		for i := range 200 {
			if i == 50 {
				rec.Pause(context.Background(), "card-data", "agent-3")
			}
			if i == 80 {
				rec.Resume(context.Background(), "agent-3")
			}
			if i == 120 {
				rec.Pause(context.Background(), "card-data-2", "agent-4")
			}
			c.WriteRTP(pkt(1, uint16(i), uint32(i*960), speech[i]))
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond) // crash while paused, pages on disk
	})
	st, _ := recorder.NewFileStore(dir)
	ms, err := recorder.Recover(context.Background(), st, audit.Discard)
	if err != nil || len(ms) != 1 {
		t.Fatalf("Recover: %v", err)
	}
	m := ms[0]
	t.Logf("recovered %v, gaps %+v", m.Duration, m.Gaps)
	var pauses []recorder.Gap
	for _, g := range m.Gaps {
		if g.Reason == recorder.GapPause {
			pauses = append(pauses, g)
		}
	}
	if len(pauses) != 2 || pauses[0].Actor != "agent-3" || pauses[0].Note != "card-data" ||
		pauses[0].Start != time.Second || pauses[0].End != 1600*time.Millisecond ||
		pauses[1].Actor != "agent-4" || pauses[1].Start != 2400*time.Millisecond || pauses[1].End < m.Duration {
		t.Errorf("pauses %+v", pauses)
	}
	for _, g := range m.Gaps {
		if g.Reason == recorder.GapRecovered && g.Leg == recorder.Customer && g.Start >= pauses[1].Start {
			t.Errorf("filler inside the open pause kept: %+v", g)
		}
	}
	checkFile(t, readFile(t, filepath.Join(dir, id+".opus")), m.Duration, 2)
}

func readFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
