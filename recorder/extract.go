package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNoLeg: ExtractLeg was asked for a leg no channel of the file carries,
// or one it cannot take out without transcoding (a coupled stereo pair).
var ErrNoLeg = errors.New("no separable channel for that leg")

// ExtractLeg writes to w the channel of r (an Ogg Opus file as Inspect
// reads them) that carries role's voice, as a mono Ogg Opus file, without
// transcoding: the dual-channel layout stores each leg in its own Opus
// stream (channel mapping family 1, no coupled streams), whose packets are
// re-muxed as they are. The output keeps the input's pre-skip, output
// gain, sample rate, vendor, tags (LEFT/RIGHT become LEG=role and the
// layout mono) and granule positions, end trimming included, so it plays
// exactly as long as the input. A data subject's copy of a call is thus
// their voice only (GDPR Art. 15(4)).
//
// A mono input whose LEG is role is re-muxed the same way. It returns the
// Info of what it wrote (as Inspect reads it). Errors: ErrNoLeg when no
// channel carries role or the channel is in a coupled stream; ErrFormat for
// a damaged input (every page CRC is checked), or one starting at a granule
// offset; w's error. On error, what was written must be discarded.
func ExtractLeg(r io.Reader, w io.Writer, role Role) (*Info, error) {
	if !role.Valid() {
		return nil, fmt.Errorf("extract: leg %q: %w", role, ErrNoLeg)
	}
	// What is written is read back as Inspect would, to report it (and to
	// check it).
	pr, pw := io.Pipe()
	type result struct {
		info *Info
		err  error
	}
	done := make(chan result, 1)
	go func() {
		in, err := Inspect(pr) // reads to the end the writer closes
		if err != nil {
			pr.CloseWithError(err) // unblock the writer
		}
		done <- result{in, err}
	}()
	err := extractLeg(r, io.MultiWriter(w, pw), role)
	pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, fmt.Errorf("extract: reading back the output: %w", res.err)
	}
	return res.info, nil
}

func extractLeg(r io.Reader, w io.Writer, role Role) error {
	var (
		pg      oggPage
		head    []byte // the input's OpusHead
		serial  uint32
		out     *oggStream
		stream  = -1 // the input stream carrying role
		parse   opusPacket
		written int64 // samples
	)
	pr := newPageReader(r)
	wk := &walker{}
	wk.onAudio = func(streams [][]byte, _ int) error {
		in := &wk.info
		if out == nil {
			s, err := legStream(in, role)
			if err != nil {
				return err
			}
			stream = s
			out = newOggStream(w, serial, 1, 64<<10)
			tags := monoTags(in, role)
			if len(tags) >= maxSegments*255 {
				return fmt.Errorf("comment header of %d bytes: %w", len(tags), ErrFormat)
			}
			if err := out.writeHeader(monoHead(head), flagBOS); err != nil {
				return err
			}
			if err := out.writeHeader(tags, 0); err != nil {
				return err
			}
		}
		p := streams[stream]
		if err := parseOpus(p, false, &parse); err != nil {
			return fmt.Errorf("stream %d: %w", stream, err)
		}
		n := parse.samples()
		written += int64(n)
		return out.add(p, n)
	}
	var firstAudioChecked bool
	for {
		err := pr.next(&pg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		if wk.info.Pages == 0 {
			serial = pg.serial
			if len(pg.lacing) > 0 && pg.lacing[0] < 255 {
				head = bytes.Clone(pg.body[:pg.lacing[0]])
			}
		}
		before := wk.info.Packets
		if err := wk.page(&pg); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		// The first page ending an audio packet sets the stream's start:
		// only a stream starting at granule 0 is supported.
		if !firstAudioChecked && wk.info.Packets > before && pg.granule >= 0 {
			firstAudioChecked = true
			if pg.granule != written && !(pg.flags&flagEOS != 0 && pg.granule < written) {
				return fmt.Errorf("extract: first audio page at granule %d after %d samples (a start offset): %w", pg.granule, written, ErrFormat)
			}
		}
	}
	if wk.info.Channels == 0 {
		return fmt.Errorf("extract: no OpusHead: %w", ErrFormat)
	}
	if out == nil {
		return fmt.Errorf("extract: no audio packet: %w", ErrFormat)
	}
	// End trimming: the last granule is the input's, never below a page
	// already written.
	final := out.granule
	if g := wk.info.Granule; g < final {
		final = max(g, out.pageStart)
	}
	if err := out.writePage(flagEOS, final); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	return nil
}

// legStream returns the index of the Opus stream carrying role, alone.
func legStream(in *Info, role Role) (int, error) {
	ch := -1
	for i, r := range in.Roles() {
		if r == role {
			ch = i
			break
		}
	}
	if ch < 0 {
		return 0, fmt.Errorf("extract: no channel is tagged %s (legs %v): %w", role, in.Roles(), ErrNoLeg)
	}
	if in.Family == 0 {
		if in.Channels == 1 {
			return 0, nil
		}
		return 0, fmt.Errorf("extract: %s is half of a coupled stereo stream: %w", role, ErrNoLeg)
	}
	if ch >= len(in.Mapping) {
		return 0, fmt.Errorf("extract: channel %d not in the mapping table: %w", ch, ErrFormat)
	}
	m := int(in.Mapping[ch])
	switch {
	case m == 255:
		return 0, fmt.Errorf("extract: %s's channel is silent (mapping 255): %w", role, ErrNoLeg)
	case m < 2*in.Coupled:
		return 0, fmt.Errorf("extract: %s is half of coupled stream %d: %w", role, m/2, ErrNoLeg)
	case m-in.Coupled >= in.Streams:
		return 0, fmt.Errorf("extract: mapping %d beyond %d streams: %w", m, in.Streams, ErrFormat)
	}
	return m - in.Coupled, nil
}

// monoHead is head (the input's OpusHead) made mono, family 0: same
// version, pre-skip, input sample rate and output gain.
func monoHead(head []byte) []byte {
	h := opusHead(1)
	if len(head) >= 19 {
		copy(h[10:18], head[10:18]) // pre-skip, sample rate, gain
	}
	return h
}

// monoTags is the input's comment header for the one leg kept.
func monoTags(in *Info, role Role) []byte {
	var c []string
	for _, t := range in.Tags {
		k, _, _ := strings.Cut(t, "=")
		switch strings.ToUpper(k) {
		case "LEFT", "RIGHT", "LEG", "CONSENTREC_LAYOUT":
			continue
		}
		c = append(c, t)
	}
	c = append(c, "CONSENTREC_LAYOUT="+string(LayoutMono), "LEG="+string(role))
	return opusTags(in.Vendor, c)
}
