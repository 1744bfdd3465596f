package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/siprec"
)

func init() {
	register(&command{name: "siprec", args: "--listen ADDR --policy FILE [--rtp-ports LO-HI] [--notice-by-src] [--in-scope] [--agent-domain DOMAIN] --data DIR",
		short: "serve as a SIPREC recording server: any SBC or PBX records through consentrec (RFC 7866)", run: cmdSiprec})
}

// siprecReady, when set (tests), is told the SIP address once the server
// listens, and stops the server when its context is cancelled.
var siprecReady func(addr string, stop context.CancelFunc)

func cmdSiprec(e *env, args []string) (err error) {
	fs := flag.NewFlagSet("siprec", flag.ContinueOnError)
	data := dataFlag(fs)
	listen := fs.String("listen", "127.0.0.1:5070", "SIP `ADDR` to listen on (UDP and TCP)")
	polFile := fs.String("policy", "", "the recording policy `FILE` (JSON)")
	ports := fs.String("rtp-ports", "", "RTP port range `LO-HI` (default: any free port)")
	noticeBySRC := fs.Bool("notice-by-src", true, "the SBC/PBX plays the notice before forking the call (the recorder cannot: its media is receive-only)")
	inScope := fs.Bool("in-scope", false, "every session is in scope of the policy's statute rules (an SBC forking only such calls, e.g. a trading desk)")
	agentDomain := fs.String("agent-domain", "", "participants whose AOR is in `DOMAIN` are agents (default: the second stream is the agent's)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if *polFile == "" {
		return usagef("--policy FILE is required: the recorder records nothing without a policy")
	}
	f, err := openInput(*polFile)
	if err != nil {
		return err
	}
	pol, err := policy.Load(f)
	f.Close()
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return usagef("--listen %q: %v", *listen, err)
	}
	srv := &siprec.Server{Host: host, NoticeBySRC: *noticeBySRC, InScope: *inScope,
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if *ports != "" {
		lo, hi, ok := strings.Cut(*ports, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || l < 1024 || h > 65535 || h < l {
			return usagef("--rtp-ports %q: want LO-HI between 1024 and 65535", *ports)
		}
		srv.RTPPorts = [2]int{l, h}
	}
	if *agentDomain != "" {
		d := strings.ToLower(*agentDomain)
		srv.AgentAOR = func(aor string) bool { return strings.HasSuffix(strings.ToLower(aor), "@"+d) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := consentrec.Options{Policy: pol, Logger: srv.Logger}
	if b, err := loadBackends(*data); err != nil {
		return err
	} else if b.Catalog != "" || b.Recordings != "" {
		// Several recorder nodes: one bucket, one database (backends.json).
		cat, err := openCatalog(ctx, *data)
		if err != nil {
			return err
		}
		defer cat.Close()
		st, closeSt, err := openStore(*data)
		if err != nil {
			return err
		}
		defer closeSt()
		opts.Catalog, opts.Store = cat, st
	}
	// The audit log backends.json names (one shared by several nodes and
	// the CLI), else the data directory's file log; closed after svc.
	lg, err := openAuditLog(ctx, *data)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lg.Close()) }()
	opts.Log = lg
	svc, err := consentrec.Open(ctx, consentrec.DataDir{Root: *data}, opts)
	if err != nil {
		return err
	}
	srv.Service = svc
	udp, err := net.ListenPacket("udp", *listen)
	if err != nil {
		svc.Close()
		return err
	}
	tcp, err := net.Listen("tcp", udp.LocalAddr().String())
	if err != nil {
		udp.Close()
		svc.Close()
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeUDP(udp) }()
	go func() { errc <- srv.ServeTCP(tcp) }()
	fmt.Fprintf(e.stdout, "siprec: listening on %s (UDP and TCP), policy %s (%s), data %s\n", udp.LocalAddr(), pol.Name, svc.Engine().Version(), *data)
	if siprecReady != nil {
		siprecReady(udp.LocalAddr().String(), stop)
	}
	var serr error
	select {
	case <-ctx.Done():
	case serr = <-errc:
	}
	cerr := srv.Close(context.WithoutCancel(ctx)) // hangs up the sessions: finalized, catalogued
	udp.Close()
	tcp.Close()
	if err := errors.Join(serr, cerr, svc.Close()); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	fmt.Fprintln(e.stdout, "siprec: stopped; every session hung up and catalogued")
	return nil
}
