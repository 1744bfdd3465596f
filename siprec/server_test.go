package siprec_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/siprec"
	"github.com/pion/rtp"
)

// testServer serves SIPREC over UDP on 127.0.0.1:0 with a Service on the
// fakes whose policy records every in-scope call under a statute (so the
// test needs no sampling luck) or, with agentMode, waits for an agent.
type testServer struct {
	srv   *siprec.Server
	svc   *consentrec.Service
	log   *audittest.MemLog
	store *recordertest.MemStore
	cat   *retention.MemCatalog
	addr  *net.UDPAddr
}

func newTestServer(t *testing.T, p *policy.Policy, inScope ...bool) *testServer {
	t.Helper()
	ts := &testServer{log: audittest.NewLog("siprec-test", nil), store: &recordertest.MemStore{}, cat: retention.NewMemCatalog()}
	if p == nil {
		p = &policy.Policy{Name: "siprec-test", Profile: policy.ProfileFR,
			Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeSampling, Rate: 0.2}}}
	}
	var err error
	ts.svc, err = consentrec.Open(t.Context(), consentrec.DataDir{}, consentrec.Options{Policy: p,
		Key: []byte("0123456789abcdef0123456789abcdef"), Log: ts.log, Store: ts.store, Catalog: ts.cat,
		SubjectSecret: []byte("subject-secret")})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = &siprec.Server{Service: ts.svc, NoticeBySRC: true, InScope: len(inScope) > 0 && inScope[0]}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = pc.LocalAddr().(*net.UDPAddr)
	go ts.srv.ServeUDP(pc)
	t.Cleanup(func() {
		ts.srv.Close(context.Background())
		pc.Close()
		ts.svc.Close()
	})
	return ts
}

// sampledID returns a call id the test policy samples.
func sampledID(t *testing.T, svc *consentrec.Service) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("srs-%d", i)
		if policy.DrawFraction(svc.Engine().Draw(0, id)) < 0.2 {
			return id
		}
	}
}

const metadataXML = `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="%s"><sipSessionID>abc</sipSessionID></session>
  <participant participant_id="P1"><nameID aor="sip:+33123456789@pstn.example.com"><name>Caller</name></nameID></participant>
  <participant participant_id="P2"><nameID aor="sip:agent-7@cc.example.com"/></participant>
  <stream stream_id="S1" session_id="%[1]s"><label>1</label></stream>
  <stream stream_id="S2" session_id="%[1]s"><label>2</label></stream>
  <participantstreamassoc participant_id="P1"><send>S1</send><recv>S2</recv></participantstreamassoc>
  <participantstreamassoc participant_id="P2"><send>S2</send><recv>S1</recv></participantstreamassoc>
</recording>`

func offerSDP(dir string, codecs ...string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n")
	for i, c := range codecs {
		switch c {
		case "opus":
			fmt.Fprintf(&b, "m=audio %d RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n", 40000+2*i)
		case "PCMU":
			fmt.Fprintf(&b, "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n", 40000+2*i)
		default:
			fmt.Fprintf(&b, "m=audio %d RTP/AVP 97\r\na=rtpmap:97 %s\r\n", 40000+2*i, c)
		}
		fmt.Fprintf(&b, "a=rtpmap:101 telephone-event/8000\r\na=label:%d\r\na=%s\r\n", i+1, dir)
	}
	return b.String()
}

func multipartBody(sdpText, meta string) (string, []byte) {
	const boundary = "foobar"
	body := "--" + boundary + "\r\nContent-Type: application/sdp\r\n\r\n" + sdpText + "\r\n--" + boundary +
		"\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + meta + "\r\n--" + boundary + "--\r\n"
	return "multipart/mixed;boundary=" + boundary, []byte(body)
}

// sipClient speaks just enough SIP over UDP to be a SRC.
type sipClient struct {
	t      *testing.T
	conn   *net.UDPConn
	to     *net.UDPAddr
	callID string
	cseq   int
	toTag  string
}

func newClient(t *testing.T, to *net.UDPAddr, callID string) *sipClient {
	c, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipClient{t: t, conn: c, to: to, callID: callID}
}

