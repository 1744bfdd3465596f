package notice

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hajimehoshi/go-mp3"
)

// Limits on prompt files, so that a bad file cannot exhaust memory.
const (
	MaxPromptBytes    = 16 << 20        // largest prompt file accepted
	MaxPromptDuration = 5 * time.Minute // longest prompt accepted
)

// Format is the kind of file a prompt was loaded from.
type Format string

// Prompt formats.
const (
	FormatPCM     Format = "pcm" // built in memory (NewPCMPrompt)
	FormatWAV     Format = "wav"
	FormatMP3     Format = "mp3"
	FormatOggOpus Format = "ogg-opus"
)

// Prompt is a notice recording, immutable once loaded and safe to share
// between calls. A PCM prompt (WAV, MP3, or built in memory) holds mono
// 16-bit samples at its own rate; an Ogg Opus prompt holds its Opus packets.
type Prompt struct {
	name    string
	version string
	format  Format
	rate    int      // PCM sample rate (48000 for Opus prompts)
	pcm     []int16  // mono PCM (nil for Opus prompts)
	opus    [][]byte // Opus packets (nil for PCM prompts)
	opusDur []int    // duration of each Opus packet in 48 kHz samples
	preSkip int      // Opus pre-skip, in 48 kHz samples
	dur     time.Duration
}

// Name is the prompt's name (the file's base name for LoadFile).
func (p *Prompt) Name() string { return p.name }

// Version is the lowercase hex SHA-256 of the file the prompt was loaded
// from (of its little-endian samples for NewPCMPrompt). Two prompts with the
// same version carry the same audio; sha256sum of the file gives it too.
func (p *Prompt) Version() string { return p.version }

// Format is the kind of file the prompt came from.
func (p *Prompt) Format() Format { return p.format }

// Duration is the prompt's playing time.
func (p *Prompt) Duration() time.Duration { return p.dur }

// SampleRate is the rate of PCM(): the file's rate, or 48000 for Opus.
func (p *Prompt) SampleRate() int { return p.rate }

// PCM returns the prompt's mono samples at SampleRate, or nil for an Ogg
// Opus prompt. The slice is shared: do not modify it.
func (p *Prompt) PCM() []int16 { return p.pcm }

// OpusPackets returns the packets of an Ogg Opus prompt, or nil. The slices
// are shared: do not modify them.
func (p *Prompt) OpusPackets() [][]byte { return p.opus }

// String describes the prompt for logs.
func (p *Prompt) String() string {
	return fmt.Sprintf("%s (%s, %s, sha256:%.12s)", p.name, p.format, p.dur.Round(time.Millisecond), p.version)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// NewPCMPrompt builds a prompt from mono 16-bit samples at rate Hz (8000 to
// 48000). The samples are copied. Its version is the SHA-256 of the samples
// as little-endian bytes.
func NewPCMPrompt(name string, pcm []int16, rate int) (*Prompt, error) {
	if rate < 8000 || rate > 48000 {
		return nil, fmt.Errorf("notice: new prompt %q: sample rate %d: %w", name, rate, ErrFormat)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("notice: new prompt %q: no samples: %w", name, ErrFormat)
	}
	dur := time.Duration(len(pcm)) * time.Second / time.Duration(rate)
	if dur > MaxPromptDuration {
		return nil, fmt.Errorf("notice: new prompt %q: %v is longer than %v: %w", name, dur, MaxPromptDuration, ErrFormat)
	}
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return &Prompt{name: name, version: digest(b), format: FormatPCM, rate: rate,
		pcm: append([]int16(nil), pcm...), dur: dur}, nil
}

// LoadFile loads a prompt by its extension: .mp3, .wav, or .opus/.ogg.
func LoadFile(path string) (*Prompt, error) {
	var load func(string, io.Reader) (*Prompt, error)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mp3":
		load = LoadMP3
	case ".wav":
		load = LoadWAV
	case ".opus", ".ogg", ".oga":
		load = LoadOggOpus
	default:
		return nil, fmt.Errorf("notice: load prompt %s: unknown extension: %w", path, ErrFormat)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("notice: load prompt: %w", err)
	}
	defer f.Close()
	return load(filepath.Base(path), f)
}

