// Package noticetest provides fakes and a conformance suite for package
// notice: a recording FrameSink, a recording audit log, DTMF signal
// generators, and TestFrameEncoder, which every notice.FrameEncoder must
// pass.
package noticetest

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/notice"
	"github.com/pion/rtp"
)

// Sink is a notice.FrameSink that records every frame with the time it
// arrived (time.Now, so fake time inside a synctest bubble). Set Err to make
// WriteFrame fail from then on. Safe for concurrent use. Limits: it copies
// every frame, so it suits tests, not long calls.
type Sink struct {
	mu         sync.Mutex
	Frames     []notice.Frame // copies of the frames received
	Times      []time.Time    // arrival time of each frame
	Talkspurts int            // StartTalkspurt calls
	Err        error          // returned by WriteFrame when set
}

var (
	_ notice.FrameSink   = (*Sink)(nil)
	_ notice.Talkspurter = (*Sink)(nil)
)

// WriteFrame records f, or returns Err.
func (s *Sink) WriteFrame(f notice.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	f.Data = slices.Clone(f.Data)
	s.Frames = append(s.Frames, f)
	s.Times = append(s.Times, time.Now())
	return nil
}

// StartTalkspurt counts talkspurts.
func (s *Sink) StartTalkspurt() {
	s.mu.Lock()
	s.Talkspurts++
	s.mu.Unlock()
}

// SetErr sets Err under the lock.
func (s *Sink) SetErr(err error) {
	s.mu.Lock()
	s.Err = err
	s.mu.Unlock()
}

// Len returns the number of frames received.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.Frames)
}

// Snapshot returns copies of Frames and Times.
func (s *Sink) Snapshot() ([]notice.Frame, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Frames), slices.Clone(s.Times)
}

// RTPSink is a notice.RTPSink recording copies of the packets written.
// Safe for concurrent use.
type RTPSink struct {
	mu      sync.Mutex
	Packets []rtp.Packet
}

// WriteRTP records a deep copy of p.
func (s *RTPSink) WriteRTP(p *rtp.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Packets = append(s.Packets, *p.Clone())
	return nil
}

// Snapshot returns a copy of Packets.
func (s *RTPSink) Snapshot() []rtp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Packets)
}

// Log is an in-memory audit.Appender that keeps every event, in order.
// Set Err to make Append fail. Safe for concurrent use. Limits: it keeps
// no hash chain and nothing durable; it honours ctx only by returning
// ctx.Err() when ctx is already done.
type Log struct {
	mu     sync.Mutex
	Events []audit.Event
	Err    error
}

var _ audit.Appender = (*Log)(nil)

// Append records e and returns its index.
func (l *Log) Append(ctx context.Context, e audit.Event) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return 0, l.Err
	}
	l.Events = append(l.Events, e)
	return uint64(len(l.Events) - 1), nil
}

// Kinds returns the kinds of the events logged, in order.
func (l *Log) Kinds() []audit.Kind {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := make([]audit.Kind, len(l.Events))
	for i, e := range l.Events {
		k[i] = e.Kind
	}
	return k
}

// Snapshot returns a copy of Events.
func (l *Log) Snapshot() []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.Events)
}

// Attr returns the value of e's attribute key, or "".
func Attr(e audit.Event, key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

var dtmfFreq = map[notice.Key][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

// DTMF returns the tone pair of key k for dur at rate Hz, each tone at
// level dBFS (e.g. -10), as mono samples. It panics on an invalid key
// (a test-helper bug).
func DTMF(k notice.Key, rate int, dur time.Duration, level float64) []int16 {
	f, ok := dtmfFreq[k]
	if !ok {
		panic("noticetest: invalid DTMF key")
	}
	n := int(dur * time.Duration(rate) / time.Second)
	a := 32767 * math.Pow(10, level/20)
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(i) / float64(rate)
		pcm[i] = int16(a * (math.Sin(2*math.Pi*f[0]*t) + math.Sin(2*math.Pi*f[1]*t)))
	}
	return pcm
}

// TelephoneEvents returns the RFC 4733 payloads a sender emits for a key
// held for dur at clock Hz with 20 ms packets: updates with growing
// durations, then the end packet three times.
func TelephoneEvents(k notice.Key, clock int, dur time.Duration) [][]byte {
	code, ok := notice.EventCode(k)
	if !ok {
		panic("noticetest: invalid DTMF key")
	}
	step := clock / 50
	total := int(dur * time.Duration(clock) / time.Second)
	var out [][]byte
	for d := step; d < total; d += step {
		out = append(out, notice.TelephoneEvent{Event: code, Volume: 10, Duration: uint16(d)}.AppendTo(nil))
	}
	end := notice.TelephoneEvent{Event: code, End: true, Volume: 10, Duration: uint16(min(total, 65535))}.AppendTo(nil)
	return append(out, end, end, end)
}
