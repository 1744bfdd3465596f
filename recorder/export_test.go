package recorder_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// TestExportWAVMatchesLibopus decodes the hard call without loss (DTX,
// reordering, pause; 20 and 40 ms packets) with ExportWAV (pion/opus) and
// with opusdec (libopus), and compares them where both decoders have real
// packets to decode. (Concealment differs: libopus conceals the TOC-only
// fillers, pion/opus has no PLC and gives silence, and their states take a
// while to converge after that; on a clean stream they agree within about
// 50 dB, see the reference baselines.)
func TestExportWAVMatchesLibopus(t *testing.T) {
	res := hardCallLoss(t, recorder.LayoutDual, 0)
	data := res[0].data
	path := writeTemp(t, "call.opus", data)
	ref := opusdec(t, path)

	out := filepath.Join(t.TempDir(), "export.wav")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.Open(path)
	info, err := recorder.ExportWAV(src, f)
	src.Close()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := readWAV(t, out)
	if got.channels != 2 || len(got.samples[0]) != len(ref.samples[0]) || info.Channels != 2 {
		t.Fatalf("export: %d channels, %d samples; opusdec %d", got.channels, len(got.samples[0]), len(ref.samples[0]))
	}
	// SNR of pion/opus against libopus over the 20 ms blocks where both
	// decode real packets: fillers are skipped, and so are the 300 ms after
	// one, while libopus's concealment state converges back.
	for c, name := range []string{"left", "right"} {
		var sig, noise float64
		blocks, since := 0, 0
		for ms := 0; ms+20 < int(info.Duration/time.Millisecond); ms += 20 {
			a := span(got, c, time.Duration(ms)*time.Millisecond, time.Duration(ms+20)*time.Millisecond)
			b := span(ref, c, time.Duration(ms)*time.Millisecond, time.Duration(ms+20)*time.Millisecond)
			since++
			if rms(a) == 0 { // a filler: pion/opus gives silence, libopus conceals
				since = 0
			}
			if since < 15 {
				continue
			}
			blocks++
			for i := range a {
				sig += b[i] * b[i]
				noise += (a[i] - b[i]) * (a[i] - b[i])
			}
		}
		snr := 10 * math.Log10(sig/noise)
		t.Logf("%s: pion/opus vs libopus SNR %.1f dB over %d blocks", name, snr, blocks)
		if blocks < 20 || snr < 20 {
			t.Errorf("%s channel: export differs from libopus: SNR %.1f dB over %d blocks", name, snr, blocks)
		}
	}
}