func readAll(format, name string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPromptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("notice: load %s prompt %q: %w", format, name, err)
	}
	if len(b) > MaxPromptBytes {
		return nil, fmt.Errorf("notice: load %s prompt %q: %w", format, name,
			formatErr(format, -1, "larger than %d bytes", MaxPromptBytes))
	}
	return b, nil
}

// LoadMP3 decodes an MP3 prompt (mono or stereo, downmixed to mono).
func LoadMP3(name string, r io.Reader) (p *Prompt, err error) {
	b, err := readAll("mp3", name, r)
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error { return fmt.Errorf("notice: load mp3 prompt %q: %w", name, err) }
	// go-mp3 may panic on some corrupt streams; a bad file is an error, never a crash.
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, wrap(formatErr("mp3", -1, "corrupt stream (%v)", v))
		}
	}()
	audio, err := skipID3v2(b)
	if err != nil {
		return nil, wrap(err)
	}
	d, err := mp3.NewDecoder(bytes.NewReader(audio))
	if err != nil {
		return nil, wrap(formatErr("mp3", -1, "%v", err))
	}
	rate := d.SampleRate()
	if rate < 8000 || rate > 48000 {
		return nil, wrap(formatErr("mp3", -1, "sample rate %d", rate))
	}
	maxSamples := int(MaxPromptDuration/time.Second) * rate
	pcm := make([]int16, 0, max(0, min(int(d.Length()/4), maxSamples)))
	buf := make([]byte, 4*1152)
	for {
		n, rerr := io.ReadFull(d, buf)
		for i := 0; i+4 <= n; i += 4 {
			l := int32(int16(binary.LittleEndian.Uint16(buf[i:])))
			r := int32(int16(binary.LittleEndian.Uint16(buf[i+2:])))
			pcm = append(pcm, int16((l+r)/2))
		}
		if len(pcm) > maxSamples {
			return nil, wrap(formatErr("mp3", -1, "longer than %v", MaxPromptDuration))
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, wrap(formatErr("mp3", -1, "%v", rerr))
		}
	}
	if len(pcm) == 0 {
		return nil, wrap(formatErr("mp3", -1, "no audio"))
	}
	return &Prompt{name: name, version: digest(b), format: FormatMP3, rate: rate, pcm: pcm,
		dur: time.Duration(len(pcm)) * time.Second / time.Duration(rate)}, nil
}

// skipID3v2 returns b without its leading ID3v2 tags. The decoder skips a
// tag by allocating a buffer of its declared size (up to 512 MiB from a
// 10-byte header) and reading it: the sizes are checked against the input
// here first, so the work stays proportional to the input.
func skipID3v2(b []byte) ([]byte, error) {
	off := 0
	for len(b)-off >= 3 && string(b[off:off+3]) == "ID3" {
		h := b[off:]
		if len(h) < 10 {
			return nil, formatErr("mp3", int64(off), "truncated ID3v2 header")
		}
		size := 0
		for _, c := range h[6:10] {
			if c >= 0x80 {
				return nil, formatErr("mp3", int64(off+6), "ID3v2 tag size not syncsafe")
			}
			size = size<<7 | int(c)
		}
		size += 10
		if h[5]&0x10 != 0 {
			size += 10 // footer
		}
		if size > len(h) {
			return nil, formatErr("mp3", int64(off), "ID3v2 tag of %d bytes in %d", size, len(h))
		}
		off += size
	}
	return b[off:], nil
}

// LoadWAV decodes a RIFF WAVE prompt: 16-bit integer PCM (format 1 or
// WAVE_FORMAT_EXTENSIBLE), mono or stereo (downmixed), 8 to 48 kHz.
func LoadWAV(name string, r io.Reader) (*Prompt, error) {
	b, err := readAll("wav", name, r)
	if err != nil {
		return nil, err
	}
	rate, pcm, err := parseWAV(b)
	if err != nil {
		return nil, fmt.Errorf("notice: load wav prompt %q: %w", name, err)
	}
	return &Prompt{name: name, version: digest(b), format: FormatWAV, rate: rate, pcm: pcm,
		dur: time.Duration(len(pcm)) * time.Second / time.Duration(rate)}, nil
}

