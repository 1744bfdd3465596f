// Command widget is a WebRTC support widget, the example to copy: a Go
// server (pion) with two pages. The customer's widget (/) calls support,
// shows whether the call is recorded, links to the privacy notice, and has
// an "I object" button and a keypad (RFC 4733 DTMF). The agent console
// (/agent) records, stops, and pauses for card data. Everything about
// consent and recording is done by a consentrec.Service: the policy decides
// (10 % sampling, or the agent's record button), the notice plays first,
// objections purge, both sides land in a dual-channel Ogg Opus file that is
// catalogued and audited at hang-up. Nothing to install beyond Go:
//
//	go run ./examples/widget [-addr 127.0.0.1:8080] [-data DIR] [-profile DE]
//
// then open http://127.0.0.1:8080 (customer) and http://127.0.0.1:8080/agent
// (agent console) in a browser on the same machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/opusprompt"
	"github.com/consentrec/consentrec/policy"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `ADDR` (loopback: the demo's WebRTC uses loopback only)")
	data := flag.String("data", defaultData(), "data `DIR` (audit log, recordings, catalog, keys); default $CONSENTREC_DATA, else ./consentrec-data")
	pol := flag.String("policy", "", "policy `FILE` (default: 10% quality sampling + agent record button)")
	profile := flag.String("profile", "", "jurisdiction `PROFILE` of the site (FR, DE, UK, ...); default: the policy's")
	privacy := flag.String("privacy-url", "", "`URL` of your privacy notice (default: the sample at /privacy)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *data, *pol, policy.Profile(*profile), *privacy); err != nil {
		fmt.Fprintln(os.Stderr, "widget:", err)
		os.Exit(1)
	}
}

// defaultData is the project's one default data location, the same as the
// consentrec CLI's: $CONSENTREC_DATA, else ./consentrec-data.
func defaultData() string {
	if d := os.Getenv("CONSENTREC_DATA"); d != "" {
		return d
	}
	return filepath.Join(".", "consentrec-data")
}

// Options are the Service options the widget needs: Opus prompts, 9 to
// object and 1 to consent (the sample notices say so), a beep every 15 s.
func Options(p *policy.Policy, logger *slog.Logger) consentrec.Options {
	return consentrec.Options{Policy: p, Encoders: opusprompt.Encoders, Keys: notice.Keys{Object: '9', Consent: '1'},
		Beep: 15 * time.Second, Logger: logger}
}

func run(ctx context.Context, addr, data, policyFile string, profile policy.Profile, privacyURL string) error {
	src := []byte(DemoPolicy)
	if policyFile != "" {
		b, err := os.ReadFile(policyFile)
		if err != nil {
			return err
		}
		src = b
	}
	p, err := policy.Parse(src)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	svc, err := consentrec.Open(ctx, consentrec.DataDir{Root: data}, Options(p, logger))
	if err != nil {
		return err
	}
	srv, err := NewServer(Config{Service: svc, Profile: profile, PrivacyURL: privacyURL, Logger: logger})
	if err != nil {
		return errors.Join(err, svc.Close())
	}
	hs := &http.Server{Addr: addr, Handler: srv.Handler()}
	go func() {
		<-ctx.Done()
		srv.Close()
		_ = hs.Close()
	}()
	fmt.Printf("support widget on http://%s (customer) and http://%s/agent (agent console); data in %s\n", addr, addr, data)
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(err, svc.Close())
	}
	return svc.Close()
}
