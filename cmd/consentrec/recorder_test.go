package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// recordCall records a 3 s dual-channel call (customer speech, a 1 s pause)
// into the data directory and returns the file's metadata.
func recordCall(t *testing.T, data string, stop bool) recorder.Meta {
	f, err := os.Open("../../testdata/speech.opus")
	if err != nil {
		t.Fatal(err)
	}
	pkts, _, err := recorder.Packets(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var m recorder.Meta
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := recorder.NewFileStore(consentrec.DataDir{Root: data}.Recordings())
		if err != nil {
			t.Fatal(err)
		}
		rec, err := recorder.New(recorder.Config{CallID: "cli-call", Purpose: policy.Training, PolicyVersion: "pv", Store: st, Audit: audit.Discard})
		if err != nil {
			t.Fatal(err)
		}
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		id, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-9")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			if i == 50 {
				rec.Pause(ctx, "card-data", "agent-9")
			}
			if i == 100 {
				rec.Resume(ctx, "agent-9")
			}
			leg.WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(960 * i), SSRC: 7}, Payload: pkts[i]})
			time.Sleep(20 * time.Millisecond)
		}
		if !stop {
			m, _ = st.Stat(ctx, id)
			return
		}
		ms, err := rec.Stop(ctx, "agent-9")
		if err != nil {
			t.Fatal(err)
		}
		m = ms[0]
	})
	return m
}

func TestInspectExport(t *testing.T) {
	data := t.TempDir()
	m := recordCall(t, data, true)
	file := filepath.Join(consentrec.DataDir{Root: data}.Recordings(), m.ID+".opus")

	code, out, errOut := runCLI(t, "inspect", file)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	t.Logf("inspect:\n%s", out)
	for _, want := range []string{"channels:  2 (dual layout; customer | agent", "duration:  2.994s", "sha256:    " + m.SHA256,
		"integrity: ok", "LEFT=customer", "CONSENTREC_PURPOSE=training", "all      pause       by agent-9 (card-data)", "agent    not-started"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
	code, out, _ = runCLI(t, "inspect", "--json", file)
	var rep inspectReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Channels != 2 || rep.SHA256 != m.SHA256 || rep.GapSource != "metadata" {
		t.Fatalf("inspect --json: %d %+v", code, rep)
	}

	wav := filepath.Join(t.TempDir(), "out.wav")
	code, _, errOut = runCLI(t, "export", file, "--wav", wav, "--unaudited") // not catalogued
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if ents, _ := os.ReadDir(filepath.Dir(wav)); len(ents) != 1 {
		t.Errorf("a temporary file was left beside OUT: %v", ents)
	}
	b, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "RIFF" || binary.LittleEndian.Uint16(b[22:]) != 2 || binary.LittleEndian.Uint32(b[24:]) != 48000 {
		t.Fatalf("WAV header % x", b[:44])
	}
	frames := int(binary.LittleEndian.Uint32(b[40:])) / 4
	if frames != 3*48000-312 || len(b) != 44+frames*4 {
		t.Errorf("WAV: %d frames (%d bytes), want %d", frames, len(b), 3*48000-312)
	}
	// Left channel: speech before the pause, digital silence in it.
	energy := func(from, to int) (e float64) {
		for i := from; i < to; i++ {
			v := float64(int16(binary.LittleEndian.Uint16(b[44+4*i:])))
			e += v * v
		}
		return e
	}
	if energy(10000, 40000) == 0 || energy(50000, 95000) != 0 {
		t.Errorf("left channel energy: before pause %g, in pause %g", energy(10000, 40000), energy(50000, 95000))
	}

	// A damaged file: inspect refuses it.
	raw, _ := os.ReadFile(file)
	raw[len(raw)/2] ^= 1
	bad := filepath.Join(t.TempDir(), "bad.opus")
	os.WriteFile(bad, raw, 0o600)
	if code, _, errOut := runCLI(t, "inspect", bad); code != 1 || !strings.Contains(errOut, "CRC") {
		t.Errorf("damaged file: exit %d, %s", code, errOut)
	}
	// Usage errors.
	for _, args := range [][]string{{"inspect"}, {"inspect", "/nonexistent.opus"}, {"export", file}, {"recover", "extra"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestRecoverCommand(t *testing.T) {
	data := t.TempDir()
	m := recordCall(t, data, false) // abandoned mid-call, as after a crash
	if m.State != recorder.StateRecording {
		t.Fatalf("state %s", m.State)
	}
	code, out, errOut := runCLI(t, "recover", "--data", data)
	if code != 0 || !strings.Contains(out, "recovered "+m.ID) {
		t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
	}
	file := filepath.Join(consentrec.DataDir{Root: data}.Recordings(), m.ID+".opus")
	code, out, errOut = runCLI(t, "inspect", file)
	if code != 0 || !strings.Contains(out, "recovered: yes") || !strings.Contains(out, "integrity: ok") {
		t.Fatalf("inspect recovered: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "recover", "--data", data); code != 0 || !strings.Contains(out, "nothing to recover") {
		t.Errorf("second recover: %d %s", code, out)
	}
	// The recovery is in the audit log.
	if _, err := os.Stat(filepath.Join(data, "audit")); err != nil {
		t.Errorf("no audit log: %v", err)
	}
}
