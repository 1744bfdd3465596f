package pgcatalog

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseDSN: ParseDSN never panics, and a refused DSN gives an error
// wrapping ErrBadDSN that never repeats the DSN (it may hold a password).
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{
		"postgres://u:pw@127.0.0.1:5432/db?sslmode=disable&search_path=a",
		"host=127.0.0.1 port=5432 user=u password=pw dbname=db", "postgres://[::1", "port=x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ParseDSN(s)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrBadDSN) {
			t.Fatalf("ParseDSN(%q) = %v, not wrapping ErrBadDSN", s, err)
		}
		if len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q repeats the DSN", err)
		}
	})
}
