package recorder_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/recorder"
)

// exportPCM decodes an Ogg Opus file with ExportWAV and returns its samples.
func exportPCM(t *testing.T, data []byte) *wav {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pcm.wav")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recorder.ExportWAV(bytes.NewReader(data), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return readWAV(t, out)
}

// TestExtractLeg (R29): each leg of a dual-channel recording comes out as
// a mono Ogg Opus file holding the very same packets (no transcoding: it
// decodes to exactly the samples of that channel), with the same pre-skip,
// granules and length, and the other leg nowhere in it.
func TestExtractLeg(t *testing.T) {
	data := hardCallLoss(t, recorder.LayoutDual, 0)[0].data
	in, err := recorder.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	pcm := exportPCM(t, data)
	for ch, role := range in.Roles() {
		var out bytes.Buffer
		info, err := recorder.ExtractLeg(bytes.NewReader(data), &out, role)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		got, err := recorder.Inspect(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("%s: output does not inspect: %v", role, err)
		}
		if got.SHA256 != info.SHA256 || got.Size != int64(out.Len()) {
			t.Errorf("%s: returned Info %s/%d, output %s/%d", role, info.SHA256, info.Size, got.SHA256, out.Len())
		}
		if got.Channels != 1 || got.Family != 0 || got.Streams != 1 || got.PreSkip != in.PreSkip ||
			got.Granule != in.Granule || got.Duration != in.Duration || got.Packets != in.Packets || !got.EOS {
			t.Errorf("%s: output %+v, input %+v", role, got, in)
		}
		if got.Tag("LEG") != string(role) || got.Tag("LEFT") != "" || got.Tag("RIGHT") != "" ||
			got.Tag("CONSENTREC_LAYOUT") != "mono" || got.Tag("CONSENTREC_CALL_ID") != in.Tag("CONSENTREC_CALL_ID") {
			t.Errorf("%s: tags %q", role, got.Tags)
		}
		mono := exportPCM(t, out.Bytes())
		if mono.channels != 1 || !slices.Equal(mono.samples[0], pcm.samples[ch]) {
			t.Errorf("%s: decodes to other samples than channel %d of the call (%d vs %d samples)",
				role, ch, len(mono.samples[0]), len(pcm.samples[ch]))
		}
		if slices.Equal(mono.samples[0], pcm.samples[1-ch]) {
			t.Errorf("%s: holds the other leg", role)
		}
	}
}

// TestExtractLegOpusinfo: opusinfo (libopus's tools) accepts the output.
func TestExtractLegOpusinfo(t *testing.T) {
	data := hardCallLoss(t, recorder.LayoutDual, 0.05)[0].data
	var out bytes.Buffer
	if _, err := recorder.ExtractLeg(bytes.NewReader(data), &out, recorder.Customer); err != nil {
		t.Fatal(err)
	}
	in, _ := recorder.Inspect(bytes.NewReader(data))
	info := opusinfo(t, writeTemp(t, "customer.opus", out.Bytes()))
	if d := opusinfoLength(t, info) - in.Duration; d < -10e6 || d > 10e6 {
		t.Errorf("opusinfo length %v, input %v", opusinfoLength(t, info), in.Duration)
	}
}

func TestExtractLegErrors(t *testing.T) {
	data := hardCallLoss(t, recorder.LayoutDual, 0)[0].data
	var out bytes.Buffer
	if _, err := recorder.ExtractLeg(bytes.NewReader(data), &out, "supervisor"); !errors.Is(err, recorder.ErrNoLeg) {
		t.Errorf("unknown leg: %v", err)
	}
	// opusenc's file: mono, no LEG tag.
	speech, _ := os.ReadFile("../testdata/speech.opus")
	if _, err := recorder.ExtractLeg(bytes.NewReader(speech), &out, recorder.Customer); !errors.Is(err, recorder.ErrNoLeg) {
		t.Errorf("untagged mono: %v", err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	if _, err := recorder.ExtractLeg(bytes.NewReader(bad), &out, recorder.Customer); !errors.Is(err, recorder.ErrFormat) {
		t.Errorf("damaged: %v", err)
	}
	// A mono recording of the customer re-muxes as is (same samples).
	mono := hardCallLoss(t, recorder.LayoutMono, 0)[0].data
	out.Reset()
	if _, err := recorder.ExtractLeg(bytes.NewReader(mono), &out, recorder.Customer); err != nil {
		t.Fatalf("mono customer: %v", err)
	}
	if a, b := exportPCM(t, mono), exportPCM(t, out.Bytes()); !slices.Equal(a.samples[0], b.samples[0]) {
		t.Error("mono re-mux decodes differently")
	}
}

func FuzzExtractLeg(f *testing.F) {
	// The dual-channel seed is testdata/fuzz/FuzzExtractLeg/dual (a call
	// of hardCallLoss, 5 % loss).
	speech, _ := os.ReadFile("../testdata/speech.opus")
	f.Add(speech, false)
	f.Fuzz(func(t *testing.T, b []byte, customer bool) {
		fixPageCRCs(b) // so that mutations reach past the page checksums
		role := recorder.Agent
		if customer {
			role = recorder.Customer
		}
		var out bytes.Buffer
		info, err := recorder.ExtractLeg(bytes.NewReader(b), &out, role)
		if err != nil {
			return
		}
		got, err := recorder.Inspect(bytes.NewReader(out.Bytes()))
		if err != nil || got.Channels != 1 || got.SHA256 != info.SHA256 {
			t.Fatalf("output %+v, %v", got, err)
		}
	})
}

// BenchmarkExtractLeg: re-muxing one leg of a call of about 3 s.
func BenchmarkExtractLeg(b *testing.B) {
	raw, err := os.ReadFile("testdata/fuzz/FuzzExtractLeg/dual")
	if err != nil {
		b.Fatal(err)
	}
	data := corpusBytes(b, raw)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := recorder.ExtractLeg(bytes.NewReader(data), io.Discard, recorder.Customer); err != nil {
			b.Fatal(err)
		}
	}
}

// corpusBytes returns the []byte value of a fuzz corpus file.
func corpusBytes(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	lines := bytes.SplitN(raw, []byte("\n"), 3)
	s := string(lines[1])
	s = strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")
	v, err := strconv.Unquote(s)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(v)
}

// fixPageCRCs rewrites the checksum of every whole Ogg page of b found
// where the previous one ends.
func fixPageCRCs(b []byte) {
	for off := 0; off+27 <= len(b) && string(b[off:off+4]) == "OggS"; {
		nseg := int(b[off+26])
		if off+27+nseg > len(b) {
			return
		}
		n := 27 + nseg
		for _, l := range b[off+27 : off+27+nseg] {
			n += int(l)
		}
		if off+n > len(b) {
			return
		}
		page := b[off : off+n]
		clear(page[22:26])
		crc := recorder.CRCBytewise(0, page)
		page[22], page[23], page[24], page[25] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
		off += n
	}
}
