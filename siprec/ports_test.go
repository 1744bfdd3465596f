package siprec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/siprec"
)

// freeRange returns lo such that ports lo..lo+n-1 are free on 127.0.0.1
// (nothing holds them once it returns), below the kernel's ephemeral range
// so that no socket bound to port 0 (this test's senders, other tests)
// takes one of them meanwhile.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	top := 32768 // Linux's default ip_local_port_range starts there
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 10000+n {
				top = v
			}
		}
	}
	for range 50 {
		lo := 10000 + rand.IntN(top-10000-n)
		ok := true
		var held []*net.UDPConn
		for p := lo; p < lo+n && ok; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			ok = err == nil
			if ok {
				held = append(held, c)
			}
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return lo
		}
	}
	t.Fatalf("no %d consecutive free UDP ports", n)
	return 0
}

// portFree reports whether a UDP socket can be bound on port (the server
// closed its own).
func portFree(port int) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// streamGoroutines counts the goroutines feeding a leg from a pulled
// source (one per stream before Opus streams moved to the shared reader).
func streamGoroutines(t *testing.T) int {
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "recorder.(*Leg).Consume(")
}

// TestOpusStreamsOnSharedReader: Opus streams take ports of the range and
// are read without a goroutine each (a G.711 stream keeps one, for its
// transcoder); their audio is recorded; BYE closes a session's ports and
// Close the others'.
func TestOpusStreamsOnSharedReader(t *testing.T) {
	log, store := audittest.NewLog("siprec-test", nil), &recordertest.MemStore{}
	svc, err := consentrec.Open(t.Context(), consentrec.DataDir{}, consentrec.Options{
		Policy: &policy.Policy{Name: "siprec-test", Profile: policy.ProfileFR,
			Rules: []policy.Rule{{Purpose: policy.Quality, Mode: policy.ModeSampling, Rate: 0.2}}},
		Key: []byte("0123456789abcdef0123456789abcdef"), Log: log, Store: store, Catalog: retention.NewMemCatalog(),
		SubjectSecret: []byte("subject-secret")})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	lo := freeRange(t, 4)
	srv := &siprec.Server{Service: svc, NoticeBySRC: true, RTPPorts: [2]int{lo, lo + 3}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go srv.ServeUDP(pc)
	closed := false
	defer func() {
		if !closed {
			srv.Close(context.Background())
		}
	}()
	addr := pc.LocalAddr().(*net.UDPAddr)

	// A recorded session, both streams Opus.
	c1 := newClient(t, addr, "shared-1@test")
	ct, body := multipartBody(offerSDP("sendonly", "opus", "opus"), fmt.Sprintf(metadataXML, sampledID(t, svc)))
	code, sdp, reason := c1.do("INVITE", ct, body)
	if code != 200 {
		t.Fatalf("INVITE: %d %s", code, reason)
	}
	ps1 := ports(t, sdp)
	if fmt.Sprint(ps1) != fmt.Sprint(srv.Ports("shared-1@test")) {
		t.Fatalf("answer's ports %v, Server.Ports %v", ps1, srv.Ports("shared-1@test"))
	}
	for _, p := range ps1 {
		if p < lo || p > lo+3 {
			t.Fatalf("port %d outside the range %d-%d", p, lo, lo+3)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stream(t, ps1[0], "opus", 11, stop, &wg)
	stream(t, ps1[1], "opus", 12, stop, &wg)
	waitFor(t, "capture", func() bool { return len(log.OfKind(audit.KindRecordingStarted)) == 1 })
	if n := streamGoroutines(t); n != 0 {
		t.Fatalf("%d goroutines consuming streams for two Opus streams, want none", n)
	}

	// A second session, Opus and G.711 (not recorded: its id is not sampled).
	c2 := newClient(t, addr, "shared-2@test")
	ct, body = multipartBody(offerSDP("sendonly", "opus", "PCMU"), fmt.Sprintf(metadataXML, "not-sampled-1"))
	if policy.DrawFraction(svc.Engine().Draw(0, "not-sampled-1")) < 0.2 {
		t.Fatal("test id is sampled: pick another")
	}
	if code, sdp, reason = c2.do("INVITE", ct, body); code != 200 {
		t.Fatalf("second INVITE: %d %s", code, reason)
	}
	ps2 := ports(t, sdp)
	// The INVITE handler starts the G.711 stream's consumer: a goroutine
	// not yet scheduled shows no Consume frame, so wait until it runs.
	waitFor(t, "the G.711 stream's consumer", func() bool { return streamGoroutines(t) >= 1 })
	if n := streamGoroutines(t); n != 1 {
		t.Fatalf("%d goroutines consuming streams for three Opus and one G.711 stream, want 1 (G.711's)", n)
	}
	// The range (4 ports) is full: a third session is refused.
	c3 := newClient(t, addr, "shared-3@test")
	ct, body = multipartBody(offerSDP("sendonly", "opus", "opus"), fmt.Sprintf(metadataXML, "third-1"))
	if code, _, reason = c3.do("INVITE", ct, body); code < 500 || !strings.Contains(reason, "no free RTP port") {
		t.Fatalf("INVITE beyond the port range: %d %s, want a 5xx: no free RTP port", code, reason)
	}

	// Audio flows into the recording; BYE closes the first session's ports.
	waitFor(t, "audio written", func() bool {
		ms, _ := store.List(context.Background())
		return len(ms) == 1 && len(store.Bytes(ms[0].ID)) > 8192
	})
	close(stop)
	wg.Wait()
	if code, _, _ := c1.do("BYE", "", nil); code != 200 {
		t.Fatalf("BYE: %d", code)
	}
	waitFor(t, "BYE to close the ports", func() bool { return portFree(ps1[0]) && portFree(ps1[1]) })
	waitFor(t, "catalogue", func() bool { return len(log.OfKind(audit.KindRecordingCatalogued)) == 1 })
	ms, _ := store.List(context.Background())
	m, _ := store.Stat(context.Background(), ms[0].ID)
	for _, l := range m.Legs {
		if l.Packets < 10 {
			t.Fatalf("leg %s: %d packets written", l.Role, l.Packets)
		}
	}
	for _, p := range ps2 {
		if portFree(p) {
			t.Fatalf("port %d of a session in progress is free", p)
		}
	}
	// Close (the CLI's shutdown) closes the others.
	closed = true
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps2 {
		if !portFree(p) {
			t.Fatalf("port %d still held after Close", p)
		}
	}
	if n := streamGoroutines(t); n != 0 {
		t.Fatalf("%d stream goroutines after Close", n)
	}
}
