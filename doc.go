// Package consentrec is an embeddable Go library for consented call
// recording: it records calls only when the rules allow it, for one declared
// purpose, after the caller was told, never while card data is spoken, and
// keeps a tamper-evident trail of all of it.
//
// # One call, the one path
//
// [Open] returns a [Service] holding the embedded defaults (audit log,
// recording store, catalog, policy engine, notices), each replaceable by its
// interface; [Service.Call] returns a [Call] that drives the rules in order,
// so that an integrator cannot get them wrong:
//
//	svc, _ := consentrec.Open(ctx, consentrec.DataDir{Root: dir}, consentrec.Options{Policy: pol, Encoders: opusprompt.Encoders})
//	call, _ := svc.Call(ctx, policy.CallInfo{ID: id, Agent: agent}, consentrec.CallOptions{Language: "fr", Caller: number})
//	call.Output(notice.PartyCaller, notice.Samples(toCaller), notice.CodecOpus) // what the caller hears
//	go call.Consume(ctx, recorder.Customer, callerTrack)                      // a *webrtc.TrackRemote
//	go call.Consume(ctx, recorder.Agent, agentTrack)
//	call.Inform(ctx)                      // the notice; capture starts when the policy allows
//	call.Pause(ctx, "card-data", agent)   // keys masked everywhere until Resume
//	call.Resume(ctx, agent)
//	res, _ := call.Hangup(ctx)            // finalized, catalogued, audited
//
// Recording is a capability, not a convention: the recorder starts only
// with a [policy.Grant], which only a policy.Call mints once the caller was
// told (and consented, under opt-in profiles) and which an objection
// revokes. The caller's keys come from the customer's leg only; a key
// pressed during a card-data pause is never an answer and never logged.
//
// # The flow of one call
//
// Each step is one package; the Service wires them through small
// interfaces, and applications may too.
//
//  1. [policy] decides. For every call it says whether it may be recorded
//     (random sampling, a per-agent grid, an agent's or supervisor's action,
//     or a statute), for which purpose, for how long, and what must happen
//     first (a notice, a consent). Systematic recording without a statute is
//     a configuration error. The zero policy records nothing.
//  2. [notice] informs. It plays the versioned notice into the call (Opus for
//     WebRTC legs, G.711 for SIP legs), keeps a receipt of each playback, and
//     turns the caller's keys into consent or objection.
//  3. [recorder] captures. It taps the call's RTP (a pion track or any packet
//     source) and writes Ogg Opus, dual-channel or one file per leg, without
//     transcoding, with pause for card data, discard on objection, an honest
//     timeline and crash recovery.
//  4. [audit] seals. Every decision, notice, consent, objection, recording
//     event and access is appended to a hash-chained Merkle log with signed
//     checkpoints that anyone holding the public key can verify.
//  5. [retention] expires. A catalog knows each recording's deadline; a
//     sweeper deletes what is due unless it is under legal hold; subject
//     access and erasure requests are served; an access gate lets only the
//     roles of a recording's purpose open it, each access audited.
//
// # The data directory
//
// The embedded default keeps everything in one directory (see [DataDir]):
// the audit log, the recordings and the catalog. The quickstart and every
// consentrec command take it as -data / --data.
package consentrec
