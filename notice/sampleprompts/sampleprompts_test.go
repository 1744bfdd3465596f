package sampleprompts_test

import (
	"fmt"
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

func ExampleLibrary() {
	lib, err := sampleprompts.Library()
	if err != nil {
		panic(err)
	}
	p, _ := lib.Select("de-DE", policy.ProfileDE)
	fmt.Println(p.Name(), p.Format())
	// Output: notice-de.mp3 mp3
}