// do sends a request and returns the final response's status and body.
func (c *sipClient) do(method, contentType string, body []byte) (int, string, string) {
	c.t.Helper()
	c.cseq++
	local := c.conn.LocalAddr().String()
	to := "<sip:srs@" + c.to.String() + ">"
	if c.toTag != "" {
		to += ";tag=" + c.toTag
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d\r\nMax-Forwards: 70\r\n", method, c.to, local, c.callID, c.cseq)
	fmt.Fprintf(&b, "From: <sip:src@%s>;tag=src1\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:src@%s>;+sip.src\r\n", local, to, c.callID, c.cseq, method, local)
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := c.conn.Read(buf)
		if err != nil {
			c.t.Fatalf("%s: no response: %v", method, err)
		}
		msg := string(buf[:n])
		head, rbody, _ := strings.Cut(msg, "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		code, _ := strconv.Atoi(strings.Fields(lines[0])[1])
		if code < 200 {
			continue
		}
		reason := ""
		for _, l := range lines[1:] {
			if v, ok := strings.CutPrefix(l, "To: "); ok && c.toTag == "" {
				if _, tag, ok := strings.Cut(v, "tag="); ok {
					c.toTag = tag
				}
			}
			if v, ok := strings.CutPrefix(l, "Reason: "); ok {
				reason = v
			}
		}
		if method == "INVITE" && code == 200 {
			c.ack()
		}
		return code, rbody, reason
	}
}

func (c *sipClient) ack() {
	local := c.conn.LocalAddr().String()
	msg := fmt.Sprintf("ACK sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ack-%d\r\nMax-Forwards: 70\r\nFrom: <sip:src@%s>;tag=src1\r\nTo: <sip:srs@%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d ACK\r\nContent-Length: 0\r\n\r\n",
		c.to, local, c.cseq, local, c.to, c.toTag, c.callID, c.cseq)
	c.conn.Write([]byte(msg))
}

// ports reads the answer's RTP ports.
func ports(t *testing.T, sdp string) []int {
	var ps []int
	sc := bufio.NewScanner(strings.NewReader(sdp))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && strings.HasPrefix(f[0], "m=audio") {
			p, _ := strconv.Atoi(f[1])
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		t.Fatalf("no audio line in the answer:\n%s", sdp)
	}
	return ps
}

// stream sends 20 ms packets to port until stop: Opus (the speech fixture)
// or PCMU (a 1 kHz tone).
func stream(t *testing.T, port int, codec string, ssrc uint32, stop <-chan struct{}, wg *sync.WaitGroup) {
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	var speech [][]byte
	if codec == "opus" {
		f, err := os.Open("../testdata/speech.opus")
		if err != nil {
			t.Fatal(err)
		}
		speech, _, err = recorder.Packets(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.Close()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		begin := time.Now()
		for i := 0; ; {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for due := int(time.Since(begin) / (20 * time.Millisecond)); i <= due; i++ {
				p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), SSRC: ssrc}}
				if codec == "opus-as-pcmu" { // a second PCMU stream: a lower tone
					pl := make([]byte, 160)
					for k := range pl {
						pl[k] = g711.EncodeULaw(int16(6000 * sinApprox(float64(i*160+k)*440/8000)))
					}
					p.PayloadType, p.Timestamp, p.Payload = 0, uint32(i*160), pl
				} else if codec == "opus" {
					p.PayloadType, p.Timestamp, p.Payload = 111, uint32(i*960), speech[i%len(speech)]
				} else {
					pl := make([]byte, 160)
					for k := range pl {
						n := i*160 + k
						pl[k] = g711.EncodeULaw(int16(8000 * sinApprox(float64(n)*1000/8000)))
					}
					p.PayloadType, p.Timestamp, p.Payload = 0, uint32(i*160), pl
				}
				b, _ := p.Marshal()
				conn.Write(b)
			}
		}
	}()
}

// sinApprox is sin(2π x) by a parabola: a tone good enough for a test.
func sinApprox(x float64) float64 {
	x -= float64(int(x))
	if x < 0.5 {
		return 16 * x * (0.5 - x)
	}
	x -= 0.5
	return -16 * x * (0.5 - x)
}

