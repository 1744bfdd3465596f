package sampleprompts_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/consentrec/consentrec/notice/sampleprompts"
	"github.com/consentrec/consentrec/policy"
)

func TestLibrary(t *testing.T) {
	lib, err := sampleprompts.Library()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang    string
		profile policy.Profile
		want    string
	}{
		{"en-US", policy.ProfileUSAllParty, "notice-en.mp3"},
		{"fr-FR", policy.ProfileFR, "notice-fr.mp3"},
		{"fr", policy.ProfileDE, "notice-de.mp3"},
		{"de-AT", "", "notice-de.mp3"},
		{"it", policy.ProfileFR, "notice-en.mp3"},
	} {
		p, err := lib.Select(tc.lang, tc.profile)
		if err != nil || p.Name() != tc.want {
			t.Errorf("Select(%s, %s) = %v, %v; want %s", tc.lang, tc.profile, p, err, tc.want)
		}
		if p != nil && (p.Duration() < 2*time.Second || p.Duration() > 10*time.Second) {
			t.Errorf("%s lasts %v", p.Name(), p.Duration())
		}
	}
	if _, err := sampleprompts.Greeting(); err != nil {
		t.Fatal(err)
	}
	if _, err := sampleprompts.Load("nope.mp3"); err == nil {
		t.Fatal("Load of a missing prompt succeeded")
	}
}

func TestRecordingNow(t *testing.T) {
	lib, err := sampleprompts.RecordingNow()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang    string
		profile policy.Profile
		want    string
	}{
		{"en-GB", policy.ProfileUK, "recording-now-en.mp3"},
		{"fr-FR", policy.ProfileFR, "recording-now-fr.mp3"},
		{"de", policy.ProfileDE, "recording-now-de.mp3"},
		{"it", "", "recording-now-en.mp3"},
	} {
		p, err := lib.Select(tc.lang, tc.profile)
		if err != nil || p.Name() != tc.want {
			t.Fatalf("Select(%s, %s) = %v, %v; want %s", tc.lang, tc.profile, p, err, tc.want)
		}
		// Short, and speech: a clear level over at least half of it.
		if p.Duration() < time.Second || p.Duration() > 3*time.Second {
			t.Errorf("%s lasts %v, want a short announcement", p.Name(), p.Duration())
		}
		pcm, win := p.PCM(), p.SampleRate()/50
		loud, frames := 0, 0
		for off := 0; off+win <= len(pcm); off += win {
			var e float64
			for _, v := range pcm[off : off+win] {
				e += float64(v) * float64(v)
			}
			frames++
			if math.Sqrt(e/float64(win)) > 32768*math.Pow(10, -35.0/20) {
				loud++
			}
		}
		if frames == 0 || loud*2 < frames {
			t.Errorf("%s: %d of %d 20 ms frames above -35 dBFS: not speech", p.Name(), loud, frames)
		}
	}
}

func ExampleRecordingNow() {
	lib, err := sampleprompts.RecordingNow()
	if err != nil {
		panic(err)
	}
	p, _ := lib.Select("fr-BE", policy.ProfileFR)
	fmt.Println(p.Name(), p.Duration().Round(100*time.Millisecond))
	// Output: recording-now-fr.mp3 1.9s
}

func ExampleLibrary() {
	lib, err := sampleprompts.Library()
	if err != nil {
		panic(err)
	}
	p, _ := lib.Select("de-DE", policy.ProfileDE)
	fmt.Println(p.Name(), p.Format())
	// Output: notice-de.mp3 mp3
}
