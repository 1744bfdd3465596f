package main

import (
	"context"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/pion/webrtc/v4"
)

// answer is the whole glue a pion support backend writes for one compliant
// call: the Service decides, plays the notice to the caller, records both
// legs when (and only when) the policy allows it, turns the caller's keys
// into objections or consents (purging what was captured on an objection),
// masks the keys during a card-data pause, and at hang-up finalizes,
// catalogues and audits. toCaller is the backend's track to the caller
// (what the caller hears: the notice, then the agent); the caller's track
// comes in through pc.OnTrack. The host then calls call.Inform once the
// connection is up, call.Pause/Resume around card data and call.Hangup.
func answer(ctx context.Context, svc *consentrec.Service, pc *webrtc.PeerConnection, toCaller *webrtc.TrackLocalStaticSample,
	info policy.CallInfo, lang, callerNumber string) (*consentrec.Call, error) {
	call, err := svc.Call(ctx, info, consentrec.CallOptions{Language: lang, Caller: callerNumber})
	if err != nil {
		return nil, err
	}
	if err := call.Output(notice.PartyCaller, notice.Samples(toCaller), notice.CodecOpus); err != nil {
		return nil, err
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go call.Consume(ctx, recorder.Customer, t) // the caller's voice and keys
	})
	return call, nil
}
