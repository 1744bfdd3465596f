package g711opus_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// udpSource reads RTP datagrams from a UDP socket. It returns io.EOF once
// no packet came for idle after the first one (or for wait before it).
type udpSource struct {
	conn       *net.UDPConn
	wait, idle time.Duration
	started    bool
	buf        [1500]byte
	pkt        rtp.Packet
}

func (u *udpSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for {
		d := u.wait
		if u.started {
			d = u.idle
		}
		u.conn.SetReadDeadline(time.Now().Add(d))
		n, err := u.conn.Read(u.buf[:])
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, nil, io.EOF
			}
			return nil, nil, err
		}
		if err := u.pkt.Unmarshal(u.buf[:n]); err != nil {
			continue // not RTP (ffmpeg sends RTCP to port+1, not here)
		}
		u.started = true
		return &u.pkt, nil, nil
	}
}

func need(t *testing.T, tools ...string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not installed (Debian packages ffmpeg, opus-tools, espeak-ng); skipping", tool)
		}
		paths[tool] = p
	}
	return paths
}

// readWAV returns the samples of a 16-bit mono WAV file.
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("data"))
	if i < 0 {
		t.Fatalf("%s: no data chunk", path)
	}
	b = b[i+8:]
	s := make([]int16, len(b)/2)
	for k := range s {
		s[k] = int16(binary.LittleEndian.Uint16(b[2*k:]))
	}
	return s
}

// bestLag returns the highest normalised correlation of ref against got
// shifted by lag in [lo, hi], and that lag.
func bestLag(ref, got []int16, lo, hi int) (float64, int) {
	best, at := -1.0, lo
	for lag := max(lo, 0); lag <= hi; lag++ {
		if lag+len(ref) > len(got) {
			break
		}
		var ab, aa, bb float64
		for i, x := range ref {
			y := float64(got[lag+i])
			ab += float64(x) * y
			aa += float64(x) * float64(x)
			bb += y * y
		}
		if c := ab / math.Sqrt(aa*bb+1); c > best {
			best, at = c, lag
		}
	}
	return best, at
}

func gap(m recorder.Meta, leg recorder.Role, reason recorder.GapReason) *recorder.Gap {
	for i, g := range m.Gaps {
		if g.Leg == leg && g.Reason == reason {
			return &m.Gaps[i]
		}
	}
	return nil
}

// TestFFmpegPCMUToRecorder: a real RTP sender (Debian ffmpeg) streams
// speech as PCMU over loopback UDP; the leg goes through the transcoder into
// a recorder; the file must pass opusinfo and decode (opusdec) to the
// speech.
func TestFFmpegPCMUToRecorder(t *testing.T) {
	for _, c := range []struct {
		name    string
		in, out []string
	}{
		// -re paces whole demuxer packets (wav: 4096 bytes by default, so
		// 256 ms bursts, which the recorder places by their timestamps);
		// the encoder's frames set the RTP packet size.
		// SIP's usual 20 ms packets:
		{"ptime20", nil, []string{"-af", "asetnsamples=n=160"}},
		// ffmpeg's default: 2048-sample (256 ms) packets that do not fall
		// on 20 ms boundaries:
		{"ptime256", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) { ffmpegCall(t, c.in, c.out) })
	}
}

