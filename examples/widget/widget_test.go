package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/consentrec/consentrec/notice/noticetest"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

// e2ePolicy records only on the agent's button, so that every scenario is
// deterministic (the demo policy also samples 10 % of calls).
const e2ePolicy = `{"name": "widget-e2e", "profile": "FR",
  "rules": [{"purpose": "training", "mode": "agent", "retention": "P30D"}]}`

// tapLog forwards to the real audit log and keeps a copy of each event.
type tapLog struct {
	next audit.Appender
	mu   sync.Mutex
	evs  []audit.Event
}

func (l *tapLog) Append(ctx context.Context, e audit.Event) (uint64, error) {
	i, err := l.next.Append(ctx, e)
	if err == nil {
		l.mu.Lock()
		l.evs = append(l.evs, e)
		l.mu.Unlock()
	}
	return i, err
}

func (l *tapLog) events() []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
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

type report struct {
	Scenario string `json:"scenario"`
	CallID   string `json:"callId"`
	Error    string `json:"error"`
	Heard    struct {
		MaxRms          float64 `json:"maxRms"`
		AudibleMs       int     `json:"audibleMs"`
		NoticeAudibleMs int     `json:"noticeAudibleMs"`
		AnnounceAudible int     `json:"announceAudibleMs"`
		Samples         int     `json:"samples"`
	} `json:"heard"`
	SawRecording bool              `json:"sawRecording"`
	States       []json.RawMessage `json:"states"`
	Errors       []string          `json:"errors"`
}

type result struct {
	report report
	dir    consentrec.DataDir
	events []audit.Event
	files  []string // everything in the recordings directory
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (Debian package chromium; .ci/run installs it): skipping the browser end-to-end test")
	return ""
}

// runScenario serves the widget on loopback (opts adjust its Config), opens the page in headless
// Chromium with a fake microphone reading testdata/caller.wav, runs one of
// the page's scripted calls and returns what the page reported and what the
// server left in its data directory.
func runScenario(t *testing.T, chromium, scenario, lang, profile string, opts ...func(*Config)) result {
	t.Helper()
	ctx := t.Context()
	dir := consentrec.DataDir{Root: t.TempDir()}
	flog, err := audit.OpenDir(ctx, dir.Root, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tap := &tapLog{next: flog}
	store, err := recorder.NewFileStore(dir.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(e2ePolicy))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Policy: pol, SamplingKey: bytes.Repeat([]byte{7}, 32), Store: store, Log: tap}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan report, 1)
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			t.Errorf("report: %v", err)
		}
		select {
		case reports <- rep:
		default:
		}
	})
	hs := httptest.NewServer(mux) // 127.0.0.1
	defer hs.Close()

	mic, err := filepath.Abs("testdata/caller.wav")
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"scenario": {scenario}, "lang": {lang}, "profile": {profile}}
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(),
		"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture="+mic,
		"--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection",
		hs.URL+"/?"+q.Encode())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var rep report
	select {
	case rep = <-reports:
	case err := <-exited:
		t.Fatalf("chromium exited before reporting: %v\n%s", err, tail(stderr.String()))
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no report from the page in 90 s\n%s", tail(stderr.String()))
	}
	_ = cmd.Process.Kill()
	<-exited
	// The page sent "hangup"; wait for the server to finish the call.
	deadline := time.Now().Add(15 * time.Second)
	for srv.Calls() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := srv.Calls(); n > 0 {
		t.Errorf("%d calls still up after the browser left", n)
	}
	srv.Close()
	if err := flog.Close(); err != nil {
		t.Fatal(err)
	}
	if rep.Error != "" {
		t.Errorf("the page's scenario failed: %s\nstates: %s", rep.Error, rep.States)
	}
	ents, err := os.ReadDir(dir.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		files = append(files, e.Name())
	}
	t.Logf("%s: heard max RMS %.3f, %d ms audible (%d during the notice); recording seen %v; files %v; events %d",
		scenario, rep.Heard.MaxRms, rep.Heard.AudibleMs, rep.Heard.NoticeAudibleMs, rep.SawRecording, files, len(tap.events()))
	return result{report: rep, dir: dir, events: tap.events(), files: files}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// heardNotice checks that the browser received the notice's audio.
