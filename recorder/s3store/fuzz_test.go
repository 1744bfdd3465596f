package s3store

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL: ParseURL never panics; an accepted URL gives a Config that
// passes check (bucket, region, spool, part size) with an http(s) endpoint
// without credentials; a refused one wraps ErrConfig and never repeats a
// password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://recs/site-a?endpoint=http://127.0.0.1:7070&spool=/var/spool/cr",
		"s3://recs?spool=/x&part_size=5242880&create_bucket=1&virtual_hosted=false&region=eu-west-3",
		"s3://k:pw@recs?spool=/x", "s3://recs?spool=/x&endpoint=http://u:pw@h", "s3://recs?spool=/x&part_size=-1",
		"s3:///?spool=", "s3://b/%2F?spool=/x", "http://b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseURL(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("ParseURL(%q) = %v, not wrapping ErrConfig", s, err)
			}
			if u, perr := url.Parse(s); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), pw) {
					t.Fatalf("error %q repeats the password", err)
				}
			}
			return
		}
		if cerr := c.check(); cerr != nil {
			t.Fatalf("ParseURL(%q) accepted %+v, which check refuses: %v", s, c, cerr)
		}
		if c.Endpoint != "" {
			e, perr := url.Parse(c.Endpoint)
			if perr != nil || e.User != nil || (e.Scheme != "http" && e.Scheme != "https") {
				t.Fatalf("ParseURL(%q) accepted endpoint %q", s, c.Endpoint)
			}
		}
		if c.AccessKey != "" || c.SecretKey != "" {
			t.Fatalf("credentials taken from a URL: %q", s)
		}
	})
}