func ffmpegCall(t *testing.T, inOpts, outOpts []string) {
	tools := need(t, "ffmpeg", "espeak-ng", "opusinfo", "opusdec")
	dir := t.TempDir()
	// The source: espeak speech, 8 kHz mono, cut to exactly 3.000 s.
	tts := filepath.Join(dir, "tts.wav")
	if out, err := exec.Command(tools["espeak-ng"], "-v", "en-us", "-s", "160", "-w", tts,
		"Your call may be recorded for quality purposes. Press one to object.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "src.wav")
	if out, err := exec.Command(tools["ffmpeg"], "-v", "error", "-i", tts, "-ar", "8000", "-ac", "1", "-t", "3",
		"-c:a", "pcm_s16le", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	ref := readWAV(t, src)
	const srcDur = 3 * time.Second
	if len(ref) != 24000 {
		t.Fatalf("source has %d samples, want 24000", len(ref))
	}

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port

	ctx := context.Background()
	store, err := recorder.NewFileStore(filepath.Join(dir, "rec"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recorder.New(recorder.Config{CallID: "sip-1", Purpose: policy.Quality, PolicyVersion: "pv",
		Layout: recorder.LayoutMono, Store: store, Audit: audit.Discard})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := g711opus.New(&udpSource{conn: conn, wait: 20 * time.Second, idle: 500 * time.Millisecond},
		g711opus.Config{OpusPT: 111})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "agent-1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- leg.Consume(ctx, tr) }()

	args := append([]string{"-v", "error", "-re"}, inOpts...)
	args = append(append(args, "-i", src), outOpts...)
	args = append(args, "-c:a", "pcm_mulaw", "-f", "rtp", "rtp://127.0.0.1:"+itoa(port))
	if out, err := exec.Command(tools["ffmpeg"], args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg rtp: %v\n%s", err, out)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	metas, err := rec.Stop(ctx, "agent-1")
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	var m recorder.Meta
	for _, mm := range metas { // mono layout: one file per role
		if len(mm.Channels) == 1 && mm.Channels[0] == recorder.Customer {
			m = mm
		}
	}
	if m.ID == "" {
		t.Fatalf("no customer file in %+v", metas)
	}
	st := tr.Stats()
	t.Logf("transcoder: %+v", st)
	t.Logf("recording: %v, gaps %+v, legs %+v", m.Duration, m.Gaps, m.Legs)
	if st.LostFrames != 0 || st.Frames < 149 {
		t.Errorf("transcoder stats %+v", st)
	}

	// The leg's audio spans from the end of "not started" to "ended".
	ns, ended := gap(m, recorder.Customer, recorder.GapNotStarted), gap(m, recorder.Customer, recorder.GapEnded)
	if ns == nil || ended == nil {
		t.Fatalf("gaps %+v", m.Gaps)
	}
	span := ended.Start - ns.End
	t.Logf("leg audio: %v to %v = %v (source %v)", ns.End, ended.Start, span, srcDur)
	if d := span - srcDur; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("leg audio lasts %v, source %v: off by more than 20 ms", span, srcDur)
	}

	// A real validator and a real decoder.
	rc, err := store.Open(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	file := filepath.Join(dir, "out.opus")
	os.WriteFile(file, data, 0o600)
	if out, err := exec.Command(tools["opusinfo"], file).CombinedOutput(); err != nil {
		t.Fatalf("opusinfo: %v\n%s", err, out)
	}
	wav := filepath.Join(dir, "out.wav")
	if out, err := exec.Command(tools["opusdec"], "--quiet", "--rate", "8000", "--no-dither", file, wav).CombinedOutput(); err != nil {
		t.Fatalf("opusdec: %v\n%s", err, out)
	}
	got := readWAV(t, wav)
	want := int(ns.End * 8000 / time.Second)
	c, lag := bestLag(ref, got, want-400, want+400)
	t.Logf("opusdec output: %.3f s; correlation with the source speech %.3f at %.4f s (leg start %v)",
		float64(len(got))/8000, c, float64(lag)/8000, ns.End)
	// Measured: 0.903 for both packet sizes (espeak-ng 1.51, ffmpeg 5.1,
	// opusdec 0.2 / libopus 1.3.1). SILK keeps the spectral envelope, not
	// the exact waveform, so 1.0 is out of reach; anything wrong (noise,
	// misalignment, the wrong law, bursts re-aligned) gives under 0.4.
	if c < 0.6 {
		t.Errorf("decoded audio correlates %.3f with the source speech, want >= 0.6", c)
	}
	if d := float64(lag)/8000 - ns.End.Seconds(); d < -0.02 || d > 0.02 {
		t.Errorf("speech found at %.4f s, the leg starts at %v", float64(lag)/8000, ns.End)
	}
}

func itoa(i int) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}
