// Package g711 encodes and decodes ITU-T G.711 audio: μ-law (PCMU, RTP
// payload type 0) and A-law (PCMA, RTP payload type 8), 8 kHz mono, one byte
// per sample.
//
// It is pure Go, has no dependencies and never allocates: every function
// writes into a caller-provided slice. The conversions follow the segment
// tables of G.711 (the same ones as the classic Sun reference code, so the
// bytes match ffmpeg's pcm_mulaw and pcm_alaw): decoding gives 16-bit linear
// PCM (μ-law peaks at ±32124, A-law at ±32256), encoding takes 16-bit linear
// PCM and rounds towards the nearest lower quantisation step.
//
// Every byte is a valid G.711 code word, so decoding never fails; the only
// error is a destination that is too short ([ErrShortBuffer]).
package g711
