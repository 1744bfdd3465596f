// Package siprec is a SIPREC Session Recording Server (RFC 7866, metadata
// RFC 7865): any SBC or PBX that forks its calls' media with SIPREC
// (AudioCodes, Oracle, Cisco CUBE, Ribbon, OpenSIPS, FreeSWITCH...) records
// through a consentrec.Service, under its policy, without a line of code.
//
// For each recording session (an INVITE whose body is multipart/mixed: an
// SDP offer and the recording metadata) the server maps the metadata's
// participants and streams to the call's legs (customer and agent, by
// Server.AgentAOR), opens a consentrec.Call (the policy decides; nothing is
// written before it allows), answers with receive-only audio lines on ports
// of its range, and feeds each stream to its leg: Opus as is, every Opus
// stream of every session read by one goroutine (recorder/rtpudp.Ports:
// the port tells the stream, as SIPREC's SDP gives no SSRC); G.711 through
// codec/g711opus, which pulls from its socket on a goroutine of its own.
// RFC 4733 keys on the caller's stream object
// or consent as elsewhere. A re-INVITE whose media is a=inactive pauses the
// recording (the SRC's own pause, e.g. for card data); a=sendonly or
// sendrecv resumes it. BYE hangs up: the recording is finalized,
// catalogued and audited. A call the policy does not select is answered
// and its media dropped.
//
// The notice: the recorder's lines are receive-only, so the SRC plays the
// notice (a PBX announcement before the fork). With Server.NoticeBySRC the
// server vouches for it (consentrec.Call.Informed, audited as an external
// notice); without it, calls are never captured under profiles that need a
// notice.
//
// Bad input never crashes the server: a malformed body or metadata gets 400,
// an offer without a usable codec 488, each with a Reason, and is logged.
package siprec

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/codec/g711opus"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/rtpudp"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Server is a SIPREC Session Recording Server. Service is required; the
// zero value of every other field works. Serve it on listeners the host
// opened (ServeUDP, ServeTCP). Safe for concurrent use.
type Server struct {
	Service *consentrec.Service
	// Host is the address written in SDP answers and bound for RTP.
	// Empty: 127.0.0.1.
	Host string
	// RTPPorts is the range of RTP ports (inclusive). Zero: any free port.
	RTPPorts [2]int
	// AgentAOR tells whether a participant's AOR is the contact centre's
	// agent. Nil: the participant sending the second stream (by label
	// order) is the agent and the first the customer, the usual order of
	// SBCs (caller first).
	AgentAOR func(aor string) bool
	// NoticeBySRC: the SRC plays the notice to the caller before forking
	// the call (the recorder cannot: its media is receive-only). The
	// server then vouches for it (consentrec.Call.Informed). Off: calls
	// that need a notice are never captured.
	NoticeBySRC bool
	// InScope marks every recorded session as in scope of the policy's
	// statute rules (policy.CallInfo.InScope): an SBC that forks only the
	// calls a statute covers (a trading desk under MiFID II). Off: statute
	// rules record nothing through this server.
	InScope bool
	// Logger: operational logs (refusals included). Nil: discard.
	Logger *slog.Logger

	once     sync.Once
	log      *slog.Logger
	mu       sync.Mutex
	sessions map[string]*session
	nextPort int
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	rtp      *rtpudp.Ports // the Opus streams' sockets, one goroutine for all
	initErr  error
}

type session struct {
	id    string
	call  *consentrec.Call
	addrs []net.Addr     // the Opus streams' sockets in s.rtp
	conns []*net.UDPConn // the G.711 streams' sockets, each read by its goroutine
	ports []int          // every stream's port, in offer order
	media []media
	pause bool
	wg    sync.WaitGroup
	sdp   []byte
}

