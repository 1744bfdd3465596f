package notice_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/noticetest"
)

func TestParseTelephoneEvent(t *testing.T) {
	// Event 9, E bit set, volume 10, duration 800 (RFC 4733 figure 1 layout).
	ev, err := notice.ParseTelephoneEvent([]byte{9, 0x8A, 0x03, 0x20})
	if err != nil {
		t.Fatal(err)
	}
	if ev != (notice.TelephoneEvent{Event: 9, End: true, Volume: 10, Duration: 800}) {
		t.Fatalf("got %+v", ev)
	}
	if b := ev.AppendTo(nil); string(b) != "\x09\x8a\x03\x20" {
		t.Fatalf("AppendTo = %x", b)
	}
	// Redundant payloads: the last event is current.
	ev, err = notice.ParseTelephoneEvent([]byte{1, 0x80, 0, 160, 11, 0x0A, 0, 160})
	if err != nil || ev.Event != 11 || ev.End {
		t.Fatalf("redundant payload: %+v, %v", ev, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, {1, 2, 3, 4, 5}} {
		if _, err := notice.ParseTelephoneEvent(bad); !errors.Is(err, notice.ErrTelephoneEvent) {
			t.Errorf("ParseTelephoneEvent(%x) err = %v", bad, err)
		}
	}
}

func TestKeys(t *testing.T) {
	for code := range uint8(16) {
		k, ok := notice.EventKey(code)
		if !ok || !k.Valid() {
			t.Fatalf("EventKey(%d) = %q, %v", code, k, ok)
		}
		if c, ok := notice.EventCode(k); !ok || c != code {
			t.Fatalf("EventCode(%q) = %d, %v", k, c, ok)
		}
	}
	if _, ok := notice.EventKey(16); ok {
		t.Fatal("EventKey(16) (flash) is not a DTMF key")
	}
	if notice.Key('x').Valid() || notice.Key('x').String() != "?" {
		t.Fatal("x is not a key")
	}
}

func TestEventDetector(t *testing.T) {
	var d notice.EventDetector
	var got []notice.Key
	ts := uint32(1000)
	for _, k := range []notice.Key{'9', '9', '1', '#'} { // the same key twice: two presses
		for _, p := range noticetest.TelephoneEvents(k, 48000, 100*time.Millisecond) {
			key, ok, err := d.Feed(ts, p)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got = append(got, key)
			}
		}
		ts += 48000 / 5
	}
	if string(got) != "991#" {
		t.Fatalf("keys %q, want 991#", got)
	}
	if _, ok, err := d.Feed(ts, []byte{16, 0, 0, 160}); ok || err != nil { // flash: not DTMF
		t.Fatalf("flash: %v %v", ok, err)
	}
	if _, _, err := d.Feed(ts, []byte{1}); !errors.Is(err, notice.ErrTelephoneEvent) {
		t.Fatalf("short payload err = %v", err)
	}
}

func detect(t *testing.T, rate int, pcm []int16) string {
	t.Helper()
	d, err := notice.NewToneDetector(rate)
	if err != nil {
		t.Fatal(err)
	}
	var keys []notice.Key
	// Feed in 20 ms frames, as a call would.
	for i := 0; i < len(pcm); i += rate / 50 {
		keys = d.Feed(keys, pcm[i:min(len(pcm), i+rate/50)])
	}
	return string(keys)
}

func silence(rate int, d time.Duration) []int16 { return make([]int16, int(d)*rate/int(time.Second)) }

func TestToneDetectorAllKeys(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		var pcm []int16
		const keys = "0123456789*#ABCD"
		for _, k := range keys {
			pcm = append(pcm, noticetest.DTMF(notice.Key(k), rate, 70*time.Millisecond, -10)...)
			pcm = append(pcm, silence(rate, 60*time.Millisecond)...)
		}
		if got := detect(t, rate, pcm); got != keys {
			t.Errorf("%d Hz: detected %q, want %q", rate, got, keys)
		}
	}
}

