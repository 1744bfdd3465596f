package rtpudp_test

import (
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/rtpudp"
)

// A recorder leg takes both: its sender reports reach it from the shared
// port.
var (
	_ rtpudp.Writer     = (*recorder.Leg)(nil)
	_ rtpudp.RTCPWriter = (*recorder.Leg)(nil)
)

var _ rtpudp.ArrivalWriter = (*recorder.Leg)(nil)
