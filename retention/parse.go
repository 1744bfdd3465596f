package retention

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/consentrec/consentrec/internal/atomicfile"
	"github.com/consentrec/consentrec/policy"
)

// ParseTime reads an instant for a sweep or a forecast, relative to now:
//
//	""  or "now"                  now
//	2026-07-01                    midnight UTC that day
//	2026-07-01T10:00:00           that time, UTC
//	2026-07-01T10:00:00+02:00     RFC 3339 (fractions of a second allowed)
//	+P30D, +P6M, +P1Y2M           now plus a calendar period (ISO 8601)
//	+72h, +90m                    now plus a duration (Go syntax)
//
// Anything else, or an instant a catalog cannot hold (before 1678 or after
// 2262), is an error wrapping ErrInvalid. The result is in UTC.
func ParseTime(s string, now time.Time) (time.Time, error) {
	t, err := parseTime(s, now)
	if err != nil {
		return t, err
	}
	if err := validInstant("time", t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "now":
		return now.UTC(), nil
	case strings.HasPrefix(s, "+P") || strings.HasPrefix(s, "+p"):
		var p policy.Period
		if err := p.UnmarshalText([]byte(s[1:])); err != nil {
			return time.Time{}, invalid("time", "%q: %v", s, err)
		}
		return p.AddTo(now.UTC()), nil
	case strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return time.Time{}, invalid("time", "%q: not a duration such as +72h", s)
		}
		return now.UTC().Add(d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid("time", "%q: want 2006-01-02, an RFC 3339 time, +P30D or +72h", s)
}

// SubjectKeyFile is the file, in a data directory's keys folder, holding the
// secret of policy.SubjectKey: the key that turns a phone number or customer
// id into the subject key the catalog and the audit log know.
const SubjectKeyFile = "subject-hash.key"

// SubjectSecret returns the subject-hash secret kept in keysDir, creating a
// random 32-byte one (mode 0600) if create is true and there is none. Without
// create, a missing file is an error wrapping fs.ErrNotExist.
func SubjectSecret(keysDir string, create bool) ([]byte, error) {
	// The secret appears whole or not at all, never over another one, and
	// survives a crash: subject keys derived from a lost secret would match
	// no one's requests.
	b, err := atomicfile.Secret(filepath.Join(keysDir, SubjectKeyFile), create)
	if err != nil {
		return nil, fmt.Errorf("subject secret: %w", err)
	}
	return b, nil
}
