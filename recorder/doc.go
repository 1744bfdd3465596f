// Package recorder captures the audio of a live call, as RTP arrives, into
// Ogg Opus files (RFC 7845) that every standard player opens: nothing lost,
// nothing invented, and nothing written that must not be.
//
// # Inputs and layouts
//
// A call has up to two legs, each tagged with a [Role]: the customer and the
// agent. A leg is fed by a [Source] (a pion *webrtc.TrackRemote as is, or
// any adapter, such as a G.711 to Opus transcoder) through [Leg.Consume], or
// packet by packet with [Leg.WriteRTP] (RTP forked over UDP by a SIP media
// server). Opus payloads are written as they are: no transcoding.
//
// [LayoutDual] writes one stereo file, customer left, agent right: two
// uncoupled mono streams (channel mapping family 1). [LayoutMono] writes one
// mono file per leg. OpusTags carry the recording id, call id, purpose,
// policy version and leg layout, and no personal data. Pre-skip is 312.
//
// # An honest timeline
//
// Every file is a sequence of 20 ms slots, from Start to Stop: the file
// lasts as long as the recording. Each leg maps its RTP timestamps (48 kHz,
// with wrap-around) to slots, anchored at its first packet's arrival. A slot
// waits Config.ReorderWindow for late and reordered packets, then is
// written: the leg's packet, or a filler. A lost packet becomes a
// concealment filler (a TOC-only packet: decoders run PLC), long gaps, DTX,
// a leg not yet started or already gone and pauses become digital silence.
// 10 ms packets are joined in pairs and multi-frame packets split, without
// transcoding; two consecutive 20 ms frames with the same TOC are written as
// one 40 ms Ogg packet (code 1 or 2: the same bytes, half the lacing), which
// keeps the container overhead under 2% at 24 kbit/s. A 40 or 60 ms SILK
// frame cannot be split: the mono layout writes it as is, the dual layout
// (whose two streams must last as long in every packet) replaces it with a
// filler, counted and in the gap index. Packets are placed by their
// timestamps, so a sender's bursts (ffmpeg -re's 256 ms, a media server's
// second) are buffered until their time, up to Config.MaxBurst (1 s by
// default): a leg's buffers grow during a burst and shrink back after. An
// SSRC change, a timestamp jump beyond MaxBurst and clock drift between
// legs (a leg late three times in a row, or more than 200 ms ahead for two
// periods of max(2 s, 2×MaxBurst)) re-align the leg (a slip, counted),
// never corrupt the file. RFC 4733
// telephone-events are not audio: they go to Config.OnDTMF, masked (a key
// was pressed, not which) unless Config.ClearDTMF names why the host needs
// them, and always masked during a pause (R23).
//
// Every span without captured audio goes to the gap index kept in the
// recording's [Meta]: pauses (with reason and actor), losses, DTX, not
// started, ended, slips.
//
// # Control
//
// [Recorder.Start], [Recorder.Stop], and Start again; [Recorder.Pause]
// returns once no more audio will be written and a pause longer than
// Config.MaxPause (3 minutes by default, 10 at most: a pause always ends,
// R22) resumes by itself; [Recorder.Discard] stops and removes
// everything captured for the call. Every step is appended to the audit log
// ([audit.Appender]): started, paused, resumed, stopped, finalized (with the
// file's SHA-256), purged.
//
// # Faults
//
// No packet can panic the process: a panic while a leg's packet is
// processed (or inside the Source a leg consumes) ends that leg only, as a
// hang-up would; the other leg keeps recording, the fault is counted
// (LegStats.Panics), logged, audited (integrity-failure, reason
// "leg-panic") and returned as a [*LegFault] (see [ErrLegFailed]).
//
// # Timeline
//
// Each file is a sequence of 20 ms slots. A leg's packets are placed by
// their RTP timestamps against an anchor that follows the packets arriving
// with the least delay: a sender stall or a backlog only adds delay, so up
// to Config.MaxBurst it never shifts the leg; the slots are written once
// every leg has them, or once their reorder window passed, except that the
// writing waits (up to MaxBurst) for a leg that went silent without a sign
// of DTX, whose backlog is then written at its slots. A leg whose first
// packets were late (a backlog at the sender or in the network, sent at
// once before the leg is paced) is found out by its on-time packets and
// moved earlier, in its first MaxBurst: so that its backlog, of up to
// MaxBurst, is written at its slots, aligned with the other leg, the
// writing holds back by MaxBurst before a leg's first packet (while the
// other leg speaks, or in the recording's first MaxBurst) and at its start
// until its packets come paced and on time (100 ms for a leg that starts
// on time) or its first MaxBurst passed. That costs latency and memory
// then (pages up to twice MaxBurst later, both legs' buffers grown), never
// once every leg started; the packets of a longer backlog beyond MaxBurst
// are late (counted). DTX (consecutive sequence numbers, a timestamp jump),
// loss (a sequence number gap), a late packet and a slip (a re-alignment:
// clock drift, an SSRC change, a timestamp jump) are told apart in the gap
// index. When both legs send
// RTCP sender reports ([Leg.WriteRTCP]) they are aligned on their senders'
// NTP clock. [Meta].Origin is the wall-clock instant of slot 0.
//
// # Storage and crash safety
//
// Files go to a [Store] ([FileStore] by default; recordertest.MemStore is a
// fake; recordertest.TestStore checks both). Pages are written at least
// every second (one write per page), under a temporary name renamed at
// finalization: a kill -9 loses about one second (the last page, plus the
// reorder window, plus up to MaxBurst while a leg stalls, plus up to twice
// MaxBurst at a leg's start or before its first packet, plus the pages
// still queued); fsync happens at pauses and at finalization (power loss
// is another matter).
//
// Pages are written off the media path: [Leg.WriteRTP] and the flush timer
// only queue them, and a small pool of goroutines ([Writers], shared by the
// process or by a [Clock]) writes them in order, so a slow store never
// delays reading packets. The queue is bounded in bytes; a page that finds
// it full is written as silence instead, never silently: LegStats.Overload
// counts it and the gap index says "overload" ([GapOverload]).
//
// [Recover] finalizes what a crash left behind, with a gap index
// rebuilt from the fillers, and marks it Recovered. [Store.Open] verifies
// the SHA-256 before handing a file out.
//
// # Cost
//
// Writing a packet costs less than pion's oggwriter and allocates nothing;
// a leg holds about 9 KiB at steady state. See BenchmarkWriteRTP, BenchmarkRealtime10kLegs
// and BenchmarkMemoryPerLeg.
//
// [Inspect] reports a file's channels, duration, tags, gaps and SHA-256;
// [ExportWAV] decodes it with github.com/pion/opus.
package recorder
