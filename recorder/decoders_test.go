package recorder_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian: opus-tools / ffmpeg); CI has it", name)
	}
	return p
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// opusinfo runs opusinfo and fails on a non-zero status or any warning.
func opusinfo(t *testing.T, path string) string {
	t.Helper()
	bin := needTool(t, "opusinfo")
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil {
		t.Fatalf("opusinfo: %v\n%s", err, out)
	}
	if bytes.Contains(bytes.ToLower(out), []byte("warning")) || bytes.Contains(bytes.ToLower(out), []byte("error")) {
		t.Fatalf("opusinfo complains:\n%s", out)
	}
	return string(out)
}

// opusinfoLength returns the "Playback length" opusinfo prints.
func opusinfoLength(t *testing.T, out string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`Playback length: +(\d+)m:([\d.]+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no playback length in:\n%s", out)
	}
	min, _ := strconv.Atoi(m[1])
	sec, _ := strconv.ParseFloat(m[2], 64)
	return time.Duration(min)*time.Minute + time.Duration(sec*float64(time.Second))
}

type wav struct {
	channels int
	rate     int
	samples  [][]float64 // per channel
}

func (w *wav) duration() time.Duration {
	return time.Duration(len(w.samples[0])) * time.Second / time.Duration(w.rate)
}

func readWAV(t *testing.T, path string) *wav {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	w := &wav{}
	var bits int
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8 : min(p+8+n, len(b))]
		switch id {
		case "fmt ":
			w.channels = int(binary.LittleEndian.Uint16(body[2:]))
			w.rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			if bits != 16 {
				t.Fatalf("%s: %d-bit WAV", path, bits)
			}
			frames := len(body) / 2 / w.channels
			w.samples = make([][]float64, w.channels)
			for c := range w.samples {
				w.samples[c] = make([]float64, frames)
			}
			for i := 0; i < frames; i++ {
				for c := 0; c < w.channels; c++ {
					w.samples[c][i] = float64(int16(binary.LittleEndian.Uint16(body[(i*w.channels+c)*2:]))) / 32768
				}
			}
			return w
		}
		p += 8 + n + n&1
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

// opusdec decodes to a 48 kHz WAV (no dither) and returns it.
func opusdec(t *testing.T, path string) *wav {
	t.Helper()
	bin := needTool(t, "opusdec")
	out := filepath.Join(t.TempDir(), "dec.wav")
	o, err := exec.Command(bin, "--force-wav", "--no-dither", "--rate", "48000", path, out).CombinedOutput()
	if err != nil {
		t.Fatalf("opusdec: %v\n%s", err, o)
	}
	return readWAV(t, out)
}

// ffprobe returns channels, channel layout and duration.
func ffprobe(t *testing.T, path string) (int, string, time.Duration) {
	t.Helper()
	bin := needTool(t, "ffprobe")
	out, err := exec.Command(bin, "-v", "warning", "-show_entries", "stream=channels,channel_layout,duration",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var ch int
	var layout string
	var dur time.Duration
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch k {
		case "channels":
			ch, _ = strconv.Atoi(v)
		case "channel_layout":
			layout = v
		case "duration":
			f, _ := strconv.ParseFloat(v, 64)
			dur = time.Duration(f * float64(time.Second))
		case "":
		default:
			if strings.Contains(l, "arning") || strings.Contains(l, "rror") {
				t.Fatalf("ffprobe: %s", out)
			}
		}
	}
	return ch, layout, dur
}

// ffmpegDecode decodes with ffmpeg's native decoder and fails on any
// message at warning level.
func ffmpegDecode(t *testing.T, path string) {
	t.Helper()
	bin := needTool(t, "ffmpeg")
	out, err := exec.Command(bin, "-v", "warning", "-nostdin", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}
}

// goertzel returns the amplitude of frequency f (Hz) in x.
func goertzel(x []float64, rate int, f float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(math.Max(p, 0)) / float64(len(x))
}

func rms(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// span returns the samples of [from, to) of one channel.
func span(w *wav, ch int, from, to time.Duration) []float64 {
	a := int(from * time.Duration(w.rate) / time.Second)
	b := int(to * time.Duration(w.rate) / time.Second)
	b = min(b, len(w.samples[ch]))
	if a >= b {
		return nil
	}
	return w.samples[ch][a:b]
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