func parseWAV(b []byte) (rate int, pcm []int16, err error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, nil, formatErr("wav", 0, "not a RIFF WAVE file")
	}
	var (
		channels, bits int
		haveFmt        bool
	)
	off := 12
	for off+8 <= len(b) {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		if size < 0 || size > len(b)-body {
			if id == "data" && haveFmt { // streaming writers leave the size unset
				size = len(b) - body
			} else {
				return 0, nil, formatErr("wav", int64(off), "chunk %q overruns the file", id)
			}
		}
		chunk := b[body : body+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return 0, nil, formatErr("wav", int64(off), "fmt chunk too short")
			}
			tag := binary.LittleEndian.Uint16(chunk[0:])
			channels = int(binary.LittleEndian.Uint16(chunk[2:]))
			rate = int(binary.LittleEndian.Uint32(chunk[4:]))
			bits = int(binary.LittleEndian.Uint16(chunk[14:]))
			if tag == 0xFFFE && size >= 26 {
				tag = binary.LittleEndian.Uint16(chunk[24:]) // sub-format GUID's first two bytes
			}
			if tag != 1 {
				return 0, nil, formatErr("wav", int64(off), "format tag %d (only integer PCM)", tag)
			}
			if bits != 16 {
				return 0, nil, formatErr("wav", int64(off), "%d bits per sample (only 16)", bits)
			}
			if channels != 1 && channels != 2 {
				return 0, nil, formatErr("wav", int64(off), "%d channels (only 1 or 2)", channels)
			}
			if rate < 8000 || rate > 48000 {
				return 0, nil, formatErr("wav", int64(off), "sample rate %d (8000 to 48000)", rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return 0, nil, formatErr("wav", int64(off), "data before fmt")
			}
			frame := 2 * channels
			n := size / frame
			if n == 0 {
				return 0, nil, formatErr("wav", int64(off), "no audio")
			}
			if time.Duration(n)*time.Second/time.Duration(rate) > MaxPromptDuration {
				return 0, nil, formatErr("wav", int64(off), "longer than %v", MaxPromptDuration)
			}
			pcm = make([]int16, n)
			for i := range pcm {
				s := int32(int16(binary.LittleEndian.Uint16(chunk[i*frame:])))
				if channels == 2 {
					s = (s + int32(int16(binary.LittleEndian.Uint16(chunk[i*frame+2:])))) / 2
				}
				pcm[i] = int16(s)
			}
			return rate, pcm, nil
		}
		off = body + size + size&1 // chunks are padded to even sizes
	}
	if !haveFmt {
		return 0, nil, formatErr("wav", int64(off), "no fmt chunk")
	}
	return 0, nil, formatErr("wav", int64(off), "no data chunk")
}

// LoadOggOpus reads an Ogg Opus prompt (RFC 7845), mono or stereo. Its
// packets are sent as they are to Opus calls, and decoded for G.711 calls.
func LoadOggOpus(name string, r io.Reader) (*Prompt, error) {
	b, err := readAll("ogg", name, r)
	if err != nil {
		return nil, err
	}
	o, err := parseOggOpus(b)
	if err != nil {
		return nil, fmt.Errorf("notice: load ogg prompt %q: %w", name, err)
	}
	total := 0
	for _, d := range o.durs {
		total += d
	}
	return &Prompt{name: name, version: digest(b), format: FormatOggOpus, rate: 48000,
		opus: o.packets, opusDur: o.durs, preSkip: o.preSkip,
		dur: time.Duration(max(0, total-o.preSkip)) * time.Second / 48000}, nil
}

type oggOpus struct {
	packets [][]byte
	durs    []int
	preSkip int
}