func TestRecordsTwoStreamsWithPause(t *testing.T) {
	ts := newTestServer(t, nil)
	id := sampledID(t, ts.svc)
	c := newClient(t, ts.addr, "sip-call-1@test")
	ct, body := multipartBody(offerSDP("sendonly", "opus", "PCMU"), fmt.Sprintf(metadataXML, id))
	code, sdp, reason := c.do("INVITE", ct, body)
	if code != 200 {
		t.Fatalf("INVITE: %d %s", code, reason)
	}
	if !strings.Contains(sdp, "a=recvonly") || !strings.Contains(sdp, "a=label:2") {
		t.Fatalf("answer is not receive-only with the labels:\n%s", sdp)
	}
	ps := ports(t, sdp)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stream(t, ps[0], "opus", 11, stop, &wg)
	stream(t, ps[1], "PCMU", 22, stop, &wg)
	waitFor(t, "capture", func() bool { return len(ts.log.OfKind(audit.KindRecordingStarted)) == 1 })
	// Each step waits for the recording's file to show what the step
	// needs (pages reach the store at least every recorder.FlushInterval).
	var before time.Duration
	waitFor(t, "1 s of audio in the recording's file", func() bool {
		before = ts.partial(t).Duration
		return before >= time.Second
	})
	// The SRC pauses (card data) with a re-INVITE whose media is inactive.
	if code, _, reason := c.do("INVITE", "application/sdp", []byte(offerSDP("inactive", "opus", "PCMU"))); code != 200 {
		t.Fatalf("re-INVITE inactive: %d %s", code, reason)
	}
	waitFor(t, "pause", func() bool { return len(ts.log.OfKind(audit.KindRecordingPaused)) == 1 })
	const minPause = 300 * time.Millisecond
	waitFor(t, "300 ms of the pause's silence on both channels of the file", func() bool {
		return pauseRuns(ts.partial(t), before, minPause) != nil
	})
	if code, _, reason := c.do("INVITE", "application/sdp", []byte(offerSDP("sendonly", "opus", "PCMU"))); code != 200 {
		t.Fatalf("re-INVITE sendonly: %d %s", code, reason)
	}
	waitFor(t, "1 s of audio after the pause in the file", func() bool {
		info := ts.partial(t)
		runs := pauseRuns(info, before, minPause)
		return runs != nil && info.Duration >= max(runs[0].End, runs[1].End)+time.Second
	})
	close(stop)
	wg.Wait()
	if code, _, _ := c.do("BYE", "", nil); code != 200 {
		t.Fatalf("BYE: %d", code)
	}
	waitFor(t, "catalogue", func() bool { return len(ts.log.OfKind(audit.KindRecordingCatalogued)) == 1 })
	recs, _ := ts.cat.Subject(context.Background(), ts.svc.SubjectKey("+33123456789"))
	if len(recs) != 1 {
		t.Fatalf("%d recordings of the caller", len(recs))
	}
	r := recs[0]
	var paused bool
	for _, g := range r.Gaps {
		paused = paused || (strings.HasPrefix(g.Reason, "pause") && g.Actor == "src")
	}
	if !paused {
		t.Fatalf("the SRC's pause is not in the gap index: %+v", r.Gaps)
	}
	data := ts.store.Bytes(r.ID)
	info, err := recorder.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing was written while paused: the file holds silence on both
	// channels over the whole pause, which lasted as long as the test
	// waited for.
	for _, g := range r.Gaps {
		if !strings.HasPrefix(g.Reason, "pause") {
			continue
		}
		if g.End-g.Start < minPause {
			t.Errorf("pause %+v: shorter than the %v the file showed", g, minPause)
		}
		runs := pauseRuns(info, before, minPause)
		if runs == nil {
			t.Fatalf("no silence of the pause in the file: %+v", info.Gaps)
		}
		t.Logf("pause %v to %v; silence in the file %v to %v and %v to %v", g.Start, g.End, runs[0].Start, runs[0].End, runs[1].Start, runs[1].End)
		for _, run := range runs {
			if run.Start > g.Start || run.End < g.End {
				t.Errorf("pause %v-%v: the %s channel holds silence only from %v to %v", g.Start, g.End, run.Leg, run.Start, run.End)
			}
		}
	}
	if info.Channels != 2 || info.Tag("LEFT") != "customer" || info.Tag("RIGHT") != "agent" {
		t.Fatalf("file: %d channels, left %s, right %s", info.Channels, info.Tag("LEFT"), info.Tag("RIGHT"))
	}
	m, _ := ts.store.Stat(context.Background(), r.ID)
	for _, l := range m.Legs {
		if l.Packets < 50 {
			t.Fatalf("leg %s: %d packets written", l.Role, l.Packets)
		}
	}
	if path, err := exec.LookPath("opusinfo"); err == nil {
		f := t.TempDir() + "/rec.opus"
		os.WriteFile(f, data, 0o600)
		out, err := exec.Command(path, f).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("WARNING")) {
			t.Fatalf("opusinfo: %v\n%s", err, out)
		}
	} else {
		t.Log("opusinfo not installed: the file is checked by recorder.Inspect only")
	}
	for _, k := range []audit.Kind{audit.KindPolicyDecision, audit.KindNoticePlayed, audit.KindRecordingStarted,
		audit.KindRecordingPaused, audit.KindRecordingResumed, audit.KindRecordingStopped, audit.KindRecordingFinalized, audit.KindRecordingCatalogued} {
		if len(ts.log.OfKind(k)) == 0 {
			t.Errorf("audit trail lacks %v", k)
		}
	}
}

