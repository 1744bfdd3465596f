// Command widget is a WebRTC support widget, the example to copy: a Go
// server (pion) and a page with a "Call support" button. The server answers,
// plays the notice, lets the policy decide (10 % sampling, or the agent's
// record button), records both sides to a dual-channel Ogg Opus file and
// shows a recording indicator on the page. The page has an "I object"
// button and a keypad sending DTMF (RFC 4733). Recordings and the audit log
// land in the data directory. Nothing to install beyond Go:
//
//	go run ./examples/widget [-addr 127.0.0.1:8080] [-data DIR]
//
// then open http://127.0.0.1:8080 in a browser on the same machine.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `ADDR` (loopback: the demo's WebRTC uses loopback only)")
	data := flag.String("data", "widget-data", "data `DIR` (audit log, recordings, keys)")
	pol := flag.String("policy", "", "policy `FILE` (default: 10% quality sampling + agent record button)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *data, *pol); err != nil {
		fmt.Fprintln(os.Stderr, "widget:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, data, policyFile string) error {
	dir := consentrec.DataDir{Root: data}
	srv, log, err := open(ctx, dir, policyFile)
	if err != nil {
		return err
	}
	defer log.Close()
	hs := &http.Server{Addr: addr, Handler: srv.Handler()}
	go func() {
		<-ctx.Done()
		srv.Close()
		_ = hs.Close()
	}()
	fmt.Printf("support widget on http://%s (data in %s)\n", addr, data)
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// open opens the data directory's audit log and recordings store and
// returns the server. The caller closes the log.
func open(ctx context.Context, dir consentrec.DataDir, policyFile string) (*Server, *audit.FileLog, error) {
	if err := os.MkdirAll(dir.Keys(), 0o700); err != nil {
		return nil, nil, err
	}
	key, err := samplingKey(filepath.Join(dir.Keys(), "sampling.key"))
	if err != nil {
		return nil, nil, err
	}
	var p *policy.Policy
	if policyFile != "" {
		b, err := os.ReadFile(policyFile)
		if err != nil {
			return nil, nil, err
		}
		if p, err = policy.Parse(b); err != nil {
			return nil, nil, err
		}
	}
	store, err := recorder.NewFileStore(dir.Recordings())
	if err != nil {
		return nil, nil, err
	}
	log, err := audit.OpenDir(ctx, dir.Root, audit.Options{})
	if err != nil {
		return nil, nil, err
	}
	srv, err := NewServer(Config{Policy: p, SamplingKey: key, Store: store, Log: log,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	return srv, log, nil
}

// samplingKey reads the sampling secret, creating it on first use.
func samplingKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, 32)
		_, _ = rand.Read(b)
		return b, os.WriteFile(path, b, 0o600)
	}
	return b, err
}
