package g711opus

import (
	"errors"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/codec/g711"
	"github.com/consentrec/consentrec/codec/opusenc"
	"github.com/consentrec/consentrec/codec/resample"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Source is a pull-style RTP packet source: pion's *webrtc.TrackRemote
// method set, the same as recorder.Source. ReadRTP blocks until a packet is
// available and returns an error (io.EOF) when the source is finished. The
// returned packet is only read before the next call.
type Source interface {
	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
}

// Payload types.
const (
	PayloadTypeCN       = 13  // comfort noise (RFC 3389)
	DefaultOpusPT       = 111 // the payload type of output Opus packets when Config.OpusPT is zero
	DefaultReorder      = 40 * time.Millisecond
	maxReorder          = time.Second
	samplesPerFrame     = 160 // 20 ms at 8 kHz
	ringFrames          = 256 // 5.12 s of audio ahead of the next frame to send
	maxJumpSamples      = 8000 * 60
	seqHistory          = 4096
	ticksPerInputSample = 6 // 48 kHz / 8 kHz
)

// ErrConfig: an invalid Config.
var ErrConfig = errors.New("g711opus: invalid configuration")

// Config configures a Transcoder. The zero value works: output payload type
// 111, telephone-events recognised on any dynamic payload type, 40 ms
// reorder window, Opus at 8 kHz (opusenc's defaults).
type Config struct {
	// OpusPT is the payload type of the Opus packets produced. Zero: 111.
	OpusPT uint8
	// DTMFPT is the payload type of RFC 4733 telephone-events on the input;
	// they keep it on the output. Zero: any dynamic payload type (96-127).
	DTMFPT uint8
	// ReorderWindow is how long a frame waits for reordered packets before
	// it is sent incomplete (or counted as a gap). Zero: 40 ms; at most 1 s.
	// Keep it below the recorder's ReorderWindow (60 ms by default): the
	// frames held back behind a missing packet must still reach the
	// recorder before their slots are written.
	ReorderWindow time.Duration
	// Encoder configures the Opus encoder; its zero value encodes at 8 kHz.
	// Another SampleRate (16000, 48000...) resamples the G.711 audio first.
	Encoder opusenc.Config
}

// Stats counts what a Transcoder did. All counts are cumulative.
type Stats struct {
	Packets       int64 // G.711 packets received
	Frames        int64 // Opus packets sent
	LostFrames    int64 // 20 ms frames not sent because their packets were lost
	DTXFrames     int64 // 20 ms frames not sent because the sender was silent (DTX, comfort noise)
	PartialFrames int64 // frames sent with some samples missing (zero-filled)
	Late          int64 // packets that arrived after their frames were sent (dropped)
	Duplicates    int64 // packets received twice (dropped)
	ComfortNoise  int64 // comfort-noise packets (not forwarded)
	DTMF          int64 // telephone-event packets forwarded
	Ignored       int64 // packets of other payload types, or malformed (dropped)
	Resets        int64 // re-anchorings (SSRC change, timestamp jump)
}

type frame struct {
	pcm [samplesPerFrame]int16
	got [3]uint64 // bitmap of received samples
	n   int       // samples received
}

// pktInfo is a received audio or comfort-noise packet, by position.
type pktInfo struct {
	seq        int64
	start, end int64 // input samples since the anchor
}

// Transcoder reads G.711 RTP from a Source and returns Opus RTP. It is not
// safe for concurrent use (a Source is read by one goroutine).
type Transcoder struct {
	src      Source
	opusPT   uint8
	dtmfPT   uint8
	window   int64 // samples
	enc      *opusenc.Encoder
	rs       *resample.Resampler
	rsBuf    []int16 // resampled audio waiting for a full encoder frame
	frameBuf []int16

	anchored bool // the audio grid is set
	clockSet bool // the timestamp mapping is set
	ssrc     uint32
	firstTS  uint32
	lastTS   uint32
	lastRel  int64
	highSeq  int64
	seen     [seqHistory / 64]uint64
	next     int64 // index of the next frame to send
	newest   int64 // one past the newest received sample
	ring     [ringFrames]frame
	pkts     []pktInfo

	pending *rtp.Packet // a packet read but not yet placed
	err     error       // the source's error, returned once everything is sent

	outSeq    uint16
	marker    bool
	out       rtp.Packet
	payload   [opusenc.MaxPacketSize]byte
	dtmfBuf   [1500]byte
	stats     Stats
	lastAttrs interceptor.Attributes
}

var _ Source = (*Transcoder)(nil)

// New returns a Transcoder reading src. Invalid configuration returns an
// error wrapping ErrConfig.
func New(src Source, cfg Config) (*Transcoder, error) {
	if src == nil {
		return nil, fmt.Errorf("g711opus: nil source: %w", ErrConfig)
	}
	if cfg.OpusPT == 0 {
		cfg.OpusPT = DefaultOpusPT
	}
	if cfg.OpusPT > 127 || cfg.DTMFPT > 127 || cfg.OpusPT == cfg.DTMFPT {
		return nil, fmt.Errorf("g711opus: payload types opus=%d dtmf=%d: %w", cfg.OpusPT, cfg.DTMFPT, ErrConfig)
	}
	if cfg.ReorderWindow == 0 {
		cfg.ReorderWindow = DefaultReorder
	}
	if cfg.ReorderWindow < 0 || cfg.ReorderWindow > maxReorder {
		return nil, fmt.Errorf("g711opus: reorder window %v: %w", cfg.ReorderWindow, ErrConfig)
	}
	enc, err := opusenc.New(cfg.Encoder)
	if err != nil {
		return nil, fmt.Errorf("g711opus: %w: %w", ErrConfig, err)
	}
	t := &Transcoder{
		src:      src,
		opusPT:   cfg.OpusPT,
		dtmfPT:   cfg.DTMFPT,
		window:   int64(cfg.ReorderWindow / (time.Second / 8000)),
		enc:      enc,
		frameBuf: make([]int16, samplesPerFrame),
	}
	if rate := enc.Config().SampleRate; rate != g711.ClockRate {
		if t.rs, err = resample.New(g711.ClockRate, rate); err != nil {
			return nil, fmt.Errorf("g711opus: %w: %w", ErrConfig, err)
		}
		t.rsBuf = make([]int16, 0, 2*enc.FrameSize()+t.rs.MaxOut(samplesPerFrame))
	}
	return t, nil
}

// Stats returns the counts so far. Call it from the goroutine that reads.
func (t *Transcoder) Stats() Stats { return t.stats }

// PreSkip returns the Opus encoder's delay in 48 kHz samples (312 at the
// default settings), the Ogg pre-skip of a file made of this leg alone.
func (t *Transcoder) PreSkip() int { return t.enc.PreSkip() }

// ReadRTP returns the next Opus (or telephone-event) packet. The packet and
// its payload are reused by the next call. When the source fails or ends,
// the frames still buffered are sent first, then its error is returned (and
// returned again on every later call).
func (t *Transcoder) ReadRTP() (*rtp.Packet, interceptor.Attributes, error) {
	for {
		// 1. Send the next frame if it is due.
		if t.anchored && t.frameDue() {
			if p := t.finalize(); p != nil {
				return p, t.lastAttrs, nil
			}
			continue
		}
		// 2. Place a packet read earlier.
		if t.pending != nil {
			if p := t.place(t.pending); p != nil {
				return p, t.lastAttrs, nil
			}
			continue
		}
		if t.err != nil {
			return nil, nil, t.err
		}
		// 3. Read more.
		p, attrs, err := t.src.ReadRTP()
		if err != nil {
			t.err = err
			continue
		}
		if p == nil {
			t.stats.Ignored++
			continue
		}
		t.lastAttrs = attrs
		t.pending = p
	}
}

// frameDue reports whether frame t.next must be sent (or skipped) now.
func (t *Transcoder) frameDue() bool {
	end := (t.next + 1) * samplesPerFrame
	if t.next*samplesPerFrame >= t.newest {
		return false // nothing received at or after this frame
	}
	f := &t.ring[t.next%ringFrames]
	switch {
	case f.n == samplesPerFrame:
		return true
	case t.err != nil:
		return true // draining at the end
	case t.newest >= end+t.window:
		return true
	case t.pending != nil && t.needsRoom(t.pending):
		return true
	}
	return false
}

// needsRoom reports whether placing p requires sending the next frame
// first: p lies beyond the ring, or p re-anchors the grid (audio or a
// telephone-event of another SSRC: the frames waiting are sent first).
func (t *Transcoder) needsRoom(p *rtp.Packet) bool {
	if t.isDTMF(p.PayloadType) && len(p.Payload) >= 4 {
		return p.SSRC != t.ssrc
	}
	if !t.isAudio(p.PayloadType) {
		return false
	}
	if p.SSRC != t.ssrc {
		return true
	}
	start := t.rel(p.Timestamp)
	if t.jump(start) {
		return true
	}
	return start+int64(len(p.Payload)) > (t.next+ringFrames)*samplesPerFrame
}

func (t *Transcoder) isAudio(pt uint8) bool {
	return pt == g711.PayloadTypePCMU || pt == g711.PayloadTypePCMA
}

func (t *Transcoder) isDTMF(pt uint8) bool {
	if t.dtmfPT != 0 {
		return pt == t.dtmfPT
	}
	return pt >= 96 && pt <= 127
}

// rel returns the unwrapped position of an input timestamp, in samples
// since the anchor.
func (t *Transcoder) rel(ts uint32) int64 { return t.lastRel + int64(int32(ts-t.lastTS)) }

// jump reports whether a packet at start is so far from the current window
// that the grid must be re-anchored.
func (t *Transcoder) jump(start int64) bool {
	return start > t.newest+maxJumpSamples || start < t.next*samplesPerFrame-maxJumpSamples
}

// place handles one received packet. It returns a packet to send (a
// forwarded telephone-event) or nil.
func (t *Transcoder) place(p *rtp.Packet) *rtp.Packet {
	switch {
	case t.isAudio(p.PayloadType):
	case p.PayloadType == PayloadTypeCN:
		t.pending = nil
		t.stats.ComfortNoise++
		if t.anchored && p.SSRC == t.ssrc {
			if ext := t.extSeq(p.SequenceNumber); !t.markSeen(ext) {
				t.addPkt(pktInfo{seq: ext, start: t.rel(p.Timestamp), end: t.rel(p.Timestamp)})
			}
		}
		return nil
	case t.isDTMF(p.PayloadType) && len(p.Payload) >= 4:
		t.pending = nil
		return t.forwardDTMF(p)
	default:
		t.pending = nil
		t.stats.Ignored++
		return nil
	}
	if len(p.Payload) == 0 || len(p.Payload) > (ringFrames-1)*samplesPerFrame {
		t.pending = nil
		t.stats.Ignored++
		return nil
	}
	switch {
	case !t.clockSet || p.SSRC != t.ssrc || t.jump(t.rel(p.Timestamp)):
		if t.clockSet {
			// Everything received before was sent (frameDue drained it).
			t.stats.Resets++
		}
		t.anchor(p)
	case !t.anchored:
		// The clock was set by an earlier telephone-event: start the grid
		// at this packet's frame, keeping the clock and its 20 ms grid.
		// Audio may start before the event (a PCMU packet with an earlier
		// timestamp): move the origin back by whole frames so that every
		// position, and so every ring index, stays non-negative.
		if rel := t.rel(p.Timestamp); rel < 0 {
			shift := (-rel + samplesPerFrame - 1) / samplesPerFrame * samplesPerFrame
			t.firstTS -= uint32(shift)
			t.lastRel += shift
		}
		t.anchored = true
		t.next = t.rel(p.Timestamp) / samplesPerFrame
		t.newest = t.next * samplesPerFrame
	}
	t.pending = nil
	t.stats.Packets++
	seq := t.extSeq(p.SequenceNumber)
	if t.markSeen(seq) {
		t.stats.Duplicates++
		return nil
	}
	start := t.rel(p.Timestamp)
	if int32(p.Timestamp-t.lastTS) > 0 {
		t.lastTS, t.lastRel = p.Timestamp, start
	}
	law, _ := g711.LawForPayloadType(p.PayloadType)
	payload := p.Payload
	lo := t.next * samplesPerFrame
	if start+int64(len(payload)) <= lo {
		t.stats.Late++
		return nil
	}
	if start < lo { // the head is late: keep the tail
		payload = payload[lo-start:]
		start = lo
	}
	t.addPkt(pktInfo{seq: seq, start: start, end: start + int64(len(payload))})
	// A packet far ahead (after a long silence): the frames before it
	// received nothing (frameDue sent everything received); skip them.
	for start+int64(len(payload)) > (t.next+ringFrames)*samplesPerFrame {
		t.finalize()
	}
	for len(payload) > 0 {
		k := start / samplesPerFrame
		off := int(start % samplesPerFrame)
		f := &t.ring[k%ringFrames]
		n := min(len(payload), samplesPerFrame-off)
		var tmp [samplesPerFrame]int16
		law.Decode(tmp[:n], payload[:n])
		for i := range n {
			j := off + i
			if f.got[j/64]&(1<<(j%64)) == 0 {
				f.got[j/64] |= 1 << (j % 64)
				f.n++
			}
			f.pcm[j] = tmp[i]
		}
		payload = payload[n:]
		start += int64(n)
	}
	t.newest = max(t.newest, start)
	return nil
}

// anchor starts a new clock and grid at packet p.
func (t *Transcoder) anchor(p *rtp.Packet) {
	if !t.clockSet {
		t.outSeq = p.SequenceNumber
	}
	t.anchored, t.clockSet = true, true
	t.ssrc = p.SSRC
	t.firstTS, t.lastTS, t.lastRel = p.Timestamp, p.Timestamp, 0
	t.highSeq = int64(p.SequenceNumber)
	t.seen = [seqHistory / 64]uint64{}
	t.next, t.newest = 0, 0
	for i := range t.ring {
		t.ring[i].n = 0
		t.ring[i].got = [3]uint64{}
	}
	t.pkts = t.pkts[:0]
	t.marker = true
	if t.rs != nil {
		t.rs.Reset()
		t.rsBuf = t.rsBuf[:0]
	}
}

// extSeq returns the extended (unwrapped) sequence number of seq.
func (t *Transcoder) extSeq(seq uint16) int64 {
	return t.highSeq + int64(int16(seq-uint16(t.highSeq)))
}

// markSeen records ext as received and reports whether it already was.
func (t *Transcoder) markSeen(ext int64) bool {
	if ext <= t.highSeq-seqHistory {
		return false // too old to know
	}
	if ext > t.highSeq {
		// Clear the slots the window moves over.
		for s := t.highSeq + 1; s <= ext && s <= t.highSeq+seqHistory; s++ {
			i := uint64(s) % seqHistory
			t.seen[i/64] &^= 1 << (i % 64)
		}
		t.highSeq = ext
	}
	i := uint64(ext) % seqHistory
	was := t.seen[i/64]&(1<<(i%64)) != 0
	t.seen[i/64] |= 1 << (i % 64)
	return was
}

func (t *Transcoder) wasSeen(ext int64) bool {
	if ext <= t.highSeq-seqHistory || ext > t.highSeq {
		return true
	}
	i := uint64(ext) % seqHistory
	return t.seen[i/64]&(1<<(i%64)) != 0
}

// addPkt inserts a packet position, keeping t.pkts sorted by start.
func (t *Transcoder) addPkt(p pktInfo) {
	i := len(t.pkts)
	for i > 0 && t.pkts[i-1].start > p.start {
		i--
	}
	t.pkts = append(t.pkts, pktInfo{})
	copy(t.pkts[i+1:], t.pkts[i:])
	t.pkts[i] = p
}

// finalize sends or skips frame t.next. It returns the Opus packet, or nil
// for a gap.
func (t *Transcoder) finalize() *rtp.Packet {
	k := t.next
	f := &t.ring[k%ringFrames]
	t.next++
	defer func() {
		f.n = 0
		f.got = [3]uint64{}
		t.prune()
	}()
	if f.n == 0 {
		if t.holeIsLoss(k) {
			t.stats.LostFrames++
			t.outSeq++ // a sequence gap: the recorder sees loss
		} else {
			t.stats.DTXFrames++
			t.marker = true // the next frame starts a talkspurt
		}
		if t.rs != nil {
			t.rs.Reset()
			t.rsBuf = t.rsBuf[:0]
		}
		return nil
	}
	if f.n < samplesPerFrame {
		t.stats.PartialFrames++
		for j := range samplesPerFrame {
			if f.got[j/64]&(1<<(j%64)) == 0 {
				f.pcm[j] = 0
			}
		}
	}
	pcm := f.pcm[:]
	if t.rs != nil {
		t.rsBuf = t.rs.Process(t.rsBuf, pcm)
		fs := t.enc.FrameSize()
		if len(t.rsBuf) < fs { // only right after a reset, by the filter delay
			t.rsBuf = append(t.rsBuf, make([]int16, fs-len(t.rsBuf))...)
		}
		pcm = t.rsBuf[:fs]
		defer func() { t.rsBuf = t.rsBuf[:copy(t.rsBuf, t.rsBuf[fs:])] }()
	}
	n, err := t.enc.Encode(t.payload[:], pcm)
	if err != nil { // cannot happen with a valid configuration
		t.stats.Ignored++
		return nil
	}
	t.stats.Frames++
	t.out = rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         t.marker,
			PayloadType:    t.opusPT,
			SequenceNumber: t.outSeq,
			Timestamp:      t.firstTS*ticksPerInputSample + uint32(k)*960,
			SSRC:           t.ssrc,
		},
		Payload: t.payload[:n],
	}
	t.outSeq++
	t.marker = false
	return &t.out
}

