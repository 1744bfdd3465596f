// Package rtpudp receives many RTP streams on a few UDP sockets and hands
// each packet to the recorder.Leg (or any Writer) registered for its SSRC.
//
// One reader goroutine per socket reads datagrams in batches (recvmmsg on
// Linux: io_uring's multishot receive where the kernel allows it, else
// recvmmsg without the per-datagram address that golang.org/x/net/ipv4's
// ReadBatch allocates; ReadBatch elsewhere) into buffers allocated once, parses the RTP header in place
// and looks the stream up by SSRC in a table whose entries it prefetches
// for the whole batch: there is no goroutine, socket or allocation per
// stream or per packet on the receive path. With Config.Sockets above
// one, the sockets share the port with SO_REUSEPORT, one reader per core,
// and the kernel spreads the streams over them by SSRC (on Linux: a BPF
// program; elsewhere, or with Config.NoSSRCSteering, by the senders'
// addresses and ports).
//
// The reader calls Writer.WriteRTP synchronously: a Writer must return
// quickly (recorder.Leg does: it places the packet and returns). Before it
// writes a batch, it lets the batch's Writers that implement Prefetcher
// start loading what they will touch (recorder.Leg does), so that the
// cache misses of thousands of streams overlap. Packets of
// an unknown SSRC and malformed datagrams are counted in Stats and dropped.
//
// RTCP multiplexed on the same port (RFC 5761: packet types 192 to 223 in
// the second byte) goes, by the sender's SSRC, to a Writer that also
// implements RTCPWriter (recorder.Leg does: its sender reports align the
// legs of a call); other Writers never see it.
//
// A reader that has drained its socket waits Config.Coalesce before it
// reads again, so that each read returns a batch rather than the one or
// two datagrams that arrived since the last: at thousands of streams this
// halves the CPU spent per datagram (one system call and one wake-up per
// batch) at the price of that much latency, which a recorder's reorder
// window absorbs. The socket's buffer must hold what arrives meanwhile:
// Config.ReadBuffer.
//
// SRTP is the host's business: decrypt with pion/srtp in a Writer that
// wraps the leg (one srtp.Context per stream, DecryptRTP into a buffer it
// owns, then leg.WriteRTP), and register that Writer for the SSRC.
package rtpudp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/consentrec/consentrec/internal/prefetch"
	"github.com/pion/rtp"
)

// Writer takes RTP packets; *recorder.Leg is one. WriteRTP must not retain
// p nor its payload after it returns, and must not call Server.Add or
// Server.Remove.
type Writer interface {
	WriteRTP(p *rtp.Packet) error
}

// ArrivalWriter is implemented by Writers that take the instant a packet
// arrived rather than read the clock for each (*recorder.Leg does): the
// reader reads it once per batch.
type ArrivalWriter interface {
	WriteRTPAt(p *rtp.Packet, arrival time.Time) error
}

// RTCPWriter is implemented by Writers that take the RTCP of their stream
// (a raw compound packet, in the reader's buffer: not retained after
// WriteRTCP returns). *recorder.Leg is one.
type RTCPWriter interface {
	WriteRTCP(b []byte) error
}

// Prefetcher is implemented by Writers whose work per packet waits mostly
// on memory that no cache holds any more (*recorder.Leg is one: at 10,000
// streams, each is touched once per 20 ms). Before writing a batch, the
// reader calls Prefetch(0) for the Writer of every packet of the batch,
// then Prefetch(1) for those that returned true, and so on: each call
// starts loading what the next write will touch, without waiting for it,
// so that the cache misses of the batch's streams overlap instead of
// following one another. Prefetch must not block, nor change what the
// Writer records.
type Prefetcher interface {
	Prefetch(stage int) bool
}

// Config configures a Server. The zero value is usable.
type Config struct {
	// Sockets is the number of sockets (and reader goroutines) sharing the
	// port with SO_REUSEPORT. Zero: runtime.GOMAXPROCS(0). One where the
	// platform lacks SO_REUSEPORT.
	Sockets int
	// ReadBuffer is SO_RCVBUF for each socket. Zero: DefaultReadBuffer.
	// Kernel memory, used only while datagrams wait. The kernel caps it at
	// net.core.rmem_max unless the process may pass it (CAP_NET_ADMIN);
	// the server logs a warning once if capped.
	ReadBuffer int
	// Batch is how many datagrams one read may return. Zero: 64.
	Batch int
	// Coalesce is how long a reader that drained its socket waits before
	// reading again. Zero: DefaultCoalesce; negative: no wait (each read
	// returns as soon as one datagram is there).
	Coalesce time.Duration
	// NoIOUring makes the readers use recvmmsg(2) on Linux. By default
	// they use io_uring where the kernel allows it (6.1 or later, not
	// disabled by sysctl or seccomp) and recvmmsg otherwise: at 10,000
	// streams it costs 12 % less CPU per datagram (see ReadMethod and
	// the package doc).
	NoIOUring bool
	// NoSSRCSteering leaves the choice of each datagram's socket to
	// SO_REUSEPORT's hash of its addresses and ports. By default, on
	// Linux with more than one socket, a BPF program picks it by SSRC
	// (SocketOf): every packet of a stream is read by one reader, in
	// order, and the streams spread evenly over the readers however few
	// addresses they come from (an SBC or a SIPREC client sends thousands
	// of streams from a handful of ports, which the hash would put on one
	// or two sockets, one core). See SteersBySSRC.
	NoSSRCSteering bool
	// Logger receives the warnings. Nil: slog.Default().
	Logger *slog.Logger
}

