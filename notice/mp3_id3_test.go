package notice_test

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/consentrec/consentrec/notice"
)

// allocated returns the bytes allocated by f.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Issue 18 item 8: FuzzLoadMP3 ran 7-13 inputs in 45 s. An ID3v2 header
// declaring a tag of up to 512 MiB made the MP3 decoder allocate (and
// zero) that much before finding the file 10 bytes long. The tag's size is
// now checked against the input first: work is bounded by the input.
func TestLoadMP3OversizedID3Tag(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("ID3\x04\x00\x00\xff\xff\xff\xff"),         // not syncsafe: the decoder read 512 MiB
		[]byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f\xff\xfb"), // syncsafe, 256 MiB, past the end
		[]byte("ID3\x03\x00\x00\x00\x00\x02\x00"),         // 256 bytes, past the end
	} {
		var err error
		n := allocated(func() { _, err = notice.LoadMP3("x", bytes.NewReader(in)) })
		if !errors.Is(err, notice.ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", in, err)
		}
		if n > 1<<20 {
			t.Errorf("%q: %d bytes allocated for a %d-byte input", in, n, len(in))
		}
	}
}

// A valid ID3v2 tag (with its footer) before the audio is skipped.
func TestLoadMP3WithID3Tag(t *testing.T) {
	mp3, err := os.ReadFile("testdata/notice-fr.mp3")
	if err != nil {
		t.Fatal(err)
	}
	want, err := notice.LoadMP3("x", bytes.NewReader(mp3))
	if err != nil {
		t.Fatal(err)
	}
	tag := append([]byte("ID3\x04\x00\x10\x00\x00\x01\x00"), make([]byte, 128)...) // footer flag, 128 bytes
	tag = append(tag, []byte("3DI\x04\x00\x10\x00\x00\x01\x00")...)
	tag = append(tag, []byte("ID3\x03\x00\x00\x00\x00\x00\x05abcde")...) // a second tag
	got, err := notice.LoadMP3("x", bytes.NewReader(append(tag, mp3...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.PCM()) != len(want.PCM()) {
		t.Fatalf("%d samples with the tags, %d without", len(got.PCM()), len(want.PCM()))
	}
}