// holeIsLoss classifies frame k, which received nothing: loss if sequence
// numbers are missing between the packets around it, DTX otherwise.
func (t *Transcoder) holeIsLoss(k int64) bool {
	lo, hi := k*samplesPerFrame, (k+1)*samplesPerFrame
	var prev, next *pktInfo
	for i := range t.pkts {
		p := &t.pkts[i]
		if p.start < lo && (prev == nil || p.end >= prev.end) {
			prev = p
		}
		if p.start >= hi && next == nil {
			next = p
		}
	}
	if prev == nil || next == nil {
		return false
	}
	if next.seq-prev.seq > seqHistory/2 {
		return true
	}
	for s := prev.seq + 1; s < next.seq; s++ {
		if !t.wasSeen(s) {
			return true
		}
	}
	return false
}

// prune drops packet positions that can no longer bound a hole: all but
// the last one ending before the next frame.
func (t *Transcoder) prune() {
	lo := t.next * samplesPerFrame
	keep := 0
	for i := range t.pkts {
		if t.pkts[i].end <= lo {
			keep = i
		}
	}
	if keep > 0 {
		t.pkts = t.pkts[:copy(t.pkts, t.pkts[keep:])]
	}
}

// forwardDTMF forwards a telephone-event packet, its timestamp moved to the
// 48 kHz clock of the audio. The payload (and its duration, in units of the
// telephone-event/8000 clock) is unchanged.
func (t *Transcoder) forwardDTMF(p *rtp.Packet) *rtp.Packet {
	if !t.clockSet || p.SSRC != t.ssrc {
		// No audio yet, or another SSRC (the audio waiting was sent
		// first: see needsRoom): anchor the clock on the event itself.
		if t.clockSet {
			t.stats.Resets++
		}
		t.anchor(p)
		t.anchored = false // the audio grid starts with the first audio packet
	}
	if t.markSeen(t.extSeq(p.SequenceNumber)) {
		t.stats.Duplicates++
		return nil
	}
	t.stats.DTMF++
	n := copy(t.dtmfBuf[:], p.Payload)
	payload := t.dtmfBuf[:n]
	rel := t.rel(p.Timestamp)
	t.out = rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         p.Marker,
			PayloadType:    p.PayloadType,
			SequenceNumber: t.outSeq,
			Timestamp:      t.firstTS*ticksPerInputSample + uint32(rel*ticksPerInputSample),
			SSRC:           t.ssrc,
		},
		Payload: payload,
	}
	t.outSeq++
	return &t.out
}