func TestNotSelectedIsAnsweredAndDropped(t *testing.T) {
	ts := newTestServer(t, nil)
	id := ""
	for i := 0; id == ""; i++ {
		if s := fmt.Sprintf("ns-%d", i); policy.DrawFraction(ts.svc.Engine().Draw(0, s)) >= 0.2 {
			id = s
		}
	}
	c := newClient(t, ts.addr, "sip-call-2@test")
	ct, body := multipartBody(offerSDP("sendonly", "opus", "opus"), fmt.Sprintf(metadataXML, id))
	code, sdp, _ := c.do("INVITE", ct, body)
	if code != 200 {
		t.Fatalf("INVITE of a call not selected: %d", code)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	read := ts.srv.RTPDatagrams()
	stream(t, ports(t, sdp)[0], "opus", 1, stop, &wg)
	// The server has read 300 ms of the call's media (and dropped it).
	waitFor(t, "15 datagrams read", func() bool { return ts.srv.RTPDatagrams() >= read+15 })
	close(stop)
	wg.Wait()
	c.do("BYE", "", nil)
	if n := len(ts.log.OfKind(audit.KindRecordingStarted)); n != 0 {
		t.Fatalf("%d recordings started for a call the policy did not select", n)
	}
	if ms, _ := ts.store.List(context.Background()); len(ms) != 0 {
		t.Fatal("files written for a call not selected")
	}
}

func TestBadInputGetsErrorResponses(t *testing.T) {
	ts := newTestServer(t, nil)
	cases := []struct {
		name, ct string
		body     []byte
		want     int
	}{
		{"malformed multipart", "multipart/mixed;boundary=x", []byte("--x\r\nContent-Type: application/sdp\r\n\r\nv=0"), 400},
		{"no boundary", "multipart/mixed", []byte("x"), 400},
		{"no metadata", "application/sdp", []byte(offerSDP("sendonly", "opus")), 400},
		{"no participants", "", nil, 400},
		{"unknown codec", "", nil, 488},
		{"not xml", "", nil, 400},
	}
	noParts := `<recording xmlns='urn:ietf:params:xml:ns:recording:1'><stream stream_id="S1"><label>1</label></stream></recording>`
	cases[3].ct, cases[3].body = multipartBody(offerSDP("sendonly", "opus"), noParts)
	cases[4].ct, cases[4].body = multipartBody(offerSDP("sendonly", "G729/8000"), fmt.Sprintf(metadataXML, "x"))
	cases[5].ct, cases[5].body = multipartBody(offerSDP("sendonly", "opus"), "<recording><participant")
	for i, tc := range cases {
		c := newClient(t, ts.addr, fmt.Sprintf("bad-%d@test", i))
		code, _, reason := c.do("INVITE", tc.ct, tc.body)
		if code != tc.want || reason == "" {
			t.Errorf("%s: %d (reason %q), want %d with a reason", tc.name, code, reason, tc.want)
		}
	}
	if ts.srv.Sessions() != 0 {
		t.Fatal("a refused INVITE left a session")
	}
}

// partial inspects the partial file of the call's recording (the first
// recording started): what reached the store so far. Before its first
// page, it is empty (Duration 0).
func (ts *testServer) partial(t *testing.T) *recorder.Info {
	t.Helper()
	evs := ts.log.OfKind(audit.KindRecordingStarted)
	if len(evs) == 0 {
		return &recorder.Info{}
	}
	data := ts.store.Bytes(evs[0].RecordingID)
	if len(data) == 0 {
		return &recorder.Info{}
	}
	info, err := recorder.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("inspect the recording's partial file: %v", err)
	}
	return info
}

// pauseRuns returns the runs of silence, one per channel of a dual file,
// that start at or after from and last at least d (a pause: the recorder
// writes silence on both channels while paused), or nil.
func pauseRuns(info *recorder.Info, from, d time.Duration) []recorder.Gap {
	var runs []recorder.Gap
	for _, role := range info.Roles() {
		for _, g := range info.Gaps {
			if g.Leg == role && g.Note == "silence" && g.Start >= from-recorder.SlotDuration && g.End-g.Start >= d {
				runs = append(runs, g)
				break
			}
		}
	}
	if len(runs) != 2 {
		return nil
	}
	return runs
}

// waitFor waits until ok holds: an event the test needs (an audit event,
// audio in the store, a session, a socket closed). What it watches has no
// change notification, so it looks every 10 ms; that is no time window,
// and the minute is only a guard against waiting forever (t.Fatal names
// what never happened).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getenv(k string) string { return os.Getenv(k) }
