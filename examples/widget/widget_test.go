package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// e2ePolicy records only on the agent's button, so that every scenario is
// deterministic (the demo policy also samples 10 % of calls).
const e2ePolicy = `{"name": "widget-e2e", "profile": "FR",
  "rules": [{"purpose": "training", "mode": "agent", "retention": "P30D"}]}`

var (
	//go:embed testdata/customer-hooks.js
	customerHooks string
	//go:embed testdata/agent-hooks.js
	agentHooks string
	//go:embed testdata/a11y.js
	a11yCheck string
)

// stepTimeout bounds one wait of a scenario. The waits are for events (a
// state the page received, a key sent), so a slow machine only makes them
// longer: the bound is there to report a stuck call, not to time anything.
const stepTimeout = 3 * time.Minute

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (Debian package chromium; .ci/run installs it): skipping the browser end-to-end test")
	return ""
}

// e2e is one end-to-end call: the widget's server on loopback over a
// Service on a fresh data directory, and Chromium with the customer's
// widget and the agent console open in two tabs.
type e2e struct {
	t     *testing.T
	ctx   context.Context
	dir   consentrec.DataDir
	flog  *audit.FileLog
	svc   *consentrec.Service
	srv   *Server
	cust  *page
	agent *page

	mu   sync.Mutex
	keys []recorder.DTMF // what Options.OnKey was told
	keyc chan struct{}
}

type setup struct {
	lang          string // the browser's language
	profile       policy.Profile
	maxPause      time.Duration
	announcements *notice.Library // nil: the Service's default
}

func start(t *testing.T, s setup) *e2e {
	t.Helper()
	chromium := chromiumPath(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*stepTimeout)
	t.Cleanup(cancel)
	e := &e2e{t: t, ctx: ctx, dir: consentrec.DataDir{Root: t.TempDir()}, keyc: make(chan struct{}, 64)}
	var err error
	if e.flog, err = audit.OpenDir(ctx, e.dir.Root, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.flog.Close() })
	pol, err := policy.Parse([]byte(e2ePolicy))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options(pol, slog.New(slog.DiscardHandler))
	opts.Log = e.flog
	opts.MaxPause = s.maxPause
	opts.Announcements = s.announcements
	opts.OnKey = func(_ string, k recorder.DTMF) {
		e.mu.Lock()
		e.keys = append(e.keys, k)
		e.mu.Unlock()
		e.keyc <- struct{}{}
	}
	if e.svc, err = consentrec.Open(ctx, e.dir, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Close() })
	if e.srv, err = NewServer(Config{Service: e.svc, Profile: s.profile, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(e.srv.Close)

	mic, err := filepath.Abs("testdata/caller.wav")
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, chromium, mic)
	if e.agent, err = b.open(ctx, hs.URL+"/agent", agentHooks, 720, 760); err != nil {
		t.Fatalf("agent console: %v\n%s", err, b.stderr)
	}
	hooks := strings.Replace(customerHooks, "LANG", strconv.Quote(s.lang), 1)
	if e.cust, err = b.open(ctx, hs.URL+"/", hooks, 480, 900); err != nil {
		t.Fatalf("customer page: %v\n%s", err, b.stderr)
	}
	t.Logf("server, Chromium and both pages up in %v", time.Since(began).Round(time.Millisecond))
	return e
}

// do evaluates js in a page, within stepTimeout; what for says what the
// step waits for, in the failure message.
func (e *e2e) do(p *page, what, js string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeoutCause(e.ctx, stepTimeout, fmt.Errorf("no %s after %v", what, stepTimeout))
	defer cancel()
	if err := p.eval(ctx, js, nil); err != nil {
		var states json.RawMessage
		_ = e.cust.eval(e.ctx, `__test.states`, &states)
		e.t.Fatalf("%s: %v\npage states: %s", what, err, states)
	}
}

// wait waits for the customer page to receive a state for which pred (a
// JavaScript function of the state and all states so far) holds.
func (e *e2e) wait(what, pred string) {
	e.t.Helper()
	e.do(e.cust, what, "__test.waitFor("+pred+")")
}

