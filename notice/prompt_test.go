package notice_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice"
)

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	return fileSHA256(path)
}

func fileSHA256(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestLoadFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format notice.Format
		rate   int
		dur    time.Duration // from soxi / ffprobe
		tol    time.Duration
	}{
		{"notice-en.wav", notice.FormatWAV, 8000, 4172 * time.Millisecond, 5 * time.Millisecond},
		// LAME adds encoder delay and padding, which go-mp3 does not trim.
		{"notice-fr.mp3", notice.FormatMP3, 44100, 3687 * time.Millisecond, 80 * time.Millisecond},
		{"notice-10s.mp3", notice.FormatMP3, 48000, 10 * time.Second, 80 * time.Millisecond},
		{"notice-en.opus", notice.FormatOggOpus, 48000, 4172 * time.Millisecond, 25 * time.Millisecond},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			p, err := notice.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if p.Format() != tc.format || p.SampleRate() != tc.rate || p.Name() != tc.file {
				t.Errorf("got %s, %d Hz, name %q", p.Format(), p.SampleRate(), p.Name())
			}
			if d := p.Duration() - tc.dur; d < -tc.tol || d > tc.tol {
				t.Errorf("duration %v, want %v ± %v", p.Duration(), tc.dur, tc.tol)
			}
			if want := fileDigest(t, path); p.Version() != want {
				t.Errorf("version %s, want sha256 of the file %s", p.Version(), want)
			}
			if tc.format == notice.FormatOggOpus {
				if len(p.OpusPackets()) == 0 || p.PCM() != nil {
					t.Errorf("opus prompt: %d packets, pcm %v", len(p.OpusPackets()), p.PCM() != nil)
				}
				return
			}
			var peak int16
			for _, s := range p.PCM() {
				peak = max(peak, s, -s)
			}
			if peak < 3000 {
				t.Errorf("peak %d: the speech did not decode", peak)
			}
		})
	}
}

func wav(channels, rate, bits int, samples []int16) []byte {
	var b bytes.Buffer
	data := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(s))
	}
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + 12 + len(data)))
	b.WriteString("WAVE")
	b.WriteString("LIST") // an odd-sized chunk before fmt, padded
	w(uint32(3))
	b.WriteString("abc\x00")
	b.WriteString("fmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * channels * bits / 8))
	w(uint16(channels * bits / 8))
	w(uint16(bits))
	b.WriteString("data")
	w(uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestLoadWAVStereoDownmix(t *testing.T) {
	p, err := notice.LoadWAV("s.wav", bytes.NewReader(wav(2, 16000, 16, []int16{100, 300, -100, -300, 32767, 32767})))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.PCM(); len(got) != 3 || got[0] != 200 || got[1] != -200 || got[2] != 32767 {
		t.Fatalf("pcm %v, want [200 -200 32767]", got)
	}
}

func TestLoadErrors(t *testing.T) {
	good := wav(1, 8000, 16, make([]int16, 160))
	opus, err := os.ReadFile("testdata/notice-en.opus")
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(opus)
	corrupt[200] ^= 0x55
	for name, tc := range map[string]struct {
		load func() error
	}{
		"wav empty": {func() error { _, err := notice.LoadWAV("x", bytes.NewReader(nil)); return err }},
		"wav 8 bits": {func() error {
			_, err := notice.LoadWAV("x", bytes.NewReader(wav(1, 8000, 8, make([]int16, 80))))
			return err
		}},
		"wav 96 kHz": {func() error {
			_, err := notice.LoadWAV("x", bytes.NewReader(wav(1, 96000, 16, make([]int16, 80))))
			return err
		}},
		"wav truncated":    {func() error { _, err := notice.LoadWAV("x", bytes.NewReader(good[:40])); return err }},
		"wav as mp3":       {func() error { _, err := notice.LoadMP3("x", bytes.NewReader(good)); return err }},
		"ogg bad checksum": {func() error { _, err := notice.LoadOggOpus("x", bytes.NewReader(corrupt)); return err }},
		"ogg truncated":    {func() error { _, err := notice.LoadOggOpus("x", bytes.NewReader(opus[:len(opus)-7])); return err }},
		"ogg of a wav":     {func() error { _, err := notice.LoadOggOpus("x", bytes.NewReader(good)); return err }},
		"pcm no samples":   {func() error { _, err := notice.NewPCMPrompt("x", nil, 8000); return err }},
		"unknown ext":      {func() error { _, err := notice.LoadFile("testdata/x.flac"); return err }},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.load()
			if !errors.Is(err, notice.ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
		})
	}
	var fe *notice.FormatError
	_, err = notice.LoadOggOpus("x", bytes.NewReader(corrupt))
	if !errors.As(err, &fe) || fe.Format != "ogg" || fe.Offset < 0 {
		t.Fatalf("err = %#v, want a *FormatError with an offset", err)
	}
}

func TestPCMPromptVersion(t *testing.T) {
	a, _ := notice.NewPCMPrompt("a", []int16{1, 2, 3}, 8000)
	b, _ := notice.NewPCMPrompt("b", []int16{1, 2, 3}, 8000)
	c, _ := notice.NewPCMPrompt("c", []int16{1, 2, 4}, 8000)
	if a.Version() != b.Version() || a.Version() == c.Version() {
		t.Fatalf("versions must follow the audio: %s %s %s", a.Version(), b.Version(), c.Version())
	}
}
