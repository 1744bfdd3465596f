package siprec_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

func sippOrSkip(t *testing.T) string {
	p, err := exec.LookPath("sipp")
	if err != nil {
		if ciStrict() {
			t.Fatal("sipp not installed, and CONSENTREC_CI is set (apt-get install sip-tester)")
		}
		t.Skip("sipp not installed (Debian sip-tester): the SIPp-driven tests are skipped")
	}
	return p
}

func ciStrict() bool { return strings.TrimSpace(getenv("CONSENTREC_CI")) != "" }

// runSipp runs one SIPp scenario against addr and returns its output.
func runSipp(t *testing.T, sipp, scenario string, addr *net.UDPAddr, extra ...string) *exec.Cmd {
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)),
		"-mp", strconv.Itoa(freeUDPPort(t)), "-nostdin", "-timeout", "60s", "-timeout_error", addr.String()}, extra...)
	cmd := exec.Command(sipp, args...)
	cmd.Dir = t.TempDir() // SIPp writes its error logs in its working directory
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sipp %s:\n%s", scenario, out.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// SIPp, as the SBC, records a two-stream call: each stream on its own
// channel, a pause from a re-INVITE in the gap index, the trail complete.
func TestSIPpTwoStreamsWithPause(t *testing.T) {
	sipp := sippOrSkip(t)
	ts := newTestServer(t, &policy.Policy{Name: "trading", Profile: policy.ProfileMiFID,
		Rules: []policy.Rule{{Purpose: policy.LegalObligation, Mode: policy.ModeStatute, Statute: "MiFID II Art. 16(7)", Retention: policy.Years(5)}}}, true)
	cmd := runSipp(t, sipp, "sipp-call-pause.xml", ts.addr)
	// SIPp's rtp_stream feeds only the first audio line: the test feeds
	// both, to the ports the server answered with.
	waitFor(t, "the session", func() bool { return len(ts.srv.CallIDs()) == 1 })
	ps := ts.srv.Ports(ts.srv.CallIDs()[0])
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stream(t, ps[0], "PCMU", 0xC0, stop, &wg)
	stream(t, ps[1], "opus-as-pcmu", 0xA6, stop, &wg)
	if err := cmd.Wait(); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("sipp: %v", err)
	}
	close(stop)
	wg.Wait()
	waitFor(t, "catalogue", func() bool { return len(ts.log.OfKind(audit.KindRecordingCatalogued)) == 1 })
	recs := ts.log.OfKind(audit.KindRecordingCatalogued)
	id := recs[0].RecordingID
	m, err := ts.store.Stat(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	info, err := recorder.Inspect(bytes.NewReader(ts.store.Bytes(id)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Channels != 2 || info.Tag("LEFT") != "customer" || info.Tag("RIGHT") != "agent" {
		t.Fatalf("file: %d channels, %s / %s", info.Channels, info.Tag("LEFT"), info.Tag("RIGHT"))
	}
	var pause bool
	for _, g := range m.Gaps {
		pause = pause || (g.Reason == recorder.GapPause && g.Actor == "src")
	}
	if !pause {
		t.Fatalf("no pause by the SRC in the gap index: %+v", m.Gaps)
	}
	for _, l := range m.Legs {
		if l.Packets < 100 {
			t.Fatalf("leg %s: %d packets", l.Role, l.Packets)
		}
	}
	if m.Purpose != policy.LegalObligation || m.LawfulBasis == "" || m.KeepUntil.IsZero() {
		t.Fatalf("meta %+v", m)
	}
	// Catalogued with the statute's minimum: not destroyed before it (R11).
	r, err := ts.cat.Get(context.Background(), id)
	if err != nil || !r.KeepUntil.Equal(m.KeepUntil) || r.Deadline.Before(r.KeepUntil) {
		t.Fatalf("catalogued %+v %v, want KeepUntil %v", r, err, m.KeepUntil)
	}
	for _, k := range []audit.Kind{audit.KindPolicyDecision, audit.KindNoticePlayed, audit.KindRecordingStarted, audit.KindRecordingPaused,
		audit.KindRecordingResumed, audit.KindRecordingFinalized, audit.KindRecordingCatalogued} {
		if len(ts.log.OfKind(k)) == 0 {
			t.Errorf("trail lacks %v", k)
		}
	}
}

// SIPp sends a malformed body: 400, and the server still serves.
func TestSIPpMalformedBody(t *testing.T) {
	sipp := sippOrSkip(t)
	ts := newTestServer(t, nil)
	cmd := runSipp(t, sipp, "sipp-malformed.xml", ts.addr)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sipp (expects 400): %v", err)
	}
	if ts.srv.Sessions() != 0 {
		t.Fatal("a refused INVITE left a session")
	}
}
