// Package g711opus turns a G.711 RTP leg (a SIP phone's PCMU or PCMA audio
// at 8 kHz) into an Opus RTP leg that the recorder takes like any WebRTC
// track: it is an RTP to RTP adapter with pion's TrackRemote method set,
//
//	ReadRTP() (*rtp.Packet, interceptor.Attributes, error)
//
// on both sides, so a *Transcoder is a recorder.Source.
//
// # Timeline
//
// Output packets are 20 ms Opus frames on the 48 kHz RTP clock (RFC 7587),
// laid on a grid anchored at the first G.711 packet: frame k covers input
// samples [160k, 160k+160) and carries RTP timestamp first*6 + 960k. The
// adapter keeps the recorder's timeline rules true instead of papering
// over them:
//
//   - Loss. A 20 ms frame for which no sample arrived and whose bounding
//     packets are separated by missing sequence numbers is not sent, and the
//     output sequence number skips one: the recorder sees a sequence gap and
//     a timestamp gap, and marks the span as loss. Nothing is concealed.
//     Within a frame that did receive audio (long or misaligned packets),
//     missing samples are zero and counted in [Stats.PartialFrames].
//   - DTX and comfort noise. A timestamp jump without missing sequence
//     numbers, or silence announced by a comfort-noise packet (payload type
//     13, RFC 3389), sends nothing and does not skip a sequence number: the
//     recorder sees a timestamp jump without a sequence gap (DTX). The first
//     packet after such a silence has the marker bit set.
//   - Reordering. Packets are placed by timestamp, so reordered packets are
//     put back in order; a frame is sent once complete, or once audio more
//     than [Config.ReorderWindow] newer has arrived. Packets later than that
//     are dropped and counted ([Stats.Late]).
//   - Telephone-events (RFC 4733) pass through with their payload type and
//     payload unchanged; only their timestamp moves to the 48 kHz clock, so
//     they stay in step with the audio. Their duration field is still in
//     units of the negotiated telephone-event/8000 clock: leave the
//     recorder's LegConfig.DTMFClockRate at its default, 8000.
//   - An SSRC change re-anchors the grid (the recorder sees the new SSRC).
//
// # Cost
//
// Decoding G.711 is a table lookup (under 0.1 µs per frame); the cost is the
// Opus encoder. The default encodes at 8 kHz, complexity 5: G.711 carries
// nothing above 4 kHz, so Opus narrowband keeps everything the leg has
// (TestRateChoice: as faithful as 16 kHz encoding, for fewer bits), and it
// is the encoder's cheapest mode. BenchmarkTranscode measures about 83 µs
// of CPU per 20 ms packet, 240 real-time legs per core (16 kHz: 124;
// 8 kHz at complexity 9: 160). A Transcoder holds about 500 KiB (the
// encoder's 400 KiB and a 5 s reorder ring).
package g711opus
