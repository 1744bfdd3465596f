// Package notice informs the parties of a call before anything is recorded,
// keeps proof of it, and turns the caller's keys into consent or objection.
//
// # Prompts
//
// A [Prompt] is a notice recording loaded once from MP3 ([LoadMP3]), WAV
// ([LoadWAV]) or Ogg Opus ([LoadOggOpus]). Its version is the SHA-256 of the
// file it was loaded from, so an auditor can check which text a caller heard
// with sha256sum (or `consentrec notice inspect`). A [Library] chooses the
// prompt of a call by language and jurisdiction profile. Package
// notice/sampleprompts has sample notices for demos.
//
// # Playback
//
// A prompt is encoded once per codec ([Prepare], [Cache]) into 20 ms frames,
// then replayed from memory by a [Player], paced in real time, into a pion
// track ([SampleSink], satisfied by webrtc.TrackLocalStaticSample) or an RTP
// writer ([RTPSink], for SIP legs). PCMU and PCMA are built in (pure Go);
// Opus encoding of MP3/WAV prompts lives in package notice/opusprompt, so
// programs that never play such prompts into Opus calls never import an
// Opus encoder. Ogg Opus prompts are sent to Opus calls as they are.
//
// Several playbacks (the notice, a greeting, beeps) share one outgoing
// stream through [Share], one at a time; [Tee] copies it (e.g. to the
// recorder's agent leg).
//
// Every playback ends with a [Receipt] (prompt version, start, end,
// completed or interrupted and why) appended to the audit log. The host
// feeds [Receipt.PolicyEvent] to its policy.Call: recording that needs a
// notice does not start before a completed one.
//
// # Caller input
//
// [ParseTelephoneEvent] reads RFC 4733 telephone-events (what browsers send
// with RTCDTMFSender and SIP phones send as DTMF); [EventDetector] turns a
// stream of them into key presses; [ToneDetector] finds in-band DTMF in
// decoded audio with the Goertzel algorithm ([ToneDetector.FeedG711] takes
// G.711 payloads as they arrive). An [Input] maps keys to objection or
// consent, logs them (an objection never carries audio) and tells the host,
// which forwards [Answer.PolicyEvent] to its policy and discards what the
// recorder captured when the policy says Purge.
//
// # Around the call
//
// A [Beeper] plays a short tone periodically while recording
// (Asterisk-style), and the same [Player] plays the employee notice to the
// agent's leg (Receipt.Party = "agent").
package notice
