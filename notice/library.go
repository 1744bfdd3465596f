package notice

import (
	"fmt"
	"strings"
	"sync"

	"github.com/consentrec/consentrec/policy"
)

// Library holds the prompts of a deployment, keyed by language and
// jurisdiction profile. Its zero value is empty and ready to use; it is safe
// for concurrent use.
type Library struct {
	// Fallback is the language used when a call's language has no prompt
	// (e.g. "en"). Empty means no fallback: Select returns ErrNoPrompt.
	Fallback string

	mu      sync.RWMutex
	prompts map[libKey]*Prompt
}

type libKey struct {
	lang    string
	profile policy.Profile
}

// Add registers p for language lang (a BCP 47 tag such as "fr" or "fr-CA",
// compared case-insensitively) and profile. The profile policy.ProfileUnknown
// ("") registers p for every profile that has no prompt of its own. Adding
// again for the same language and profile replaces the prompt.
func (l *Library) Add(lang string, profile policy.Profile, p *Prompt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.prompts == nil {
		l.prompts = make(map[libKey]*Prompt)
	}
	l.prompts[libKey{normLang(lang), profile}] = p
}

// Select returns the prompt for a call in language lang under profile. It
// tries, in order: the exact language, then its base language ("fr" for
// "fr-CA"), each first with the call's profile and then with the
// any-profile entry; then the same for Library.Fallback. It returns an error
// wrapping ErrNoPrompt when nothing matches.
func (l *Library) Select(lang string, profile policy.Profile) (*Prompt, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, lg := range []string{lang, l.Fallback} {
		if lg == "" {
			continue
		}
		lg = normLang(lg)
		cands := []string{lg}
		if base, _, ok := strings.Cut(lg, "-"); ok {
			cands = append(cands, base)
		}
		for _, c := range cands {
			for _, pr := range []policy.Profile{profile, policy.ProfileUnknown} {
				if p, ok := l.prompts[libKey{c, pr}]; ok {
					return p, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("notice: select prompt for language %q, profile %q: %w", lang, profile, ErrNoPrompt)
}

func normLang(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"))
}
