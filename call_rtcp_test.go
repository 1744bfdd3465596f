package consentrec_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/interceptor"
)

// rtcpScript is an RTCPReader replaying packets, then an error.
type rtcpScript struct {
	pkts  [][]byte
	end   error
	reads int
}

func (s *rtcpScript) Read(b []byte) (int, interceptor.Attributes, error) {
	s.reads++
	if len(s.pkts) == 0 {
		return 0, nil, s.end
	}
	n := copy(b, s.pkts[0])
	s.pkts = s.pkts[1:]
	return n, nil, nil
}

// TestCallConsumeRTCP: ConsumeRTCP reads a receiver's RTCP until it ends
// (io.EOF or a closed pipe: nil), skipping malformed packets, returns any
// other read error, and refuses an ended call.
func TestCallConsumeRTCP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, agentPolicy(policy.ProfileFR), notice.Keys{})
		ctx := context.Background()
		c, err := h.svc.Call(ctx, policy.CallInfo{ID: "rtcp", Agent: "a"})
		if err != nil {
			t.Fatal(err)
		}
		sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0xE8, 0x78, 0x9C, 0x80, 0x80, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 1, 0, 0, 0, 9}
		for _, end := range []error{io.EOF, io.ErrClosedPipe} {
			src := &rtcpScript{pkts: [][]byte{sr, {0x40, 1}, sr}, end: end}
			if err := c.ConsumeRTCP(ctx, recorder.Customer, src); err != nil || src.reads != 4 {
				t.Errorf("ConsumeRTCP ending with %v: %v after %d reads, want nil after 4", end, err, src.reads)
			}
		}
		boom := errors.New("boom")
		if err := c.ConsumeRTCP(ctx, recorder.Agent, &rtcpScript{end: boom}); !errors.Is(err, boom) {
			t.Errorf("read error: %v", err)
		}
		c.Hangup(ctx)
		if err := c.ConsumeRTCP(ctx, recorder.Customer, &rtcpScript{end: io.EOF}); !errors.Is(err, consentrec.ErrCallEnded) {
			t.Errorf("after hang-up: %v, want ErrCallEnded", err)
		}
	})
}