func (s *Server) init() error {
	s.once.Do(func() {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		if s.Host == "" {
			s.Host = "127.0.0.1"
		}
		s.sessions = map[string]*session{}
		if s.Service == nil {
			s.initErr = errors.New("siprec: Server.Service is required")
			return
		}
		if s.ua, s.initErr = sipgo.NewUA(sipgo.WithUserAgent("consentrec-srs")); s.initErr != nil {
			return
		}
		if s.srv, s.initErr = sipgo.NewServer(s.ua); s.initErr != nil {
			return
		}
		if s.rtp, s.initErr = rtpudp.NewPorts(rtpudp.Config{Logger: s.log}); s.initErr != nil {
			return
		}
		go func() {
			// nil on Close; a poller error closes every socket (the streams end).
			if err := s.rtp.Serve(); err != nil {
				s.log.Error("siprec: rtp reader", "err", err)
			}
		}()
		s.srv.OnInvite(s.onInvite)
		s.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
		s.srv.OnBye(s.onBye)
		s.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
			tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		})
	})
	return s.initErr
}

// ServeUDP serves SIP over UDP on l until it is closed.
func (s *Server) ServeUDP(l net.PacketConn) error {
	if err := s.init(); err != nil {
		return err
	}
	return s.srv.ServeUDP(l)
}

// ServeTCP serves SIP over TCP on l until it is closed.
func (s *Server) ServeTCP(l net.Listener) error {
	if err := s.init(); err != nil {
		return err
	}
	return s.srv.ServeTCP(l)
}

// Close hangs up every recording session (finalizing and cataloguing) and
// closes the SIP transports.
func (s *Server) Close(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	var all []*session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.sessions = map[string]*session{}
	s.mu.Unlock()
	var errs []error
	for _, ss := range all {
		errs = append(errs, s.end(ctx, ss))
	}
	errs = append(errs, s.srv.Close(), s.rtp.Close())
	return errors.Join(errs...)
}

// Ports returns the RTP ports of the recording session of SIP Call-ID id,
// one per audio line in offer order (nil if there is none): what the
// answer's SDP says, for tools and tests.
func (s *Server) Ports(id string) []int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		return nil
	}
	return append([]int(nil), ss.ports...)
}

// CallIDs returns the SIP Call-IDs of the recording sessions in progress.
func (s *Server) CallIDs() []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	return ids
}