func TestToneDetectorLimits(t *testing.T) {
	const rate = 8000
	sil := silence(rate, 100*time.Millisecond)
	for _, tc := range []struct {
		name string
		pcm  []int16
		want string
	}{
		{"40ms tone (Q.24 minimum)", noticetest.DTMF('5', rate, 40*time.Millisecond, -10), "5"},
		{"15ms click", noticetest.DTMF('5', rate, 15*time.Millisecond, -10), ""},
		{"quiet (-45 dBFS)", noticetest.DTMF('5', rate, 100*time.Millisecond, -45), ""},
		{"long press is one key", noticetest.DTMF('#', rate, 2*time.Second, -10), "#"},
		{"single tone", func() []int16 {
			p := noticetest.DTMF('1', rate, 100*time.Millisecond, -10)
			q := noticetest.DTMF('4', rate, 100*time.Millisecond, -10) // same column, another row
			for i := range p {
				p[i] = p[i]/2 - q[i]/2 // 697 Hz and 770 Hz cancel the column: two rows
			}
			return p
		}(), ""},
	} {
		pcm := append(append(append([]int16(nil), sil...), tc.pcm...), sil...)
		if got := detect(t, rate, pcm); got != tc.want {
			t.Errorf("%s: detected %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Speech must not trigger keys (talk-off): the notice itself, at 8 kHz.
func TestToneDetectorSpeechTalkOff(t *testing.T) {
	for _, f := range []string{"testdata/notice-en.wav", "testdata/notice-fr.mp3", "testdata/notice-10s.mp3"} {
		p, err := notice.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := detect(t, p.SampleRate(), p.PCM()); got != "" {
			t.Errorf("%s: speech detected as keys %q", f, got)
		}
	}
}

// A tone made by a real tool: sox's 852 + 1477 Hz is key 9.
func TestToneDetectorSoxFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/dtmf-9.wav")
	if err != nil {
		t.Fatal(err)
	}
	p, err := notice.LoadFile("testdata/dtmf-9.wav")
	if err != nil {
		t.Fatalf("%v (%d bytes)", err, len(b))
	}
	if got := detect(t, p.SampleRate(), p.PCM()); got != "9" {
		t.Fatalf("detected %q, want 9", got)
	}
}

func TestNewToneDetectorRate(t *testing.T) {
	if _, err := notice.NewToneDetector(4000); !errors.Is(err, notice.ErrFormat) {
		t.Fatalf("err = %v", err)
	}
}

// In-band DTMF on a SIP leg: G.711 packets of tones, as a phone without
// telephone-events sends them.
func TestToneDetectorG711(t *testing.T) {
	for _, c := range []notice.Codec{notice.CodecPCMU, notice.CodecPCMA} {
		pcm := append(noticetest.DTMF('0', 8000, 80*time.Millisecond, -12), silence(8000, 60*time.Millisecond)...)
		pcm = append(pcm, noticetest.DTMF('*', 8000, 80*time.Millisecond, -12)...)
		pcm = append(pcm, silence(8000, 60*time.Millisecond)...)
		p, err := notice.NewPCMPrompt("keys", pcm, 8000)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := notice.G711Encoders(c)
		prep, err := notice.Prepare(p, c, enc)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := notice.NewToneDetector(8000)
		var keys []notice.Key
		for i := range prep.Len() {
			f, _ := prep.Frame(i)
			if keys, err = d.FeedG711(keys, c, f); err != nil {
				t.Fatal(err)
			}
		}
		if string(keys) != "0*" {
			t.Errorf("%s: keys %q, want 0*", c, keys)
		}
		f, _ := prep.Frame(0)
		if allocs := testing.AllocsPerRun(10, func() { keys, _ = d.FeedG711(keys[:0], c, f) }); allocs != 0 {
			t.Errorf("%s: %v allocs per packet", c, allocs)
		}
		if _, err := d.FeedG711(nil, notice.CodecOpus, f); !errors.Is(err, notice.ErrCodec) {
			t.Errorf("opus payload: %v", err)
		}
	}
	d48, _ := notice.NewToneDetector(48000)
	if _, err := d48.FeedG711(nil, notice.CodecPCMU, make([]byte, 160)); !errors.Is(err, notice.ErrCodec) {
		t.Errorf("48 kHz detector fed G.711: %v", err)
	}
}

func BenchmarkToneDetector20ms(b *testing.B) {
	d, _ := notice.NewToneDetector(8000)
	pcm := noticetest.DTMF('5', 8000, 20*time.Millisecond, -10)
	var keys []notice.Key
	b.ReportAllocs()
	for b.Loop() {
		keys = d.Feed(keys[:0], pcm)
	}
}
