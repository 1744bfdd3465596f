// Command loadtest records N legs of real Opus RTP sent over UDP on
// 127.0.0.1 through the recorder's public API, and measures what the
// recording side costs:
//
//	go run ./examples/loadtest -legs 1000 -dur 60s
//
// A child process (the same binary, -role send) sends the legs: 20 ms Opus
// packets from testdata/speech.opus, 50 per second per leg, on a clean
// network unless -loss, -reorder or -stall say otherwise. The parent makes
// one call of two legs (customer and agent) per pair of legs, each started
// with a grant from a real policy engine, and receives them either with one
// socket and one goroutine per leg (-ingest socket) or through
// recorder/rtpudp (-ingest rtpudp: a few sockets, demultiplexed by SSRC,
// read in batches), flushed by one shared recorder.Clock (-clock shared) or
// a timer per call (-clock per-call). Its last line is
//
//	legs=N seconds=D cpu_core=F legs_per_core=L rss_kib_per_leg=K lost=X late=Y slips=Z
//
// where cpu_core is the CPU time of the recording process over the
// measured D seconds (after a warm-up) divided by D, legs_per_core is
// N / cpu_core, rss_kib_per_leg the process's resident memory at the end
// divided by N, and lost, late and slips the sums of every leg's LegStats.
//
// With -ffmpeg N it first measures, in the same run, the anchor: N
// streams each recorded by its own ffmpeg -c copy (see anchor.go).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/rtpudp"
	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"
)