// setDefaults fills the zero fields of c, ReadBuffer with readBuffer.
func (c *Config) setDefaults(readBuffer int) {
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = readBuffer
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.Coalesce == 0 {
		c.Coalesce = DefaultCoalesce
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// DefaultReadBuffer is Config.ReadBuffer's default: 64 MiB. The kernel
// charges each datagram its whole buffer (1,851 bytes for a 200-byte RTP
// packet on loopback, measured) against twice SO_RCVBUF: some 72,000
// datagrams, 290 ms of 10,000 streams on two sockets, which a reader
// descheduled on a busy host (or a vCPU its hypervisor took away) must
// find still queued. (16 MiB, 72 ms, overflowed in one of seven 60 s runs at
// 10,000 legs on a 2-vCPU VM.)
const DefaultReadBuffer = 64 << 20

// DefaultCoalesce is Config.Coalesce's default: 2 ms, a tenth of an Opus
// frame. At 250,000 datagrams/s on a socket, 500 wait in its buffer.
const DefaultCoalesce = 2 * time.Millisecond

// Stats counts what the readers saw since Listen. A reader adds a batch's
// counts once it has handed the batch over: a Writer may hold a packet
// that Stats does not count yet (after Close and Serve's return, every
// datagram read is counted).
type Stats struct {
	Datagrams int64 // datagrams read
	Batches   int64 // reads (datagrams / batches is the mean batch)
	Unknown   int64 // datagrams of an SSRC with no Writer (dropped)
	Malformed int64 // datagrams that are not RTP or RTCP (dropped)
	RTCP      int64 // RTCP datagrams handed to an RTCPWriter
	Rejected  int64 // packets whose Writer returned an error
}

// Errors.
var (
	ErrClosed    = errors.New("rtpudp: server closed")
	ErrDuplicate = errors.New("rtpudp: ssrc already registered")
)

type stream struct {
	w    Writer
	at   ArrivalWriter // w, if it takes the arrival instant
	rtcp RTCPWriter    // w, if it takes RTCP
	pf   Prefetcher    // w, if it prefetches
}

func newStream(w Writer) *stream {
	st := &stream{w: w}
	st.rtcp, _ = w.(RTCPWriter)
	st.at, _ = w.(ArrivalWriter)
	st.pf, _ = w.(Prefetcher)
	return st
}

// wellFormed reports whether datagram b (n bytes read, more than
// maxDatagram if truncated) may be RTP or RTCP: version 2, at least an
// RTCP header.
func wellFormed(b []byte, n int) bool { return n <= maxDatagram && len(b) >= 8 && b[0]>>6 == 2 }

// handle gives datagram b (well formed, of this stream) to the Writer:
// RTCP to its RTCPWriter if it has one (else ignored, as a host would),
// RTP parsed into pk, with the batch's arrival instant if it takes it.
func (st *stream) handle(b []byte, pk *rtp.Packet, now time.Time, c *counts) {
	if isRTCP(b) {
		if st.rtcp == nil {
			return
		}
		c.rtcp++
		if st.rtcp.WriteRTCP(b) != nil {
			c.rejected++
		}
		return
	}
	if len(b) < 12 || pk.Unmarshal(b) != nil {
		c.malformed++
		return
	}
	var err error
	if st.at != nil {
		err = st.at.WriteRTPAt(pk, now)
	} else {
		err = st.w.WriteRTP(pk)
	}
	if err != nil {
		c.rejected++
	}
}

// counts are one read's counters, added to a counters' atomics at once.
type counts struct{ datagrams, batches, unknown, malformed, rejected, rtcp int64 }

// counters are what Stats reports, for a Server or a Ports.
type counters struct {
	datagrams, batches, unknown, malformed, rejected, rtcp atomic.Int64
}

func (a *counters) add(c *counts) {
	a.datagrams.Add(c.datagrams)
	a.batches.Add(c.batches)
	if c.unknown|c.malformed|c.rejected|c.rtcp != 0 {
		a.unknown.Add(c.unknown)
		a.malformed.Add(c.malformed)
		a.rejected.Add(c.rejected)
		a.rtcp.Add(c.rtcp)
	}
	*c = counts{}
}

func (a *counters) stats() Stats {
	return Stats{Datagrams: a.datagrams.Load(), Batches: a.batches.Load(), Unknown: a.unknown.Load(),
		Malformed: a.malformed.Load(), Rejected: a.rejected.Load(), RTCP: a.rtcp.Load()}
}

// Server receives RTP on one UDP port. Its methods may be called
// concurrently.
type Server struct {
	cfg     Config
	method  string // see ReadMethod
	conns   []udpSock
	mu      sync.RWMutex
	byssrc  ssrcTable
	closed  atomic.Bool
	steered bool // see SteersBySSRC

	counters
}

// Listen opens cfg.Sockets sockets on addr ("127.0.0.1:0" picks a port).
// network is "udp", "udp4" or "udp6". Call Serve to start reading.
func Listen(network, addr string, cfg Config) (*Server, error) {
	if cfg.Sockets <= 0 {
		cfg.Sockets = runtime.GOMAXPROCS(0)
	}
	if !reusePortSupported {
		cfg.Sockets = 1
	}
	cfg.setDefaults(DefaultReadBuffer)
	s := &Server{cfg: cfg, method: readMethod(&cfg)}
	for i := range cfg.Sockets {
		// Capped by net.core.rmem_max, the buffer is forced past it when
		// the process may (CAP_NET_ADMIN: SO_RCVBUFFORCE).
		c, got, err := listenSock(network, addr, cfg.Sockets > 1, cfg.ReadBuffer)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("rtpudp: listen: %w", err)
		}
		if i == 0 {
			addr = c.LocalAddr().String() // the others share the port picked
			if got >= 0 && got < cfg.ReadBuffer {
				cfg.Logger.Warn("rtpudp: socket receive buffer capped by the kernel (raise net.core.rmem_max)",
					"want", cfg.ReadBuffer, "got", got)
			}
		}
		s.conns = append(s.conns, c)
	}
	if len(s.conns) > 1 && !cfg.NoSSRCSteering {
		if err := steer(s.conns); err != nil {
			cfg.Logger.Warn("rtpudp: datagrams spread over the sockets by address and port, not by SSRC", "err", err)
		} else {
			s.steered = true
		}
	}
	return s, nil
}

// SteersBySSRC reports whether the kernel picks each datagram's socket by
// its SSRC (see Config.NoSSRCSteering), rather than by its addresses and
// ports.
func (s *Server) SteersBySSRC() bool { return s.steered }

// ReadMethod names how the readers read: "io_uring" or "recvmmsg" on
// Linux (see Config.NoIOUring), "ReadBatch" elsewhere. A reader whose own
// ring cannot be made falls back to recvmmsg and logs a warning.
func (s *Server) ReadMethod() string { return s.method }

// Addr returns the local address the sockets share.
func (s *Server) Addr() net.Addr { return s.conns[0].LocalAddr() }

// Add registers w for the packets of ssrc. It fails with ErrDuplicate if
// ssrc already has a Writer, ErrClosed after Close.
func (s *Server) Add(ssrc uint32, w Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("rtpudp: add %d: %w", ssrc, ErrClosed)
	}
	if s.byssrc.get(ssrc) != nil {
		return fmt.Errorf("rtpudp: add %d: %w", ssrc, ErrDuplicate)
	}
	s.byssrc.put(ssrc, newStream(w))
	return nil
}

