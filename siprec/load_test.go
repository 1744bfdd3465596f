package siprec_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/rtp"
)

// TestSIPpLoad measures the recording server under N concurrent SIPREC
// calls: the consentrec CLI (`consentrec siprec`, its own process) answers
// SIPp, which places N calls held 20 s each; the test sends both streams of
// every call (Opus, 20 ms) and reads the server's CPU and memory from /proc
// while every call is up. Run it with CONSENTREC_SIPREC_LOAD=N (e.g. 200);
// it is skipped otherwise (it takes about a minute of two cores).
func TestSIPpLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CONSENTREC_SIPREC_LOAD"))
	if n <= 0 {
		t.Skip("set CONSENTREC_SIPREC_LOAD=N to measure N concurrent SIPREC calls")
	}
	sipp := sippOrSkip(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "consentrec")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/consentrec").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := freeUDPPort(t)
	srv := exec.Command(bin, "siprec", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--policy", "../examples/policies/mifid.json",
		"--in-scope", "--data", filepath.Join(dir, "data"))
	stderr, _ := srv.StderrPipe()
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	listening := make(chan struct{})
	go func() { // the server's output, passed on; it says when it listens
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Println(sc.Text())
			if strings.HasPrefix(sc.Text(), "siprec: listening on ") {
				close(listening)
			}
		}
	}()
	portsRE := regexp.MustCompile(`ports="?\[([0-9 ]+)\]`)
	sessions := make(chan []int, n)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := portsRE.FindStringSubmatch(sc.Text()); m != nil {
				var ps []int
				for _, f := range strings.Fields(m[1]) {
					p, _ := strconv.Atoi(f)
					ps = append(ps, p)
				}
				sessions <- ps
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(60 * time.Second):
		t.Fatal("the server never said it was listening")
	}
	sp := exec.Command(sipp, "-sf", "testdata/sipp-load.xml", "-r", "50", "-l", strconv.Itoa(n), "-m", strconv.Itoa(n),
		"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-nostdin", "-timeout", "120s", fmt.Sprintf("127.0.0.1:%d", port))
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../testdata/speech.opus")
	if err != nil {
		t.Fatal(err)
	}
	speech, _, _ := recorder.Packets(f)
	f.Close()
	var mu sync.Mutex
	var conns []*net.UDPConn
	stop := make(chan struct{})
	go func() { // one sender for every stream: 20 ms ticks
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case ps := <-sessions:
				for _, p := range ps {
					c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
					if err == nil {
						mu.Lock()
						conns = append(conns, c)
						mu.Unlock()
					}
				}
				continue
			case <-tick.C:
			}
			mu.Lock()
			for k, c := range conns {
				pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: uint32(k + 1)},
					Payload: speech[i%len(speech)]}
				b, _ := pk.Marshal()
				c.Write(b)
			}
			mu.Unlock()
		}
	}()
	// Wait until every call is up, then measure 8 s of steady state.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		up := len(conns)
		mu.Unlock()
		if up >= 2*n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	up := len(conns) / 2
	mu.Unlock()
	// A measurement over wall time, not a wait for an event: 2 s for the
	// last calls to settle, then the CPU the server spends in 8 s.
	time.Sleep(2 * time.Second)
	cpu0, at0 := procCPU(t, srv.Process.Pid), time.Now()
	time.Sleep(8 * time.Second)
	cpu1, at1 := procCPU(t, srv.Process.Pid), time.Now()
	rss := procRSS(t, srv.Process.Pid)
	threads := procStatus(t, srv.Process.Pid, "Threads:")
	load, _ := os.ReadFile("/proc/loadavg")
	core := (cpu1 - cpu0).Seconds() / at1.Sub(at0).Seconds()
	t.Logf("siprec load: calls=%d up=%d cpu_core=%.3f cpu_per_call=%.2f%% rss_mib=%.1f rss_kib_per_call=%.0f threads=%d loadavg=%s",
		n, up, core, 100*core/float64(up), float64(rss)/(1<<20), float64(rss)/1024/float64(up), threads, strings.TrimSpace(string(load)))
	sp.Wait()
	close(stop)
	if up < n {
		t.Errorf("only %d of %d calls came up", up, n)
	}
	// Every call was recorded, both legs carrying the audio sent.
	st, err := recorder.NewFileStore(filepath.Join(dir, "data", "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	var ms []recorder.Meta
	for {
		ms, _ = st.List(t.Context())
		done := 0
		for _, m := range ms {
			if m.State == recorder.StateFinalized {
				done++
			}
		}
		if done >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var packets int64
	for _, m := range ms {
		for _, l := range m.Legs {
			packets += l.Packets
		}
	}
	t.Logf("siprec load: %d recordings, %d packets written (%.0f per recording)", len(ms), packets, float64(packets)/float64(max(1, len(ms))))
	if len(ms) < n || packets < int64(n)*2*500 {
		t.Errorf("%d recordings, %d packets: calls not recorded", len(ms), packets)
	}
}

// procCPU returns the user+system CPU time of process pid.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// procRSS returns the resident memory of process pid, in bytes.
func procRSS(t *testing.T, pid int) int64 {
	return procStatus(t, pid, "VmRSS:") << 10
}

// procStatus returns the number of a /proc/PID/status line ("VmRSS:" in
// KiB, "Threads:"), or 0.
func procStatus(t *testing.T, pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
