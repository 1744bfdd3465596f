package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
)

func TestCleanLang(t *testing.T) {
	for in, want := range map[string]string{
		"fr-CA": "fr-CA", "de": "de", "": "", "en_US": "", "../../etc": "", "fr\"><script>": "",
		strings.Repeat("a", 36): "",
	} {
		if got := cleanLang(in); got != want {
			t.Errorf("cleanLang(%q) = %q, want %q", in, got, want)
		}
	}
}

func newTestServer(t *testing.T, profile policy.Profile) *httptest.Server {
	t.Helper()
	pol, err := policy.Parse([]byte(e2ePolicy))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := consentrec.Open(t.Context(), consentrec.DataDir{Root: t.TempDir()}, Options(pol, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv, err := NewServer(Config{Service: svc, Profile: profile, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Close)
	return hs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestPagesServed: both pages and their assets are served; the site's
// profile and privacy link are in the customer's page (escaped), never
// asked of the customer.
func TestPagesServed(t *testing.T) {
	hs := newTestServer(t, policy.ProfileDE)
	code, body := get(t, hs.URL+"/")
	if code != http.StatusOK || !strings.Contains(body, `data-profile="DE"`) || !strings.Contains(body, `href="/privacy"`) {
		t.Errorf("customer page: %d\n%s", code, body)
	}
	if strings.Contains(body, "<select") {
		t.Errorf("the customer's page asks the customer to choose something")
	}
	for _, p := range []string{"/agent", "/privacy", "/static/customer.js", "/static/agent.js", "/static/style.css"} {
		if code, _ := get(t, hs.URL+p); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
}

// TestBadRequests: a bad offer and an action on an unknown call are
// refused with a clear status, never a panic.
func TestBadRequests(t *testing.T) {
	hs := newTestServer(t, "")
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/offer", "not json", http.StatusBadRequest},
		{"/offer", `{"sdp": ""}`, http.StatusBadRequest},
		{"/offer", `{"sdp": "v=0 garbage", "lang": "fr"}`, http.StatusInternalServerError},
		{"/agent/calls/call-nope/record", "", http.StatusNotFound},
	} {
		res, err := http.Post(hs.URL+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("POST %s %q: %d, want %d", c.path, c.body, res.StatusCode, c.want)
		}
	}
}