// call presses "Call support" and waits for the notice to end.
func (e *e2e) call(noticeEnds bool) {
	e.t.Helper()
	e.do(e.cust, "call", `__test.click("call")`)
	if noticeEnds {
		e.wait("notice heard", `(s) => s.notice === "done"`)
	}
}

// agentPress presses a console button with the keyboard (focus, Enter),
// once it is enabled.
func (e *e2e) agentPress(id string) {
	e.t.Helper()
	var focused bool
	ctx, cancel := context.WithTimeout(e.ctx, stepTimeout)
	defer cancel()
	if err := e.agent.eval(ctx, `__agent.enabled(`+strconv.Quote(id)+`)`, &focused); err != nil || !focused {
		e.t.Fatalf("agent console: %s never enabled and focusable (%v)", id, err)
	}
	if err := e.agent.key(ctx, "Enter", 13); err != nil {
		e.t.Fatal(err)
	}
}

// record has the agent press Record and waits for capture.
func (e *e2e) record() {
	e.t.Helper()
	e.agentPress("record")
	e.wait("recording", `(s) => s.recording`)
}

// talk waits until the customer has talked for d of recorded audio more
// than when it was called (media time, counted by the server).
func (e *e2e) talk(d time.Duration) {
	e.t.Helper()
	e.do(e.cust, "talk", fmt.Sprintf(`(() => { const from = __test.state.recordedMs;
		return __test.waitFor((s) => s.recordedMs >= from + %d); })()`, d.Milliseconds()))
}

// hangup presses "Hang up" and waits for the agent console to see the call
// gone (the Service has finalized, catalogued and audited it by then).
func (e *e2e) hangup() result {
	e.t.Helper()
	e.do(e.cust, "hang-up", `__test.click("hangup")`)
	e.do(e.agent, "call gone from the console", `__agent.waitFor((calls) => calls.length === 0)`)
	var rep report
	if err := e.cust.eval(e.ctx, `({heard: __test.heard, sawRecording: __test.sawRecording, states: __test.states})`, &rep); err != nil {
		e.t.Fatal(err)
	}
	if n := e.srv.Calls(); n > 0 {
		e.t.Errorf("%d calls still up after the hang-up", n)
	}
	r := result{report: rep, dir: e.dir, events: e.events()}
	ents, err := os.ReadDir(e.dir.Recordings())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		e.t.Fatal(err)
	}
	for _, f := range ents {
		r.files = append(r.files, f.Name())
	}
	e.t.Logf("heard max RMS %.3f, %.0f ms audible (%.0f during the notice, %.0f during the announcement); recording seen %v; files %v; %d events",
		rep.Heard.MaxRms, rep.Heard.AudibleMs, rep.Heard.NoticeAudibleMs, rep.Heard.AnnounceAudible, rep.SawRecording, r.files, len(r.events))
	return r
}

// events reads the audit log back.
func (e *e2e) events() []audit.Event {
	e.t.Helper()
	var evs []audit.Event
	for i := range e.flog.Size() {
		ent, err := e.flog.Entry(e.ctx, i)
		if err != nil {
			e.t.Fatal(err)
		}
		evs = append(evs, ent.Event)
	}
	return evs
}

// waitKeys waits for the Service to have told Options.OnKey of n keys.
func (e *e2e) waitKeys(n int) []recorder.DTMF {
	e.t.Helper()
	for {
		e.mu.Lock()
		keys := slices.Clone(e.keys)
		e.mu.Unlock()
		if len(keys) >= n {
			return keys
		}
		select {
		case <-e.keyc:
		case <-e.ctx.Done():
			e.t.Fatalf("%d keys reached the Service, want %d", len(keys), n)
		}
	}
}