func heardNotice(t *testing.T, r result) {
	t.Helper()
	// Sound while the server said the notice was playing, at a clear level.
	if r.report.Heard.MaxRms < 0.02 || r.report.Heard.NoticeAudibleMs < 1000 {
		t.Errorf("the browser did not hear the notice: max RMS %.4f, %d ms audible during the notice (%d in all, %d samples)",
			r.report.Heard.MaxRms, r.report.Heard.NoticeAudibleMs, r.report.Heard.AudibleMs, r.report.Heard.Samples)
	}
	n := find(r.events, audit.KindNoticePlayed)
	if len(n) == 0 {
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
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 && strings.Contains(string(out), "unknown command") {
		t.Logf("consentrec has no `audit verify` command yet; audit.VerifyDir passed")
		return
	}
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

func TestWidgetRecordsAfterNotice(t *testing.T) {
	chromium := chromiumPath(t)
	// The agent has audio here: the employee notice is played to it too.
	agent := &noticetest.Sink{}
	r := runScenario(t, chromium, "record", "en", "", func(c *Config) {
		c.AgentAudio = func(string) notice.FrameSink { return agent }
	})
	heardNotice(t, r)
	if !r.report.SawRecording {
		t.Errorf("the page never showed the recording indicator")
	}
	// The notice completed before recording started.
	var noticeAt, startAt int = -1, -1
	for i, e := range r.events {
		switch {
		case e.Kind == audit.KindNoticePlayed && attr(e, "completed") == "true" && noticeAt < 0:
			noticeAt = i
		case e.Kind == audit.KindRecordingStarted && startAt < 0:
			startAt = i
		}
	}
	if noticeAt < 0 || startAt < 0 || noticeAt > startAt {
		t.Fatalf("completed notice at event %d, recording started at event %d", noticeAt, startAt)
	}
	checkAnnounced(t, r, agent)
	rc := checkRecording(t, r)
	if rc.span < 5*time.Second {
		t.Errorf("recorded span %v: the page talks for 6 s", rc.span)
	}
	if rc.pcm != nil {
		speech, frames := rc.loud(0, rc.decoded(), -40)
		if frames == 0 || float64(speech)/float64(frames) < 0.3 {
			t.Errorf("customer channel: %d of %d 20 ms frames above -40 dBFS: no speech", speech, frames)
		}
		t.Logf("customer channel: %d of %d frames carry sound", speech, frames)
	}
	verifyAudit(t, r.dir)
}

// announcement returns the receipts of "this call is now being recorded".
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
// announced to the caller (R17), and to the agent when agent is not nil
// (the employee notice, into that sink), heard to the end before capture
// began.
func checkAnnounced(t *testing.T, r result, agent *noticetest.Sink) {
	t.Helper()
	parties := []string{"caller"}
	if agent != nil {
		parties = append(parties, "agent")
	}
	ann := announcements(r.events)
	if len(ann) != len(parties) {
		t.Fatalf("%d receipts of the mid-call announcement, want %d (%v)", len(ann), len(parties), parties)
	}
	si := slices.IndexFunc(r.events, func(e audit.Event) bool { return e.Kind == audit.KindRecordingStarted })
	if si < 0 {
		t.Fatalf("no recording started")
	}
	for _, party := range parties {
		ai := slices.IndexFunc(r.events, func(e audit.Event) bool {
			return e.Kind == audit.KindNoticePlayed && strings.HasPrefix(attr(e, "prompt"), "recording-now-") && attr(e, "party") == party
		})
		if ai < 0 {
			t.Fatalf("no announcement receipt for the %s", party)
		}
		a := r.events[ai]
		if attr(a, "completed") != "true" || attr(a, "version") == "" {
			t.Errorf("announcement receipt for the %s %+v: want completed, with its version", party, a.Attrs)
		}
		if played, _ := strconv.Atoi(attr(a, "played_ms")); played < 1500 {
			t.Errorf("announcement played to the %s for %d ms, the prompt lasts about 2 s", party, played)
		}
		if ai > si {
			t.Errorf("announcement receipt for the %s at event %d, recording started at event %d: want the receipt first", party, ai, si)
		}
		end, err := time.Parse(time.RFC3339Nano, attr(a, "end"))
		if err != nil {
			t.Fatal(err)
		}
		if started := r.events[si].Time; started.Before(end) {
			t.Errorf("recording started at %v, before the %s's announcement ended at %v", started, party, end)
		}
	}
	if agent != nil {
		// The agent's sink got the whole prompt, paced in real time.
		frames, times := agent.Snapshot()
		if len(frames) < 75 || times[len(times)-1].Sub(times[0]) < 1400*time.Millisecond {
			t.Errorf("the agent heard %d frames over %v: want the ~2 s announcement", len(frames), times[len(times)-1].Sub(times[0]))
		}
	}
	// The caller's page heard sound while the server said it was playing
	// (the greeting may still have been ending then: the receipt above says
	// how much of the announcement itself was sent).
	if r.report.Heard.AnnounceAudible < 1000 {
		t.Errorf("the page heard %d ms of sound during the announcement", r.report.Heard.AnnounceAudible)
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
	for off := first; off+win <= last; off += win {
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

// checkRecording checks the scenario left one dual-channel recording whose
// digest matches its metadata, which opusinfo accepts, and whose duration
// (metadata, and decoded by ffmpeg) matches the recorded span within 5 %.
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

	// opusinfo accepts the file.
	if opusinfo, err := exec.LookPath("opusinfo"); err != nil {
		t.Log("opusinfo not installed (Debian opus-tools): skipping that check")
	} else if out, err := exec.Command(opusinfo, path).CombinedOutput(); err != nil {
		t.Errorf("opusinfo rejects the recording: %v\n%s", err, out)
	}

	// The duration matches the call's recorded span within 5 %.
	started, stopped := find(r.events, audit.KindRecordingStarted), find(r.events, audit.KindRecordingStopped)
	if len(started) != 1 || len(stopped) != 1 {
		t.Fatalf("%d started, %d stopped events", len(started), len(stopped))
	}
	rc.span = stopped[0].Time.Sub(started[0].Time)
	if d := meta.Duration - rc.span; math.Abs(float64(d)) > 0.05*float64(rc.span) {
		t.Errorf("recording lasts %v, the call was recorded for %v (more than 5%% apart)", meta.Duration, rc.span)
	}

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
	// The decoded audio (ffmpeg, independent of the recorder's own
	// metadata) lasts as long as the recorded span too.
	if dec := rc.decoded(); math.Abs(float64(dec-rc.span)) > 0.05*float64(rc.span) {
		t.Errorf("decoded audio lasts %v, the recorded span %v (more than 5%% apart)", dec, rc.span)
	}
	return rc
}

// TestWidgetCardDataPause pauses a recording for 2 s (PCI DSS): the
// metadata's gap index holds the pause with its reason and actor, the
// file still lasts as long as the call, the paused span is silent on the
// customer channel while the caller's speech is there around it, and the
// page showed the pause only after the recorder and the policy had it.
func TestWidgetCardDataPause(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "pause", "en", "")
	if !r.report.SawRecording {
		t.Fatalf("recording never started")
	}
	checkAnnounced(t, r, nil) // no agent audio: the caller only
	rc := checkRecording(t, r)
	var pauses []recorder.Gap
	for _, g := range rc.meta.Gaps {
		if g.Reason == recorder.GapPause {
			pauses = append(pauses, g)
		}
	}
	if len(pauses) != 1 {
		t.Fatalf("gaps %+v: want one pause", rc.meta.Gaps)
	}
	g := pauses[0]
	if g.Actor != "agent-1" || g.Note != "card-data" || g.Leg != "" {
		t.Errorf("pause gap %+v: want actor agent-1, note card-data, every leg", g)
	}
	// The page waited 2 s between "paused" and sending resume; the gap
	// lasts as long as the recorder was paused by the audit log's clock.
	paused, resumed := find(r.events, audit.KindRecordingPaused), find(r.events, audit.KindRecordingResumed)
	if len(paused) != 1 || len(resumed) != 1 {
		t.Fatalf("%d paused, %d resumed events", len(paused), len(resumed))
	}
	want := resumed[0].Time.Sub(paused[0].Time)
	if got := g.End - g.Start; got < 1900*time.Millisecond || got > 4*time.Second ||
		math.Abs(float64(got-want)) > float64(100*time.Millisecond) {
		t.Errorf("pause gap lasts %v; paused for %v by the audit log, the page waited 2 s", got, want)
	}
	started := find(r.events, audit.KindRecordingStarted)[0].Time
	if at := paused[0].Time.Sub(started); math.Abs(float64(g.Start-at)) > float64(100*time.Millisecond) {
		t.Errorf("pause gap starts at %v, the pause came %v into the recording", g.Start, at)
	}
	// The policy was told after the recorder (its decision event, reason
	// "paused", follows the recorder's paused event), and the page saw it.
	var sawPaused bool
	for _, st := range r.report.States {
		var s state
		if json.Unmarshal(st, &s) == nil && s.Paused {
			sawPaused = true
		}
	}
	if !sawPaused {
		t.Errorf("the page never showed the pause")
	}
	pi, di := -1, -1
	for i, e := range r.events {
		switch {
		case e.Kind == audit.KindRecordingPaused && pi < 0:
			pi = i
		case e.Kind == audit.KindPolicyDecision && e.Reason == string(policy.ReasonPaused) && di < 0:
			di = i
		}
	}
	if pi < 0 || di < pi {
		t.Errorf("recorder paused at event %d, policy decision \"paused\" at event %d: want the recorder first", pi, di)
	}
	verifyAudit(t, r.dir)
	if rc.pcm == nil {
		return
	}
	// Silent while paused (a 60 ms margin for the codec's overlap at the
	// edges); the caller's speech before and after.
	const edge = 60 * time.Millisecond
	loud, frames := rc.loud(g.Start+edge, g.End-edge, -60)
	if frames < 80 || loud != 0 {
		t.Errorf("paused span: %d of %d 20 ms frames above -60 dBFS on the customer channel, want silence", loud, frames)
	}
	before, nb := rc.loud(0, g.Start, -40)
	after, na := rc.loud(g.End, rc.decoded(), -40)
	if nb == 0 || na == 0 || float64(before)/float64(nb) < 0.3 || float64(after)/float64(na) < 0.3 {
		t.Errorf("customer channel: %d/%d frames with speech before the pause, %d/%d after: want speech", before, nb, after, na)
	}
	t.Logf("pause gap %v-%v (%v); customer channel: %d/%d frames loud while paused, %d/%d before, %d/%d after",
		g.Start, g.End, g.End-g.Start, loud, frames, before, nb, after, na)
}

func TestWidgetObjectionKeyDuringNotice(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "objectKey", "en", "")
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
	if len(r.report.Errors) == 0 {
		t.Errorf("the agent's record button after the objection was not refused")
	}
	verifyAudit(t, r.dir)
}

func TestWidgetOptInWithoutConsent(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "noConsent", "en", "DE")
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

// TestWidgetObjectionDuringAnnouncement: the caller objects while hearing
// "this call is now being recorded": capture never starts, and the agent's
// copy of the announcement stops too.
func TestWidgetObjectionDuringAnnouncement(t *testing.T) {
	chromium := chromiumPath(t)
	agent := &noticetest.Sink{}
	r := runScenario(t, chromium, "objectAnnounce", "fr", "", func(c *Config) {
		c.AgentAudio = func(string) notice.FrameSink { return agent }
	})
	if len(r.files) != 0 || r.report.SawRecording || len(find(r.events, audit.KindRecordingStarted)) != 0 {
		t.Errorf("files %v, indicator seen %v, started events %d: want no recording", r.files, r.report.SawRecording,
			len(find(r.events, audit.KindRecordingStarted)))
	}
	ann := announcements(r.events)
	if len(ann) != 2 {
		t.Fatalf("announcement receipts %+v: want the caller's and the agent's", ann)
	}
	for _, a := range ann {
		if attr(a, "prompt") != "recording-now-fr.mp3" || attr(a, "completed") != "false" || attr(a, "interrupted") != "objection" {
			t.Errorf("announcement receipt for the %s %+v: want the French one, interrupted by the objection", attr(a, "party"), a.Attrs)
		}
	}
	if len(find(r.events, audit.KindObjection)) != 1 {
		t.Errorf("no objection event")
	}
	verifyAudit(t, r.dir)
}

func TestWidgetObjectionMidCallPurges(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "objectMidCall", "fr", "")
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
	verifyAudit(t, r.dir)
}

func TestWidgetOptInWithConsent(t *testing.T) {
	chromium := chromiumPath(t)
	r := runScenario(t, chromium, "consent", "de", "DE")
	consent := find(r.events, audit.KindConsentGiven)
	if len(consent) != 1 || attr(consent[0], "key") != "1" {
		t.Fatalf("consent events %+v", consent)
	}
	if len(find(r.events, audit.KindRecordingStarted)) != 1 || !r.report.SawRecording {
		t.Fatalf("a consented call was not recorded")
	}
	n := 0
	for _, f := range r.files {
		if strings.HasSuffix(f, ".opus") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("files %v, want one recording", r.files)
	}
	verifyAudit(t, r.dir)
}
