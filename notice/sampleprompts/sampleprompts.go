// Package sampleprompts holds sample notices, synthetic speech made with
// espeak-ng, for demos, examples and tests: English and French notices
// (notice and right to object) and a German opt-in notice (press 1 to
// agree, 9 to refuse), an agent greeting, and the short announcement
// played when a recording starts mid-call ("this call is now being
// recorded", R17) in English, French and German. Record your own notices for
// production: the text must name the controller, the purpose, the retention
// and how to object (see the regulation notes, R14).
package sampleprompts

import (
	"embed"
	"fmt"

	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
)

//go:embed *.mp3
var files embed.FS

// Texts of the sample prompts, for pages that show them.
const (
	TextEN       = "This call may be recorded for quality and training. Press 9 or say so to object."
	TextFR       = "Cet appel peut être enregistré. Tapez 9 pour vous y opposer."
	TextDE       = "Dieses Gespräch wird nur mit Ihrer Zustimmung aufgezeichnet. Drücken Sie 1 für ja, 9 für nein."
	TextGreeting = "You are now connected to support. How can I help?"

	TextRecordingNowEN = "This call is now being recorded."
	TextRecordingNowFR = "Cet appel est maintenant enregistré."
	TextRecordingNowDE = "Dieses Gespräch wird jetzt aufgezeichnet."
)

// Load returns the sample prompt of that file name (e.g. "notice-en.mp3").
func Load(name string) (*notice.Prompt, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, fmt.Errorf("sampleprompts: %w", err)
	}
	defer f.Close()
	return notice.LoadMP3(name, f)
}

// Library returns a library of the sample notices: English (the fallback)
// and French for every profile, and the German opt-in notice for German
// callers and for every caller under the DE profile.
func Library() (*notice.Library, error) {
	lib := &notice.Library{Fallback: "en"}
	for _, lang := range []string{"en", "fr", "de"} {
		p, err := Load("notice-" + lang + ".mp3")
		if err != nil {
			return nil, err
		}
		lib.Add(lang, policy.ProfileUnknown, p)
		if lang == "de" {
			for _, l := range []string{"en", "fr", "de"} {
				lib.Add(l, policy.ProfileDE, p)
			}
		}
	}
	return lib, nil
}

// Greeting returns the sample agent greeting.
func Greeting() (*notice.Prompt, error) { return Load("agent-greeting.mp3") }

// RecordingNow returns a library of the announcement played before a
// recording that starts mid-call (the agent's record button after the
// notice, R17): "this call is now being recorded" in English (the
// fallback), French and German (recording-now-LANG.mp3, about 2 s each),
// for every profile.
func RecordingNow() (*notice.Library, error) {
	lib := &notice.Library{Fallback: "en"}
	for _, lang := range []string{"en", "fr", "de"} {
		p, err := Load("recording-now-" + lang + ".mp3")
		if err != nil {
			return nil, err
		}
		lib.Add(lang, policy.ProfileUnknown, p)
	}
	return lib, nil
}
