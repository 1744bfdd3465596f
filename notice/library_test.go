package notice_test

import (
	"errors"
	"testing"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
)

func TestLibrarySelect(t *testing.T) {
	mk := func(name string) *notice.Prompt {
		p, err := notice.NewPCMPrompt(name, []int16{int16(len(name))}, 8000)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var l notice.Library
	l.Add("fr", policy.ProfileUnknown, mk("fr"))
	l.Add("FR", policy.ProfileFRInsurance, mk("fr-insurance"))
	l.Add("de", policy.ProfileDE, mk("de-optin"))
	l.Add("en", "", mk("en"))
	l.Add("en_GB", policy.ProfileUK, mk("en-gb-uk"))
	for _, tc := range []struct {
		lang    string
		profile policy.Profile
		want    string
	}{
		{"fr", policy.ProfileFR, "fr"},
		{"fr-CA", policy.ProfileFR, "fr"},
		{"fr", policy.ProfileFRInsurance, "fr-insurance"},
		{"fr-FR", policy.ProfileFRInsurance, "fr-insurance"},
		{"de-AT", policy.ProfileDE, "de-optin"},
		{"en-gb", policy.ProfileUK, "en-gb-uk"},
		{"en-GB", policy.ProfileFR, "en"},
		{"en-US", policy.ProfileUSAllParty, "en"},
	} {
		p, err := l.Select(tc.lang, tc.profile)
		if err != nil || p.Name() != tc.want {
			t.Errorf("Select(%q, %q) = %v, %v; want %s", tc.lang, tc.profile, p, err, tc.want)
		}
	}
	// German without the opt-in profile has no prompt, and no fallback is set.
	if _, err := l.Select("de", policy.ProfileFR); !errors.Is(err, notice.ErrNoPrompt) {
		t.Errorf("Select(de, FR) err = %v, want ErrNoPrompt", err)
	}
	l.Fallback = "en"
	if p, err := l.Select("it", policy.ProfileFR); err != nil || p.Name() != "en" {
		t.Errorf("Select(it) with fallback = %v, %v; want en", p, err)
	}
}