// parseOggOpus reads the first logical stream of an Ogg file: OpusHead,
// OpusTags, then audio packets. Checksums are verified.
func parseOggOpus(b []byte) (*oggOpus, error) {
	var (
		o       oggOpus
		serial  uint32
		pending []byte // a packet continued on the next page
		npkt    int    // packets seen, headers included
		total   int
	)
	off := 0
	for first := true; off < len(b); first = false {
		if len(b)-off < 27 || string(b[off:off+4]) != "OggS" {
			return nil, formatErr("ogg", int64(off), "no Ogg page")
		}
		h := b[off : off+27]
		if h[4] != 0 {
			return nil, formatErr("ogg", int64(off), "Ogg version %d", h[4])
		}
		flags := h[5]
		ser := binary.LittleEndian.Uint32(h[14:])
		nseg := int(h[26])
		if len(b)-off < 27+nseg {
			return nil, formatErr("ogg", int64(off), "truncated page")
		}
		lace := b[off+27 : off+27+nseg]
		size := 0
		for _, l := range lace {
			size += int(l)
		}
		end := off + 27 + nseg + size
		if end > len(b) {
			return nil, formatErr("ogg", int64(off), "truncated page")
		}
		if oggCRC(b[off:end]) != binary.LittleEndian.Uint32(h[22:]) {
			return nil, formatErr("ogg", int64(off), "page checksum mismatch")
		}
		if first {
			if flags&0x02 == 0 {
				return nil, formatErr("ogg", int64(off), "first page is not a beginning of stream")
			}
			serial = ser
		}
		if ser != serial { // another logical stream (e.g. a chained or multiplexed file): ignore it
			off = end
			continue
		}
		if flags&0x01 == 0 && pending != nil {
			return nil, formatErr("ogg", int64(off), "packet continuation missing")
		}
		if flags&0x01 != 0 && pending == nil {
			return nil, formatErr("ogg", int64(off), "continued packet without a start")
		}
		body := b[off+27+nseg : end]
		p := 0
		for _, l := range lace {
			pending = append(pending, body[p:p+int(l)]...)
			p += int(l)
			if l == 255 {
				continue
			}
			pkt := pending
			pending = nil
			switch npkt {
			case 0:
				if len(pkt) < 19 || string(pkt[:8]) != "OpusHead" {
					return nil, formatErr("ogg", int64(off), "first packet is not OpusHead")
				}
				if pkt[8]&0xF0 != 0 {
					return nil, formatErr("ogg", int64(off), "OpusHead version %d", pkt[8])
				}
				if ch := pkt[9]; ch != 1 && ch != 2 || pkt[18] != 0 {
					return nil, formatErr("ogg", int64(off), "only mono or stereo Opus (mapping family 0)")
				}
				o.preSkip = int(binary.LittleEndian.Uint16(pkt[10:]))
			case 1:
				if len(pkt) < 8 || string(pkt[:8]) != "OpusTags" {
					return nil, formatErr("ogg", int64(off), "second packet is not OpusTags")
				}
			default:
				d, err := opusPacketSamples(pkt)
				if err != nil {
					return nil, formatErr("ogg", int64(off), "audio packet %d: %v", npkt-2, err)
				}
				total += d
				if total > int(MaxPromptDuration/time.Second)*48000 {
					return nil, formatErr("ogg", int64(off), "longer than %v", MaxPromptDuration)
				}
				o.packets = append(o.packets, pkt)
				o.durs = append(o.durs, d)
			}
			npkt++
		}
		off = end
		if flags&0x04 != 0 { // end of stream
			break
		}
	}
	if pending != nil {
		return nil, formatErr("ogg", int64(off), "truncated packet at end of stream")
	}
	if len(o.packets) == 0 {
		return nil, formatErr("ogg", int64(off), "no audio packets")
	}
	return &o, nil
}

// opusPacketSamples returns the duration of an Opus packet in 48 kHz
// samples, from its TOC byte and frame count (RFC 6716 section 3).
func opusPacketSamples(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("empty packet")
	}
	cfg := p[0] >> 3
	var fs int // one frame, in 48 kHz samples
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		fs = []int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // Hybrid: 10, 20 ms
		fs = []int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		fs = []int{120, 240, 480, 960}[cfg&3]
	}
	var frames int
	switch p[0] & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0, errors.New("code 3 packet without frame count")
		}
		frames = int(p[1] & 0x3F)
		if frames == 0 {
			return 0, errors.New("code 3 packet with no frames")
		}
	}
	if fs*frames > 5760 {
		return 0, fmt.Errorf("packet of %d samples (over 120 ms)", fs*frames)
	}
	return fs * frames, nil
}

var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC computes an Ogg page checksum, with the checksum field as zero.
func oggCRC(page []byte) uint32 {
	var c uint32
	for i, v := range page {
		if i >= 22 && i < 26 {
			v = 0
		}
		c = c<<8 ^ oggTable[byte(c>>24)^v]
	}
	return c
}
