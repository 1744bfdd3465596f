package notice

import "context"

// Exclusive is an optional interface of a FrameSink that several playbacks
// share (a notice, a greeting, periodic beeps into one outgoing track):
// Stream acquires it before its first frame and releases it after its last,
// so the frames of two playbacks never interleave.
type Exclusive interface {
	// Acquire waits for the sink to be free, or for ctx to be done (then it
	// returns ctx's error and the sink is not held).
	Acquire(ctx context.Context) error
	// Release frees the sink.
	Release()
}

// SharedSink lets several playbacks share one FrameSink, one at a time, in
// the order they ask (FIFO is not guaranteed under contention). It passes
// StartTalkspurt on to the sink.
type SharedSink struct {
	sink FrameSink
	turn chan struct{}
}

var (
	_ FrameSink   = (*SharedSink)(nil)
	_ Exclusive   = (*SharedSink)(nil)
	_ Talkspurter = (*SharedSink)(nil)
)

// Share returns a SharedSink writing to sink.
func Share(sink FrameSink) *SharedSink {
	return &SharedSink{sink: sink, turn: make(chan struct{}, 1)}
}

// Acquire implements Exclusive.
func (s *SharedSink) Acquire(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release implements Exclusive.
func (s *SharedSink) Release() { <-s.turn }

// WriteFrame writes to the shared sink. Call it between Acquire and
// Release (Stream does).
func (s *SharedSink) WriteFrame(f Frame) error { return s.sink.WriteFrame(f) }

// StartTalkspurt passes the call on to the sink if it is a Talkspurter.
func (s *SharedSink) StartTalkspurt() {
	if t, ok := s.sink.(Talkspurter); ok {
		t.StartTalkspurt()
	}
}

// Tee returns a FrameSink writing every frame to each sink in order (e.g.
// the outgoing track and the recorder's agent leg). The first error stops
// the frame and is returned. StartTalkspurt is passed on to every sink that
// implements it.
func Tee(sinks ...FrameSink) FrameSink { return tee(sinks) }

type tee []FrameSink

func (t tee) WriteFrame(f Frame) error {
	for _, s := range t {
		if err := s.WriteFrame(f); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) StartTalkspurt() {
	for _, s := range t {
		if ts, ok := s.(Talkspurter); ok {
			ts.StartTalkspurt()
		}
	}
}
