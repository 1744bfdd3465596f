package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// SubjectKey returns the pseudonymous key of a data subject: a keyed hash
// (HMAC-SHA-256) of their identifier (a phone number or customer id), so that
// catalogs and audit logs can find "all recordings of X" (R29) without ever
// holding X in clear. Phone numbers are normalised (spaces, dots, dashes and
// parentheses removed) so "+33 1 23 45 67 89" and "+33123456789" match.
// The result is "sk1:" followed by 64 hex digits. Keep secret apart from the
// data: without it, keys cannot be linked back to identifiers.
func SubjectKey(secret []byte, id string) string {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r == ' ', r == '.', r == '-', r == '(', r == ')':
			return -1
		case unicode.IsUpper(r):
			return unicode.ToLower(r)
		}
		return r
	}, strings.TrimSpace(id))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("consentrec subject v1\x00"))
	m.Write([]byte(norm))
	return "sk1:" + hex.EncodeToString(m.Sum(nil))
}