// screenshot keeps a PNG of a page as a test artifact.
func (e *e2e) screenshot(p *page, name string) {
	e.t.Helper()
	path := filepath.Join(e.t.ArtifactDir(), name)
	if err := p.screenshot(e.ctx, path); err != nil {
		e.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	e.t.Logf("screenshot: %s", path)
}

type report struct {
	Heard struct {
		MaxRms          float64 `json:"maxRms"`
		AudibleMs       float64 `json:"audibleMs"`
		NoticeAudibleMs float64 `json:"noticeAudibleMs"`
		AnnounceAudible float64 `json:"announceAudibleMs"`
		Samples         int     `json:"samples"`
	} `json:"heard"`
	SawRecording bool    `json:"sawRecording"`
	States       []state `json:"states"`
}

type result struct {
	report report
	dir    consentrec.DataDir
	events []audit.Event
	files  []string // everything in the recordings directory
}

func attr(e audit.Event, k string) string {
	for _, a := range e.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

func find(evs []audit.Event, k audit.Kind) []audit.Event {
	var out []audit.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// heardNotice checks that the browser received the notice's audio.
func heardNotice(t *testing.T, r result) {
	t.Helper()
	// Sound while the server said the notice was playing, at a clear level
	// (the notice lasts about 5 s; a second is heard even when the data
	// channel's "playing" comes late on a busy machine).
	if r.report.Heard.MaxRms < 0.02 || r.report.Heard.NoticeAudibleMs < 1000 {
		t.Errorf("the browser did not hear the notice: max RMS %.4f, %.0f ms audible during the notice (%.0f in all, %d samples)",
			r.report.Heard.MaxRms, r.report.Heard.NoticeAudibleMs, r.report.Heard.AudibleMs, r.report.Heard.Samples)
	}
	if len(find(r.events, audit.KindNoticePlayed)) == 0 {
		t.Fatalf("no notice receipt in the audit log")
	}
}

// verifyAudit runs `consentrec audit verify` on the data directory (and the
// library verifier, which the command wraps).
func verifyAudit(t *testing.T, dir consentrec.DataDir) {
	t.Helper()
	if _, err := audit.VerifyDir(t.Context(), dir.Root, nil); err != nil {
		t.Errorf("audit.VerifyDir: %v", err)
	}
	bin := consentrecBinary(t)
	out, err := exec.Command(bin, "audit", "verify", "--data", dir.Root).CombinedOutput()
	if err != nil {
		t.Errorf("consentrec audit verify: %v\n%s", err, out)
	}
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

func consentrecBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		d, err := os.MkdirTemp("", "consentrec-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(d, "consentrec")
		out, err := exec.Command("go", "build", "-o", cliPath, "github.com/consentrec/consentrec/cmd/consentrec").CombinedOutput()
		if err != nil {
			cliErr = errors.New(string(out))
		}
	})
	if cliErr != nil {
		t.Fatalf("build consentrec: %v", cliErr)
	}
	return cliPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cliPath != "" {
		_ = os.RemoveAll(filepath.Dir(cliPath))
	}
	os.Exit(code)
}

// TestWidgetRecordsAfterNotice: the customer hears the notice, the agent
// records from the console with the keyboard, the customer hears "this
// call is now being recorded" first; both sides land in one file, which is
// catalogued. Screenshots of both pages mid-call are kept as artifacts.
func TestWidgetRecordsAfterNotice(t *testing.T) {
	e := start(t, setup{lang: "en-GB"})
	e.call(true)
	e.record()
	e.talk(6 * time.Second)
	e.screenshot(e.cust, "customer-recording.png")
	e.screenshot(e.agent, "agent-recording.png")
	r := e.hangup()
	heardNotice(t, r)
	if !r.report.SawRecording {
		t.Errorf("the page never showed the recording indicator")
	}
	// The notice completed before recording started.
	noticeAt := slices.IndexFunc(r.events, func(e audit.Event) bool {
		return e.Kind == audit.KindNoticePlayed && attr(e, "completed") == "true"
	})
	startAt := slices.IndexFunc(r.events, func(e audit.Event) bool { return e.Kind == audit.KindRecordingStarted })
	if noticeAt < 0 || startAt < 0 || noticeAt > startAt {
		t.Fatalf("completed notice at event %d, recording started at event %d", noticeAt, startAt)
	}
	if n := find(r.events, audit.KindNoticePlayed); attr(n[0], "prompt") != "notice-en.mp3" {
		t.Errorf("notice %q for an en-GB browser, want the English one", attr(n[0], "prompt"))
	}
	checkAnnounced(t, r)
	rc := checkRecording(t, r)
	// The page waited for 6 s of recorded customer audio (server's count).
	if rc.meta.Duration < 6*time.Second-100*time.Millisecond {
		t.Errorf("recording lasts %v: the customer talked 6 s while recorded", rc.meta.Duration)
	}
	if rc.pcm != nil {
		speech, frames := rc.loud(0, rc.decoded(), -40)
		if frames == 0 || float64(speech)/float64(frames) < 0.3 {
			t.Errorf("customer channel: %d of %d 20 ms frames above -40 dBFS: no speech", speech, frames)
		}
		t.Logf("customer channel: %d of %d frames carry sound", speech, frames)
	}
	cat := find(r.events, audit.KindRecordingCatalogued)
	if len(cat) != 1 || cat[0].Purpose != "training" || attr(cat[0], "lawful_basis") == "" {
		t.Errorf("catalogued events %+v: want one, for training, with its lawful basis", cat)
	}
	verifyAudit(t, r.dir)
}

// announcements returns the receipts of "this call is now being recorded".
func announcements(evs []audit.Event) []audit.Event {
	var out []audit.Event
	for _, e := range find(evs, audit.KindNoticePlayed) {
		if strings.HasPrefix(attr(e, "prompt"), "recording-now-") {
			out = append(out, e)
		}
	}
	return out
}

// checkAnnounced checks that the recording the agent started mid-call was
// announced to the caller (R17), heard to the end before capture began.
func checkAnnounced(t *testing.T, r result) {
	t.Helper()
	ann := announcements(r.events)
	if len(ann) != 1 {
		t.Fatalf("%d receipts of the mid-call announcement, want 1", len(ann))
	}
	a := ann[0]
	si := slices.IndexFunc(r.events, func(e audit.Event) bool { return e.Kind == audit.KindRecordingStarted })
	ai := slices.IndexFunc(r.events, func(e audit.Event) bool {
		return e.Kind == audit.KindNoticePlayed && strings.HasPrefix(attr(e, "prompt"), "recording-now-")
	})
	if si < 0 || ai > si {
		t.Errorf("announcement receipt at event %d, recording started at event %d: want the receipt first", ai, si)
	}
	if attr(a, "completed") != "true" || attr(a, "version") == "" || attr(a, "party") != "caller" {
		t.Errorf("announcement receipt %+v: want completed, to the caller, with its version", a.Attrs)
	}
	if played, _ := strconv.Atoi(attr(a, "played_ms")); played < 1500 {
		t.Errorf("announcement played for %d ms, the prompt lasts about 2 s", played)
	}
	end, err := time.Parse(time.RFC3339Nano, attr(a, "end"))
	if err != nil {
		t.Fatal(err)
	}
	if si >= 0 && r.events[si].Time.Before(end) {
		t.Errorf("recording started at %v, before the announcement ended at %v", r.events[si].Time, end)
	}
	// The page heard sound while the server said the announcement played.
	if r.report.Heard.AnnounceAudible < 500 {
		t.Errorf("the page heard %.0f ms of sound during the announcement", r.report.Heard.AnnounceAudible)
	}
}

// recording is a finished widget recording: its metadata, the call's
// recorded span (audit events) and its audio decoded by ffmpeg (nil when
// ffmpeg is absent): 16 kHz, 16-bit, two interleaved channels.
type recording struct {
	meta recorder.Meta
	span time.Duration
	pcm  []byte
	cust int // the customer's channel
}

const pcmRate = 16000

// decoded returns how long the decoded audio lasts.
func (rc recording) decoded() time.Duration {
	return time.Duration(len(rc.pcm)/4) * time.Second / pcmRate
}

// loud counts the 20 ms frames of the customer channel in [from, to) whose
// level is above dbfs, and the frames in all.
func (rc recording) loud(from, to time.Duration, dbfs float64) (loud, frames int) {
	const win = pcmRate / 50
	first := int(from * pcmRate / time.Second)
	last := min(int(to*pcmRate/time.Second), len(rc.pcm)/4)
	for off := max(first, 0); off+win <= last; off += win {
		var e float64
		for i := range win {
			v := float64(int16(binary.LittleEndian.Uint16(rc.pcm[4*(off+i)+2*rc.cust:])))
			e += v * v
		}
		frames++
		if math.Sqrt(e/win) > 32768*math.Pow(10, dbfs/20) {
			loud++
		}
	}
	return loud, frames
}

// frame is one Opus frame: the recorder's unit of time.
const frame = 20 * time.Millisecond

// checkRecording checks the scenario left one dual-channel recording whose
// digest matches its metadata, which opusinfo accepts, and whose duration
// (metadata, and decoded by ffmpeg) matches the recorded span.
func checkRecording(t *testing.T, r result) recording {
	t.Helper()
	var audio []string
	for _, f := range r.files {
		if strings.HasSuffix(f, ".opus") {
			audio = append(audio, f)
		}
	}
	if len(audio) != 1 {
		t.Fatalf("recordings %v, want one .opus file", r.files)
	}
	path := filepath.Join(r.dir.Recordings(), audio[0])
	id := strings.TrimSuffix(audio[0], ".opus")
	var rc recording
	mb, err := os.ReadFile(filepath.Join(r.dir.Recordings(), id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &rc.meta); err != nil {
		t.Fatal(err)
	}
	meta := rc.meta
	if meta.Layout != recorder.LayoutDual || len(meta.Channels) != 2 {
		t.Fatalf("meta %+v: want a dual-channel recording", meta)
	}
	if rc.cust = slices.Index(meta.Channels, recorder.Customer); rc.cust < 0 {
		t.Fatalf("no customer channel in %v", meta.Channels)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != meta.SHA256 {
		t.Errorf("file digest differs from its metadata")
	}
	if opusinfo, err := exec.LookPath("opusinfo"); err != nil {
		t.Log("opusinfo not installed (Debian opus-tools): skipping that check")
	} else if out, err := exec.Command(opusinfo, path).CombinedOutput(); err != nil {
		t.Errorf("opusinfo rejects the recording: %v\n%s", err, out)
	}

	// The file lasts as long as the span between the started and stopped
	// events: the recorder fills what did not arrive with silence by the
	// wall clock. The events are stamped after the recorder's own clock
	// read, once its storage work is done, so the span comes out longer
	// by that work: 7 to 120 ms measured at load 30 on 2 cores; allow
	// twice the worst, or 5 % of a long recording.
	started, stopped := find(r.events, audit.KindRecordingStarted), find(r.events, audit.KindRecordingStopped)
	if len(started) != 1 || len(stopped) != 1 {
		t.Fatalf("%d started, %d stopped events", len(started), len(stopped))
	}
	rc.span = stopped[0].Time.Sub(started[0].Time)
	tol := max(250*time.Millisecond, rc.span/20)
	if d := meta.Duration - rc.span; d.Abs() > tol {
		t.Errorf("recording lasts %v, the call was recorded for %v (%v apart, more than %v)", meta.Duration, rc.span, d, tol)
	}
	t.Logf("recording lasts %v, recorded span %v (%v apart)", meta.Duration, rc.span, meta.Duration-rc.span)

	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Log("ffmpeg not installed: skipping the decoded audio checks")
		return rc
	}
	out, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "s16le", "-ac", "2", "-ar", strconv.Itoa(pcmRate), "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode: %v", err)
	}
	rc.pcm = out
	if dec := rc.decoded(); (dec - meta.Duration).Abs() > 3*frame {
		t.Errorf("decoded audio lasts %v, the metadata says %v", dec, meta.Duration)
	}
	return rc
}

func TestWidgetObjectionKeyDuringNotice(t *testing.T) {
	e := start(t, setup{lang: "en"})
	e.call(false)
	// A second of the notice heard, then 9 on the keypad.
	e.do(e.cust, "notice heard", `(async () => { await __test.waitFor((s) => s.notice === "playing");
		await new Promise((r) => { const w = () => { if (__test.heard.noticeAudibleMs >= 1000) { r(); return true; } return false; };
			if (!w()) __test.waiters.push(w); }); })()`)
	e.do(e.cust, "key 9 sent", `__test.press("9")`)
	e.wait("objection", `(s) => s.objected && s.notice === "interrupted"`)
	// The console no longer offers Record; the server refuses it anyway.
	var disabled bool
	if err := e.agent.eval(e.ctx, `(async () => { await __agent.waitFor((c) => c.some((s) => s.objected));
		return document.getElementById("record").disabled; })()`, &disabled); err != nil || !disabled {
		t.Errorf("the console's Record button is enabled after the objection (%v)", err)
	}
	e.do(e.agent, "record refused", `fetch("/agent/calls/" + __agent.selected() + "/record", { method: "POST" })`)
	e.wait("refusal", `(s) => s.error !== undefined && s.error !== ""`)
	r := e.hangup()
	heardNotice(t, r)
	if len(r.files) != 0 {
		t.Errorf("recordings directory holds %v: an objection must leave no file at all", r.files)
	}
	if r.report.SawRecording {
		t.Errorf("the page showed the recording indicator")
	}
	obj := find(r.events, audit.KindObjection)
	if len(obj) != 1 || attr(obj[0], "key") != "9" || attr(obj[0], "method") != "dtmf-rfc4733" || attr(obj[0], "prompt_version") == "" {
		t.Fatalf("objection events %+v: want one, key 9 by RFC 4733, with the prompt version", obj)
	}
	n := find(r.events, audit.KindNoticePlayed)
	if attr(n[0], "completed") != "false" || attr(n[0], "interrupted") != "objection" {
		t.Errorf("notice receipt %+v: want interrupted by the objection", n[0].Attrs)
	}
	if len(find(r.events, audit.KindRecordingStarted)) != 0 {
		t.Errorf("a recording started")
	}
	verifyAudit(t, r.dir)
}

func TestWidgetOptInWithoutConsent(t *testing.T) {
	e := start(t, setup{lang: "en", profile: policy.ProfileDE})
	e.call(true)
	e.agentPress("record")
	// The agent's start returned (announced or not): nothing may record.
	e.wait("agent start handled", `(s, all) => all.some((x) => x.announce === "requested") && !["requested", "playing"].includes(s.announce)`)
	r := e.hangup()
	heardNotice(t, r)
	if len(r.files) != 0 || r.report.SawRecording {
		t.Errorf("opt-in without a yes: files %v, indicator seen %v", r.files, r.report.SawRecording)
	}
	if len(find(r.events, audit.KindRecordingStarted)) != 0 || len(find(r.events, audit.KindConsentGiven)) != 0 {
		t.Errorf("recording started or consent logged without a yes")
	}
	n := find(r.events, audit.KindNoticePlayed)
	if !strings.Contains(attr(n[0], "prompt"), "-de") {
		t.Errorf("the German opt-in notice was not played: %s", attr(n[0], "prompt"))
	}
	verifyAudit(t, r.dir)
}

func TestWidgetOptInWithConsent(t *testing.T) {
	e := start(t, setup{lang: "de-DE", profile: policy.ProfileDE})
	e.call(true)
	e.do(e.cust, "key 1 sent", `__test.press("1")`)
	e.wait("consent", `(s) => !s.pending.includes("consent")`)
	e.record()
	e.talk(3 * time.Second)
	r := e.hangup()
	consent := find(r.events, audit.KindConsentGiven)
	if len(consent) != 1 || attr(consent[0], "key") != "1" {
		t.Fatalf("consent events %+v", consent)
	}
	if len(find(r.events, audit.KindRecordingStarted)) != 1 || !r.report.SawRecording {
		t.Fatalf("a consented call was not recorded")
	}
	if ann := announcements(r.events); len(ann) != 1 || attr(ann[0], "prompt") != "recording-now-de.mp3" {
		t.Errorf("announcements %+v: want the German one", ann)
	}
	checkRecording(t, r)
	cat := find(r.events, audit.KindRecordingCatalogued)
	if len(cat) != 1 || !strings.Contains(attr(cat[0], "lawful_basis"), "6(1)(a)") {
		t.Errorf("catalogued %+v: a German opt-in call rests on consent, 6(1)(a)", cat)
	}
	verifyAudit(t, r.dir)
}

// longAnnouncement is an 8 s "this call is now being recorded" (a tone):
// the caller objects once 300 ms of it were heard, and the objection must
// reach the Service before it ends (data channel, server, audit append):
// the 2 s sample prompt leaves 1.7 s for that, which a loaded machine
// (load 35, -race) can use up; 8 s leaves 7.7.
func longAnnouncement(t *testing.T) *notice.Library {
	t.Helper()
	const rate, secs = 48000, 8
	pcm := make([]int16, rate*secs)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	p, err := notice.NewPCMPrompt("recording-now-long", pcm, rate)
	if err != nil {
		t.Fatal(err)
	}
	lib := &notice.Library{Fallback: "fr"}
	lib.Add("fr", "", p)
	return lib
}

// TestWidgetObjectionDuringAnnouncement: the caller objects while hearing
// "this call is now being recorded": capture never starts.
func TestWidgetObjectionDuringAnnouncement(t *testing.T) {
	e := start(t, setup{lang: "fr-FR", announcements: longAnnouncement(t)})
	e.call(true)
	e.agentPress("record")
	e.do(e.cust, "announcement heard", `(async () => { await __test.waitFor((s) => s.announce === "playing");
		await new Promise((r) => { const w = () => { if (__test.heard.announceAudibleMs >= 300) { r(); return true; } return false; };
			if (!w()) __test.waiters.push(w); }); })()`)
	e.do(e.cust, "objection sent", `__test.click("object")`)
	e.wait("objection", `(s) => s.objected && s.announce !== "playing"`)
	r := e.hangup()
	if len(r.files) != 0 || r.report.SawRecording || len(find(r.events, audit.KindRecordingStarted)) != 0 {
		t.Errorf("files %v, indicator seen %v, started events %d: want no recording", r.files, r.report.SawRecording,
			len(find(r.events, audit.KindRecordingStarted)))
	}
	ann := announcements(r.events)
	if len(ann) != 1 {
		t.Fatalf("announcement receipts %+v: want the caller's", ann)
	}
	if a := ann[0]; attr(a, "completed") != "false" || attr(a, "interrupted") != "objection" {
		t.Errorf("announcement receipt %+v: want it interrupted by the objection", a.Attrs)
	}
	if len(find(r.events, audit.KindObjection)) != 1 {
		t.Errorf("no objection event")
	}
	verifyAudit(t, r.dir)
}

func TestWidgetObjectionMidCallPurges(t *testing.T) {
	e := start(t, setup{lang: "fr"})
	e.call(true)
	e.record()
	e.talk(2500 * time.Millisecond)
	e.do(e.cust, "objection sent", `__test.click("object")`)
	e.wait("purge", `(s) => s.objected && !s.recording`)
	r := e.hangup()
	if !r.report.SawRecording {
		t.Fatalf("recording never started")
	}
	if len(r.files) != 0 {
		t.Errorf("recordings directory holds %v after the objection", r.files)
	}
	obj := find(r.events, audit.KindObjection)
	if len(obj) != 1 || attr(obj[0], "method") != "button" {
		t.Fatalf("objection events %+v", obj)
	}
	if len(find(r.events, audit.KindRecordingPurged)) == 0 {
		t.Errorf("no purge event")
	}
	if len(find(r.events, audit.KindRecordingCatalogued)) != 0 {
		t.Errorf("a purged recording was catalogued")
	}
	verifyAudit(t, r.dir)
}

// TestWidgetPages checks the two shipped pages without a call: no test
// code in them, names and labels on every control, WCAG AA contrast, and
// keeps screenshots of both as artifacts.
func TestWidgetPages(t *testing.T) {
	e := start(t, setup{lang: "en"})
	for _, p := range []struct {
		name string
		pg   *page
	}{{"customer", e.cust}, {"agent", e.agent}} {
		var problems []string
		if err := p.pg.eval(e.ctx, a11yCheck, &problems); err != nil {
			t.Fatal(err)
		}
		for _, pr := range problems {
			t.Errorf("%s page: %s", p.name, pr)
		}
		t.Logf("%s page: accessibility checked", p.name)
		e.screenshot(p.pg, p.name+"-idle.png")
		t.Logf("%s page checked", p.name)
	}
	var link string
	if err := e.cust.eval(e.ctx, `document.querySelector("a[href]").getAttribute("href")`, &link); err != nil || link != "/privacy" {
		t.Errorf("privacy link %q (%v), want /privacy", link, err)
	}
	for _, name := range []string{"customer.html", "agent.html", "static/customer.js", "static/agent.js"} {
		b, err := web.ReadFile("web/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, hook := range []string{"__test", "__agent", "scenario", "/report"} {
			if bytes.Contains(b, []byte(hook)) {
				t.Errorf("%s ships test code (%q)", name, hook)
			}
		}
	}
}