// Remove forgets ssrc's Writer: its later packets count as Unknown. A
// packet being handed to it may still arrive after Remove returns.
func (s *Server) Remove(ssrc uint32) {
	s.mu.Lock()
	s.byssrc.del(ssrc)
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats() }

// Serve reads every socket, one goroutine each, until Close. It returns
// nil after Close, or the first read error.
func (s *Server) Serve() error {
	errs := make(chan error, len(s.conns))
	for _, c := range s.conns {
		go func() { errs <- s.serve(c) }()
	}
	var first error
	for range s.conns {
		if err := <-errs; err != nil && first == nil {
			first = err
			s.Close()
		}
	}
	return first
}

// Close closes the sockets; Serve returns.
func (s *Server) Close() error {
	s.closed.Store(true)
	var first error
	for _, c := range s.conns {
		if err := c.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}

// reader holds one socket's buffers, allocated once.
type reader struct {
	s       *Server
	batch   batchReader
	bufs    [][]byte // one datagram each
	lens    []int    // the length of each datagram read
	packets []rtp.Packet
	streams []*stream
	ssrcs   []ssrcOf     // scratch of dispatch
	pf      []Prefetcher // scratch of prefetch
}

// ssrcOf is a datagram's SSRC, if it has one.
type ssrcOf struct {
	ssrc uint32
	ok   bool
}

// batchReader reads up to len(bufs) datagrams, at least one, blocking.
type batchReader interface {
	read(bufs [][]byte, lens []int) (int, error)
}

func newReader(s *Server, c udpSock) (*reader, error) {
	r := s.newReaderBufs()
	var err error
	r.batch, err = newBatchReader(c, r.bufs, s.method == "io_uring", s.cfg.Logger)
	return r, err
}

// newReaderBufs returns a reader with its buffers, for cfg.Batch
// datagrams, and no socket.
func (s *Server) newReaderBufs() *reader {
	n := s.cfg.Batch
	return &reader{s: s, bufs: datagramBufs(n), lens: make([]int, n),
		packets: make([]rtp.Packet, n), streams: make([]*stream, n), ssrcs: make([]ssrcOf, n), pf: make([]Prefetcher, 0, n)}
}

// datagramBufs returns n buffers of maxDatagram bytes, in one allocation.
func datagramBufs(n int) [][]byte {
	bufs := make([][]byte, n)
	buf := make([]byte, n*maxDatagram)
	for i := range bufs {
		bufs[i] = buf[i*maxDatagram : (i+1)*maxDatagram : (i+1)*maxDatagram]
	}
	return bufs
}

// maxDatagram is the largest datagram read whole; longer ones are
// truncated and fail to parse as the stream's packet.
const maxDatagram = 1500

func (s *Server) serve(c udpSock) error {
	r, err := newReader(s, c)
	if err != nil {
		if s.closed.Load() {
			return nil
		}
		return fmt.Errorf("rtpudp: %w", err)
	}
	for {
		n, err := r.batch.read(r.bufs, r.lens)
		if err != nil {
			if s.closed.Load() {
				return nil
			}
			return fmt.Errorf("rtpudp: read: %w", err)
		}
		r.dispatch(n, time.Now()) // every datagram of the batch had arrived
		if n < len(r.bufs) && s.cfg.Coalesce > 0 {
			// Drained: let the next batch gather (see the package doc).
			time.Sleep(s.cfg.Coalesce)
		}
	}
}

// dispatch parses and hands over the first n messages, which had all
// arrived at now.
func (r *reader) dispatch(n int, now time.Time) {
	s := r.s
	c := counts{batches: 1, datagrams: int64(n)}
	s.mu.RLock()
	// Each datagram's SSRC, and the start of its entry loading.
	for i := range n {
		b := r.bufs[i][:min(r.lens[i], maxDatagram)]
		r.streams[i] = nil
		r.ssrcs[i].ok = false
		if !wellFormed(b, r.lens[i]) {
			c.malformed++
			continue
		}
		at := 8 // RTP: the SSRC
		if isRTCP(b) {
			at = 4 // RTCP: the sender's SSRC
		} else if len(b) < 12 {
			c.malformed++
			continue
		}
		ssrc := uint32(b[at])<<24 | uint32(b[at+1])<<16 | uint32(b[at+2])<<8 | uint32(b[at+3])
		r.ssrcs[i] = ssrcOf{ssrc, true}
		prefetch.Line(s.byssrc.addr(ssrc))
	}
	// The lookups, and the start of each stream's loading.
	for i := range n {
		if !r.ssrcs[i].ok {
			continue
		}
		st := s.byssrc.get(r.ssrcs[i].ssrc)
		if st == nil {
			c.unknown++
			continue
		}
		r.streams[i] = st
		prefetch.Line(uintptr(unsafe.Pointer(st)))
	}
	s.mu.RUnlock()
	r.prefetch(n)
	for i, st := range r.streams[:n] {
		if st != nil {
			r.streams[i] = nil
			st.handle(r.bufs[i][:r.lens[i]], &r.packets[i], now, &c)
		}
	}
	s.add(&c)
}

// prefetch runs the stages of the batch's Prefetchers, each stage for
// every packet before the next stage (see Prefetcher).
func (r *reader) prefetch(n int) {
	pf := r.pf[:0]
	for _, st := range r.streams[:n] {
		if st != nil && st.pf != nil {
			pf = append(pf, st.pf)
		}
	}
	for stage := 0; len(pf) > 0 && stage < maxPrefetchStages; stage++ {
		more := pf[:0]
		for _, p := range pf {
			if p.Prefetch(stage) {
				more = append(more, p)
			}
		}
		pf = more
	}
}

// maxPrefetchStages bounds the stages a Prefetcher is asked for.
const maxPrefetchStages = 4

// isRTCP tells RTCP from RTP on a shared port (RFC 5761 section 4): the
// second byte of RTCP is its packet type, 192 to 223 (SR 200, RR 201, ...),
// which as RTP would be a marker bit and payload types 64 to 95, never
// used for RTP here.
func isRTCP(b []byte) bool { return b[1] >= 192 && b[1] <= 223 }