// Sessions returns the number of recording sessions in progress.
func (s *Server) Sessions() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) refuse(req *sip.Request, tx sip.ServerTransaction, code int, err error) {
	reason := map[int]string{400: "Bad Request", 488: "Not Acceptable Here", 500: "Server Internal Error"}[code]
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", code, strings.ReplaceAll(err.Error(), `"`, "'"))))
	s.log.Warn("siprec: refused", "call_id", callID(req), "code", code, "err", err)
	if err := tx.Respond(res); err != nil {
		s.log.Error("siprec: respond", "err", err)
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func codeOf(err error) int {
	switch {
	case errors.Is(err, ErrCodec):
		return 488
	case errors.Is(err, ErrBody), errors.Is(err, ErrMetadata), errors.Is(err, recorder.ErrConfig):
		return 400
	}
	return 500
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	defer func() {
		if r := recover(); r != nil { // a peer's request never crashes the server
			s.refuse(req, tx, 500, fmt.Errorf("internal error: %v", r))
		}
	}()
	id := callID(req)
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	offer, meta, err := SplitBody(ct, req.Body())
	if err != nil {
		s.refuse(req, tx, 400, err)
		return
	}
	ms, err := parseOffer(offer)
	if err != nil {
		s.refuse(req, tx, codeOf(err), err)
		return
	}
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss != nil { // re-INVITE: pause or resume, same answer
		s.reinvite(req, tx, ss, ms)
		return
	}
	if meta == nil {
		s.refuse(req, tx, 400, fmt.Errorf("%w: an initial INVITE needs recording metadata", ErrBody))
		return
	}
	md, err := ParseMetadata(meta)
	if err != nil {
		s.refuse(req, tx, 400, err)
		return
	}
	ss, err = s.open(context.Background(), id, md, ms)
	if err != nil {
		s.refuse(req, tx, codeOf(err), err)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", ss.sdp)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:srs@%s>;+sip.src", s.Host)))
	if err := tx.Respond(res); err != nil {
		s.log.Error("siprec: respond", "call_id", id, "err", err)
	}
}

// roles maps each audio line to a leg.
func (s *Server) roles(md *Metadata, ms []media) ([]recorder.Role, Participant, Participant, error) {
	roles := make([]recorder.Role, len(ms))
	var customer, agent Participant
	for i, m := range ms {
		p, ok := md.Sender(m.Label)
		if !ok {
			return nil, customer, agent, fmt.Errorf("%w: no participant sends the stream of label %s", ErrMetadata, m.Label)
		}
		isAgent := i == 1
		if s.AgentAOR != nil {
			isAgent = s.AgentAOR(p.AOR)
		}
		if isAgent {
			roles[i], agent = recorder.Agent, p
		} else {
			roles[i], customer = recorder.Customer, p
		}
	}
	if len(ms) > 2 || (len(ms) == 2 && roles[0] == roles[1]) {
		return nil, customer, agent, fmt.Errorf("%w: %d streams for %s and %s; the recorder takes one customer and one agent stream", ErrMetadata, len(ms), roles[0], roles[len(roles)-1])
	}
	return roles, customer, agent, nil
}

func (s *Server) open(ctx context.Context, id string, md *Metadata, ms []media) (*session, error) {
	roles, customer, agent, err := s.roles(md, ms)
	if err != nil {
		return nil, err
	}
	callID := md.SessionID
	if callID == "" {
		callID = id
	}
	call, err := s.Service.Call(ctx, policy.CallInfo{ID: callID, Agent: User(agent.AOR), InScope: s.InScope},
		consentrec.CallOptions{Caller: User(customer.AOR)})
	if err != nil {
		return nil, err
	}
	ss := &session{id: id, call: call, media: ms}
	ok := false
	defer func() {
		if !ok {
			s.closeMedia(ss)
			call.Hangup(context.WithoutCancel(ctx))
		}
	}()
	// Each leg is configured before its socket opens: a packet arriving at
	// once must find the leg's payload types.
	var g711 []int // the G.711 streams, by index in ms
	for i, m := range ms {
		cfg := recorder.LegConfig{Role: roles[i], OpusPT: m.PT, DTMFPT: m.DTMFPT, DTMFClockRate: m.DTMFRate}
		if m.Codec != codecOpus {
			cfg.OpusPT = 111 // the transcoder's output
			if cfg.DTMFClockRate == 0 {
				cfg.DTMFClockRate = 8000
			}
		}
		leg, err := call.Leg(cfg)
		if err != nil {
			return nil, err
		}
		if m.Codec == codecOpus {
			// Pushed by the shared reader: no goroutine for this stream.
			a, err := s.bindRTP(func(addr string) (net.Addr, error) {
				return s.rtp.Listen("udp", addr, leg)
			})
			if err != nil {
				return nil, err
			}
			ss.addrs = append(ss.addrs, a)
			ss.ports = append(ss.ports, a.(*net.UDPAddr).Port)
			continue
		}
		// G.711: codec/g711opus pulls from a Source, so the stream keeps
		// a socket and a goroutine of its own.
		var c *net.UDPConn
		a, err := s.bindRTP(func(addr string) (net.Addr, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			if c, err = net.ListenUDP("udp", ua); err != nil {
				return nil, err
			}
			return c.LocalAddr(), nil
		})
		if err != nil {
			return nil, err
		}
		ss.conns = append(ss.conns, c)
		ss.ports = append(ss.ports, a.(*net.UDPAddr).Port)
		g711 = append(g711, i)
	}
	var b [8]byte
	rand.Read(b[:])
	if ss.sdp, err = answer(s.Host, ms, ss.ports, binary.BigEndian.Uint64(b[:])>>1); err != nil {
		return nil, err
	}
	for k, i := range g711 {
		tc, err := g711opus.New(&udpSource{conn: ss.conns[k]}, g711opus.Config{OpusPT: 111, DTMFPT: ms[i].DTMFPT})
		if err != nil {
			return nil, err
		}
		ss.wg.Add(1)
		go func() {
			defer ss.wg.Done()
			if err := call.Consume(context.Background(), roles[i], tc); err != nil {
				s.log.Info("siprec: stream ended", "call_id", id, "role", roles[i], "err", err)
			}
		}()
	}
	ports := ss.ports
	if s.NoticeBySRC {
		if err := call.Informed(ctx, "siprec src (SIP Call-ID "+id+")"); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.sessions[id] = ss
	s.mu.Unlock()
	ok = true
	d := call.Decision()
	s.log.Info("siprec: session", "call_id", id, "call", callID, "record", d.Record, "reason", d.Reason, "capturing", call.Recording(),
		"ports", fmt.Sprint(ports))
	return ss, nil
}

func (s *Server) reinvite(req *sip.Request, tx sip.ServerTransaction, ss *session, ms []media) {
	inactive := len(ms) > 0
	for _, m := range ms {
		inactive = inactive && m.Inactive
	}
	ctx := context.Background()
	s.mu.Lock()
	was := ss.pause
	ss.pause = inactive
	s.mu.Unlock()
	var err error
	switch {
	case inactive && !was:
		err = ss.call.Pause(ctx, "siprec-inactive", "src")
	case !inactive && was:
		err = ss.call.Resume(ctx, "src")
	}
	if err != nil {
		s.log.Error("siprec: re-INVITE", "call_id", ss.id, "err", err)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", ss.sdp)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		s.log.Error("siprec: respond", "call_id", ss.id, "err", err)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	id := callID(req)
	s.mu.Lock()
	ss := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if ss == nil {
		tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	if err := s.end(context.Background(), ss); err != nil {
		s.log.Error("siprec: hang-up", "call_id", id, "err", err)
	}
}

func (s *Server) end(ctx context.Context, ss *session) error {
	// The ports close first: the shared reader then never waits on this
	// call's leg while Hangup finalizes it (which would hold up every
	// other stream). What is still queued in the sockets after the BYE (a
	// few milliseconds) is dropped.
	s.closeMedia(ss)
	res, err := ss.call.Hangup(ctx)
	s.log.Info("siprec: ended", "call_id", ss.id, "recordings", len(res.Recordings), "purged", res.Purged)
	return err
}

// closeMedia closes the session's sockets and waits for its G.711 readers.
func (s *Server) closeMedia(ss *session) {
	for _, a := range ss.addrs {
		if err := s.rtp.Remove(a); err != nil && !errors.Is(err, rtpudp.ErrNotFound) {
			s.log.Warn("siprec: close rtp port", "call_id", ss.id, "addr", a.String(), "err", err)
		}
	}
	for _, c := range ss.conns {
		c.Close() // ends the G.711 readers
	}
	ss.wg.Wait()
}

// bindRTP opens a stream's socket with open (given "host:port") on the
// next free port of the range, or on any free port without a range.
func (s *Server) bindRTP(open func(addr string) (net.Addr, error)) (net.Addr, error) {
	at := func(port int) string {
		return (&net.UDPAddr{IP: net.ParseIP(s.Host), Port: port}).String()
	}
	lo, hi := s.RTPPorts[0], s.RTPPorts[1]
	if lo <= 0 || hi < lo {
		return open(at(0))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := hi - lo + 1
	for range n {
		p := lo + s.nextPort%n
		s.nextPort++
		if a, err := open(at(p)); err == nil {
			return a, nil
		} else if errors.Is(err, rtpudp.ErrClosed) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("siprec: no free RTP port in %d-%d", lo, hi)
}

// udpSource reads RTP packets from a UDP socket (one stream per socket).
type udpSource struct {
	conn *net.UDPConn
	buf  [1500]byte
	pkt  rtp.Packet
}

func (u *udpSource) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for {
		n, err := u.conn.Read(u.buf[:])
		if err != nil {
			return nil, nil, err
		}
		if n >= 2 && u.buf[1]&0x7f >= 72 && u.buf[1]&0x7f <= 79 {
			continue // RTCP multiplexed on the RTP port (RFC 5761): not audio
		}
		if err := u.pkt.Unmarshal(u.buf[:n]); err != nil || u.pkt.Version != 2 {
			continue // not RTP: skipped
		}
		return &u.pkt, nil, nil
	}
}