func main() {
	log.SetFlags(0)
	var (
		legs     = flag.Int("legs", 100, "number of legs (two per call)")
		dur      = flag.Duration("dur", 60*time.Second, "measured duration")
		warmup   = flag.Duration("warmup", 3*time.Second, "time between the first packets and the measurement")
		ingest   = flag.String("ingest", "rtpudp", "socket (one socket and goroutine per leg) or rtpudp (batched, demultiplexed by SSRC)")
		clock    = flag.String("clock", "shared", "shared (one recorder.Clock for every call) or per-call (a timer per Recorder)")
		sockets  = flag.Int("sockets", 0, "rtpudp: sockets (SO_REUSEPORT); 0: GOMAXPROCS")
		gso      = flag.Bool("gso", true, "sender: with -ingest rtpudp, send with UDP GSO (padded RTP, up to 64 datagrams a system call)")
		anchor   = flag.Int("ffmpeg", 0, "first measure the anchor: this many streams each recorded by its own ffmpeg -c copy, for -dur")
		rcvbuf   = flag.Int("rcvbuf", 0, "rtpudp: Config.ReadBuffer in bytes (0: the default)")
		uring    = flag.Bool("iouring", true, "rtpudp: read with io_uring where the kernel allows it (false: Config.NoIOUring, recvmmsg)")
		writers  = flag.Int("writers", 0, "recorder.Writers.Goroutines: the most goroutines writing pages at once (0: the default)")
		coalesce = flag.Duration("coalesce", 0, "rtpudp: Config.Coalesce (0: the default; negative: none)")
		loss     = flag.Float64("loss", 0, "probability that a packet is lost")
		reorder  = flag.Float64("reorder", 0, "probability that a packet is sent after the next one")
		stall    = flag.Duration("stall", 0, "length of a sender stall (the leg sends its backlog at once after it)")
		every    = flag.Duration("stall-every", 10*time.Second, "period of the stalls")
		stallOf  = flag.Int("stall-legs", 2, "every n-th leg stalls")
		dir      = flag.String("dir", "", "where recordings go (default: a temporary directory, removed at the end)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the measured window to this file")
		memprof  = flag.String("memprofile", "", "write a heap profile at the end of the measured window to this file")
		mutprof  = flag.String("mutexprofile", "", "write a profile of the lock contention in the measured window to this file")
		role     = flag.String("role", "record", "internal: record or send")
		sendDest = flag.String("dest", "", "internal: rtpudp address for the sender")
		steerTo  = flag.Int("steer", 0, "internal: the recorder's sockets, when it steers datagrams by SSRC (the sender's GSO trains then hold one socket's legs)")
		steerOn  = flag.Bool("ssrc-steering", true, "rtpudp: spread the legs over the sockets by SSRC (false: Config.NoSSRCSteering, the kernel's hash of addresses and ports)")
	)
	flag.Parse()
	payload, err := loadSpeech()
	if err != nil {
		log.Fatal(err)
	}
	if *role == "send" {
		if err := runSender(*legs, *dur, payload, *sendDest, *gso, *steerTo, *loss, *reorder, *stall, *every, *stallOf); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *legs < 1 || *dur <= 0 || (*ingest != "socket" && *ingest != "rtpudp") {
		log.Fatal("loadtest: -legs ≥ 1, -dur > 0, -ingest socket|rtpudp")
	}
	profile = *cpuprof
	memProfile = *memprof
	mutexProfile = *mutprof
	if *anchor > 0 {
		if err := ffmpegAnchor(*anchor, *dur, os.Args[1:]); err != nil {
			log.Fatal(err)
		}
	}
	var clk *recorder.Clock
	if *clock == "shared" {
		clk = recorder.NewClock()
	}
	wr := &recorder.Writers{Goroutines: *writers}
	if err := record(*legs, *dur, *warmup, *ingest, *sockets, *coalesce, *rcvbuf, *uring, !*steerOn, clk, wr, *dir, os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func loadSpeech() ([][]byte, error) {
	d, _ := os.Getwd()
	for {
		f, err := os.Open(filepath.Join(d, "testdata", "speech.opus"))
		if err == nil {
			defer f.Close()
			ps, _, err := recorder.Packets(f)
			return ps, err
		}
		up := filepath.Dir(d)
		if up == d {
			return nil, errors.New("loadtest: testdata/speech.opus not found (run from the repository)")
		}
		d = up
	}
}

func runSender(legs int, dur time.Duration, payload [][]byte, dest string, gso bool, steer int, loss, reorder float64, stall, every time.Duration, stallOf int) error {
	s := &sender{legs: legs, dur: dur, payload: payload, steer: steer, loss: loss, reorder: reorder, stall: stall, every: every, stallOf: max(stallOf, 1)}
	if stall == 0 {
		s.every = 0
	}
	if dest != "" {
		a, err := net.ResolveUDPAddr("udp4", dest)
		if err != nil {
			return err
		}
		s.dst = func(int) *net.UDPAddr { return a }
		s.gso = gso
	} else {
		// One port per leg, read from stdin.
		addrs := make([]*net.UDPAddr, 0, legs)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() && len(addrs) < legs {
			port, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
			if err != nil {
				return err
			}
			addrs = append(addrs, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		}
		if len(addrs) != legs {
			return fmt.Errorf("sender: %d ports for %d legs", len(addrs), legs)
		}
		s.dst = func(i int) *net.UDPAddr { return addrs[i] }
	}
	// Several source sockets, so that SO_REUSEPORT spreads the legs over
	// the recorder's sockets (each leg sends from one of them).
	for range 16 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		_ = c.SetWriteBuffer(4 << 20)
		s.conns = append(s.conns, ipv4.NewPacketConn(c))
		s.raw = append(s.raw, c)
	}
	return s.run()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg returns the 1-minute load average (what else runs on the
// machine), "?" if unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// procCPU returns the CPU time (user and system) of process pid so far, -1
// if unknown.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): state is field 3, utime 14, stime 15, in clock ticks.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100 // USER_HZ
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

func record(n int, dur, warmup time.Duration, ingest string, sockets int, coalesce time.Duration, rcvbuf int, uring, noSteer bool, clock *recorder.Clock, wr *recorder.Writers, dir string, args []string) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "loadtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	store, err := recorder.NewFileStore(dir)
	if err != nil {
		return err
	}
	rss0 := rssKiB()
	// Calls and legs.
	recs := make([]*recorder.Recorder, 0, (n+1)/2)
	legs := make([]*recorder.Leg, 0, n)
	t0 := time.Now()
	for i := 0; i < n; i += 2 {
		id := fmt.Sprintf("load-%d", i/2)
		rec, err := recorder.New(recorder.Config{CallID: id, Store: store, Audit: audit.Discard, Clock: clock, Writers: wr})
		if err != nil {
			return err
		}
		for k, role := range []recorder.Role{recorder.Customer, recorder.Agent} {
			if i+k >= n {
				break
			}
			l, err := rec.AddLeg(recorder.LegConfig{Role: role, OpusPT: 111})
			if err != nil {
				return err
			}
			legs = append(legs, l)
		}
		recs = append(recs, rec)
	}
	// Ingestion.
	var dest string
	var ports []int
	var srv *rtpudp.Server
	var wg sync.WaitGroup
	var conns []*net.UDPConn
	switch ingest {
	case "socket":
		for _, l := range legs {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return fmt.Errorf("loadtest: socket per leg: %w", err)
			}
			conns = append(conns, c)
			ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
			wg.Go(func() { readSocket(c, l) })
		}
	case "rtpudp":
		if sockets <= 0 {
			sockets = runtime.GOMAXPROCS(0)
		}
		srv, err = rtpudp.Listen("udp4", "127.0.0.1:0", rtpudp.Config{Sockets: sockets, Coalesce: coalesce, ReadBuffer: rcvbuf,
			NoIOUring: !uring, NoSSRCSteering: noSteer})
		if err != nil {
			return err
		}
		for i, l := range legs {
			if err := srv.Add(uint32(i+1), l); err != nil {
				return err
			}
		}
		dest = srv.Addr().String()
		wg.Go(func() { _ = srv.Serve() })
	}
	// Start every recording, each with its own grant.
	for _, rec := range recs {
		c, err := policytest.GrantCall(rec.CallID(), policy.Quality)
		if err != nil {
			return err
		}
		g, err := c.Grant()
		if err != nil {
			return err
		}
		if _, err := rec.Start(ctx, g, "agent-load"); err != nil {
			return err
		}
	}
	method := ingest
	if srv != nil {
		method += " " + srv.ReadMethod()
		if srv.SteersBySSRC() {
			method += ", steered by ssrc"
		}
	}
	fmt.Fprintf(os.Stderr, "loadtest: %d calls, %d legs started in %v (ingest %s, shared clock %v, GOMAXPROCS %d)\n",
		len(recs), n, time.Since(t0).Round(time.Millisecond), method, clock != nil, runtime.GOMAXPROCS(0))
	// The sender.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cargs := append([]string{}, args...)
	cargs = append(cargs, "-role", "send", "-dur", (warmup + dur + 2*time.Second).String(), "-dest", dest)
	if srv != nil && srv.SteersBySSRC() {
		cargs = append(cargs, "-steer", strconv.Itoa(sockets))
	}
	cmd := exec.Command(exe, cargs...)
	cmd.Stderr = os.Stderr
	if ports != nil {
		var b strings.Builder
		for _, p := range ports {
			fmt.Fprintln(&b, p)
		}
		cmd.Stdin = strings.NewReader(b.String())
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	received := func() int64 {
		if srv != nil {
			return srv.Stats().Datagrams
		}
		return socketDatagrams.Load()
	}
	// Start-up garbage (each call's policy engine, grants, JSON) is
	// returned to the system, so that rss_kib_per_leg is what recording
	// holds, not what setting up 10,000 calls in a hurry left behind.
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(warmup)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	k0 := kernelDrops()
	load0 := loadAvg()
	st0 := hostCPU()
	if mutexProfile != "" {
		runtime.SetMutexProfileFraction(10)
	}
	late0 := legTotals(legs)
	c0, w0, d0, s0 := cpuTime(), time.Now(), received(), procCPU(cmd.Process.Pid)
	time.Sleep(dur)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if mutexProfile != "" {
		runtime.SetMutexProfileFraction(0)
		f, err := os.Create(mutexProfile)
		if err != nil {
			return err
		}
		err = pprof.Lookup("mutex").WriteTo(f, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	c1, w1, d1, s1 := cpuTime(), time.Now(), received(), procCPU(cmd.Process.Pid)
	k1 := kernelDrops()
	st1 := hostCPU()
	late1 := legTotals(legs)
	// What went wrong in the window itself, apart from the calls' start
	// (5,000 calls starting at once load the machine) and their end.
	fmt.Fprintf(os.Stderr, "loadtest: in the window: lost %d, late %d, slips %d\n",
		late1.Lost-late0.Lost, late1.Late-late0.Late, late1.Slips-late0.Slips)
	rss := rssKiB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "loadtest: go heap in use %d KiB, idle %d KiB (released %d KiB), stacks %d KiB, runtime sys %d KiB, GCs %d (%d in the window, %d bytes allocated in it)\n",
		ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, ms.Sys>>10, ms.NumGC, ms.NumGC-ms0.NumGC, ms.TotalAlloc-ms0.TotalAlloc)
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		runtime.GC()
		err = pprof.WriteHeapProfile(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	// The sender stops, then what it sent is read, and only then do the
	// recordings stop: every accepted packet must be in a file.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for last := int64(-1); received() != last; {
		last = received()
		time.Sleep(100 * time.Millisecond)
	}
	var tot recorder.LegStats
	for _, rec := range recs {
		ms, err := rec.Stop(ctx, "agent-load")
		if err != nil {
			return err
		}
		for _, m := range ms {
			for _, ls := range m.Legs {
				addStats(&tot, ls)
			}
		}
	}
	if srv != nil {
		_ = srv.Close()
		st := srv.Stats()
		fmt.Fprintf(os.Stderr, "rtpudp: %+v\n", st)
		// Rejected: packets for a recording already stopped.
		acc := st.Datagrams - st.Rejected - st.Unknown - st.Malformed
		fmt.Fprintf(os.Stderr, "loadtest: written %d of the %d packets the recordings accepted (%.4f %%)\n",
			tot.Packets, acc, 100*float64(tot.Packets)/float64(max(acc, 1)))
	}
	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
	secs := w1.Sub(w0).Seconds()
	cpu := (c1 - c0).Seconds() / secs
	fmt.Fprintf(os.Stderr, "loadtest: dtx=%d duplicates=%d rss_start=%d KiB rss_end=%d KiB kernel_drops_in_window=%d\n",
		tot.DTX, tot.Duplicates, rss0, rss, k1-k0)
	// The generator shares the machine: its CPU (with the kernel's
	// loopback delivery of every datagram, done in its system calls) and
	// the recorder's must fit in the cores for the run to stay real time.
	fmt.Fprintf(os.Stderr, "loadtest: sender cpu_core=%.3f (recorder %.3f, %d cores), load average %s at the window's start, %s at its end\n",
		(s1-s0).Seconds()/secs, cpu, runtime.NumCPU(), load0, loadAvg())
	if st0.ok && st1.ok {
		// Time the hypervisor gave the vCPUs to others (steal), and the
		// kernel's softirq time (the loopback delivery of every datagram):
		// a run that slows down everything at once says so here.
		fmt.Fprintf(os.Stderr, "loadtest: host steal %.3f core, softirq %.3f core in the window\n",
			(st1.steal-st0.steal).Seconds()/secs, (st1.softirq-st0.softirq).Seconds()/secs)
	}
	// What a datagram costs, whatever the machine's load let the process
	// keep up with: the legs one core would carry at 50 packets/s each.
	perDgram := (c1 - c0).Seconds() / float64(max(d1-d0, 1))
	fmt.Fprintf(os.Stderr, "loadtest: received %.1f datagrams/s per leg in the window, cpu %.2f µs per datagram, so %.0f legs per core at 50/s\n",
		float64(d1-d0)/float64(n)/secs, perDgram*1e6, 1/(50*perDgram))
	fmt.Printf("legs=%d seconds=%.1f cpu_core=%.3f legs_per_core=%.0f rss_kib_per_leg=%.1f lost=%d late=%d slips=%d\n",
		n, secs, cpu, float64(n)/cpu, float64(rss)/float64(n), tot.Lost, tot.Late, tot.Slips)
	return nil
}

var (
	socketDatagrams atomic.Int64
	profile         string
	memProfile      string
	mutexProfile    string
)

func readSocket(c *net.UDPConn, l *recorder.Leg) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		socketDatagrams.Add(1)
		if p.Unmarshal(buf[:k]) != nil {
			continue
		}
		_ = l.WriteRTP(&p)
	}
}

// legTotals sums the legs' counters now.
func legTotals(legs []*recorder.Leg) (t recorder.LegStats) {
	for _, l := range legs {
		addStats(&t, l.Stats())
	}
	return t
}

// addStats adds the counters of st that the load test reports to t.
func addStats(t *recorder.LegStats, st recorder.LegStats) {
	t.Packets += st.Packets
	t.Lost += st.Lost
	t.Late += st.Late
	t.Slips += st.Slips
	t.DTX += st.DTX
	t.Duplicates += st.Duplicates
}

type cpuStat struct {
	steal, softirq time.Duration
	ok             bool
}

// hostCPU returns the machine's steal and softirq time so far
// (/proc/stat), ok false if unknown.
func hostCPU() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}
	}
	tick := func(s string) time.Duration {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * time.Second / 100 // USER_HZ
	}
	return cpuStat{softirq: tick(f[7]), steal: tick(f[8]), ok: true}
}

// kernelDrops returns the host's UDP datagrams dropped for a full receive
// buffer (RcvbufErrors in /proc/net/snmp), or -1.
func kernelDrops() int64 {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return -1
}
