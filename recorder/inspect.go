package recorder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// ErrFormat: the bytes are not a valid Ogg Opus stream as this package
// writes and reads them (bad page CRC, truncated page, bad header).
var ErrFormat = errors.New("invalid ogg opus file")

// oggPage is one page read from a stream.
type oggPage struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	lacing  []byte
	body    []byte
	offset  int64 // of the page in the stream
	size    int   // header + body
}

// pageReader reads Ogg pages, checking their CRC. It keeps a running
// SHA-256 of the bytes read.
type pageReader struct {
	r   *bufio.Reader
	off int64
	raw []byte
	h   hash.Hash
}

func newPageReader(r io.Reader) *pageReader {
	return &pageReader{r: bufio.NewReaderSize(r, 64<<10), h: sha256.New()}
}

// cutOrFailed is the error of a page that could not be read whole: a cut
// page (ErrFormat, io.ErrUnexpectedEOF), or the reader's own error (a disk
// error), which says nothing of the page and is returned as is.
func cutOrFailed(off int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("page at %d: %w: %w", off, ErrFormat, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("page at %d: %w", off, err)
}

// next returns the next page. It returns io.EOF at a clean end, and an
// error wrapping ErrFormat (io.ErrUnexpectedEOF for a cut page) for bad
// bytes, the reader's error (not ErrFormat) when reading fails;
// the page's bytes stay in pr.raw until the next call.
func (pr *pageReader) next(pg *oggPage) error {
	var hdr [pageHeaderLen]byte
	n, err := io.ReadFull(pr.r, hdr[:])
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		pr.off += int64(n)
		return cutOrFailed(pr.off-int64(n), err)
	}
	if string(hdr[:4]) != "OggS" || hdr[4] != 0 {
		return fmt.Errorf("page at %d: no capture pattern: %w", pr.off, ErrFormat)
	}
	nseg := int(hdr[26])
	pr.raw = append(pr.raw[:0], hdr[:]...)
	pr.raw = append(pr.raw, make([]byte, nseg)...)
	if _, err := io.ReadFull(pr.r, pr.raw[pageHeaderLen:]); err != nil {
		return cutOrFailed(pr.off, err)
	}
	bodyLen := 0
	for _, l := range pr.raw[pageHeaderLen:] {
		bodyLen += int(l)
	}
	start := len(pr.raw)
	pr.raw = append(pr.raw, make([]byte, bodyLen)...)
	if _, err := io.ReadFull(pr.r, pr.raw[start:]); err != nil {
		return cutOrFailed(pr.off, err)
	}
	want := binary.LittleEndian.Uint32(pr.raw[22:])
	binary.LittleEndian.PutUint32(pr.raw[22:], 0)
	got := oggChecksum(0, pr.raw)
	binary.LittleEndian.PutUint32(pr.raw[22:], want)
	if got != want {
		return fmt.Errorf("page at %d: bad CRC: %w", pr.off, ErrFormat)
	}
	pr.h.Write(pr.raw)
	*pg = oggPage{
		flags: hdr[5], granule: int64(binary.LittleEndian.Uint64(hdr[6:])),
		serial: binary.LittleEndian.Uint32(hdr[14:]), seq: binary.LittleEndian.Uint32(hdr[18:]),
		lacing: pr.raw[pageHeaderLen:start], body: pr.raw[start:], offset: pr.off, size: len(pr.raw),
	}
	pr.off += int64(len(pr.raw))
	return nil
}

// Info describes an Ogg Opus file.
type Info struct {
	Channels     int      // output channels
	Family       int      // channel mapping family
	Streams      int      // Opus streams
	Coupled      int      // coupled (stereo) streams
	Mapping      []byte   // channel mapping (family 1)
	PreSkip      int      // samples at 48 kHz
	Vendor       string   // OpusTags vendor
	Tags         []string // OpusTags comments, "KEY=value"
	Pages        int
	Packets      int           // audio packets
	Granule      int64         // last granule position
	Duration     time.Duration // playable length: granule minus pre-skip
	Size         int64
	SHA256       string // hex, of the bytes read
	EOS          bool   // the last page has the end-of-stream flag
	Gaps         []Gap  // runs of fillers per channel (Reason "filler"; Note "silence" or "concealment")
	PayloadBytes int64  // bytes of Opus packets (container overhead = Size - PayloadBytes)
	Mismatched   int    // multistream packets whose streams differ in duration (undecodable)
}

// Tag returns the value of the first comment named key (case-insensitive).
func (in *Info) Tag(key string) string {
	for _, t := range in.Tags {
		k, v, ok := strings.Cut(t, "=")
		if ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Roles returns the leg of each channel, from the LEFT/RIGHT or LEG tags.
func (in *Info) Roles() []Role {
	if in.Channels == 1 {
		return []Role{Role(in.Tag("LEG"))}
	}
	return []Role{Role(in.Tag("LEFT")), Role(in.Tag("RIGHT"))}
}

// parseHead parses an OpusHead packet into in.
func (in *Info) parseHead(p []byte) error {
	if len(p) < 19 || string(p[:8]) != "OpusHead" || p[8]>>4 != 0 {
		return fmt.Errorf("OpusHead: %w", ErrFormat)
	}
	in.Channels, in.PreSkip, in.Family = int(p[9]), int(binary.LittleEndian.Uint16(p[10:])), int(p[18])
	switch in.Family {
	case 0:
		if in.Channels < 1 || in.Channels > 2 {
			return fmt.Errorf("OpusHead: %d channels in family 0: %w", in.Channels, ErrFormat)
		}
		in.Streams, in.Coupled = 1, in.Channels-1
	case 1:
		if len(p) < 21+in.Channels || in.Channels < 1 || in.Channels > 8 {
			return fmt.Errorf("OpusHead: family 1 table: %w", ErrFormat)
		}
		in.Streams, in.Coupled = int(p[19]), int(p[20])
		in.Mapping = append([]byte(nil), p[21:21+in.Channels]...)
	default:
		return fmt.Errorf("OpusHead: mapping family %d not supported: %w", in.Family, ErrFormat)
	}
	if in.Streams < 1 || in.Coupled > in.Streams {
		return fmt.Errorf("OpusHead: streams: %w", ErrFormat)
	}
	return nil
}

func (in *Info) parseTags(p []byte) error {
	if len(p) < 16 || string(p[:8]) != "OpusTags" {
		return fmt.Errorf("OpusTags: %w", ErrFormat)
	}
	p = p[8:]
	rd := func() (string, bool) {
		if len(p) < 4 {
			return "", false
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return "", false
		}
		s := string(p[4 : 4+n])
		p = p[4+n:]
		return s, true
	}
	v, ok := rd()
	if !ok || len(p) < 4 {
		return fmt.Errorf("OpusTags vendor: %w", ErrFormat)
	}
	in.Vendor = v
	n := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(n) > uint64(len(p))/4 {
		return fmt.Errorf("OpusTags count: %w", ErrFormat)
	}
	for range n {
		c, ok := rd()
		if !ok {
			return fmt.Errorf("OpusTags comment: %w", ErrFormat)
		}
		in.Tags = append(in.Tags, c)
	}
	return nil
}

// streamsOf splits an audio packet into its streams (undelimited) and
// returns the duration of each; dst is reused.
func streamsOf(p []byte, nstreams int, dst [][]byte, scratch *[]byte, o *opusPacket) ([][]byte, []int, error) {
	dst = dst[:0]
	durs := make([]int, 0, nstreams)
	buf := (*scratch)[:0]
	for i := 0; i < nstreams-1; i++ {
		if err := parseOpus(p, true, o); err != nil {
			return nil, nil, err
		}
		start := len(buf)
		buf = undelimit(buf, p, o)
		dst = append(dst, buf[start:])
		durs = append(durs, o.samples())
		p = p[o.end:]
	}
	if err := parseOpus(p, false, o); err != nil {
		return nil, nil, err
	}
	dst = append(dst, p)
	durs = append(durs, o.samples())
	*scratch = buf
	return dst, durs, nil
}

// walker assembles packets from pages and describes the stream.
type walker struct {
	info    Info
	gotTags bool
	pending []byte
	streams [][]byte
	scratch []byte
	parse   opusPacket
	pos     int64 // samples of audio packets so far
	runs    []gapRun
	onAudio func(streams [][]byte, samples int) error
}

type gapRun struct {
	open  bool
	start int64
	kind  string
}

func (wk *walker) page(pg *oggPage) error {
	wk.info.Pages++
	if pg.flags&flagContinued == 0 {
		wk.pending = wk.pending[:0]
	}
	body := pg.body
	for _, l := range pg.lacing {
		wk.pending = append(wk.pending, body[:l]...)
		body = body[l:]
		if l == 255 {
			continue
		}
		if err := wk.packet(wk.pending); err != nil {
			return err
		}
		wk.pending = wk.pending[:0]
	}
	if pg.granule >= 0 && wk.info.Packets > 0 {
		wk.info.Granule = pg.granule
	}
	wk.info.EOS = pg.flags&flagEOS != 0
	return nil
}

func (wk *walker) packet(p []byte) error {
	in := &wk.info
	switch {
	case in.Channels == 0:
		return in.parseHead(p)
	case !wk.gotTags:
		if !bytes.HasPrefix(p, []byte("OpusTags")) {
			return fmt.Errorf("missing OpusTags: %w", ErrFormat)
		}
		wk.gotTags = true
		return in.parseTags(p)
	}
	streams, durs, err := streamsOf(p, in.Streams, wk.streams, &wk.scratch, &wk.parse)
	if err != nil {
		return fmt.Errorf("audio packet %d: %w", in.Packets, err)
	}
	wk.streams = streams
	in.Packets++
	in.PayloadBytes += int64(len(p))
	samples := durs[0]
	for _, d := range durs[1:] {
		if d != samples {
			in.Mismatched++
		}
	}
	if len(wk.runs) < len(streams) {
		wk.runs = make([]gapRun, len(streams))
	}
	roles := in.Roles()
	for i, s := range streams {
		// Per frame: a pair of 20 ms frames may hold one filler.
		if parseOpus(s, false, &wk.parse) != nil {
			continue
		}
		fs := int64(frameSamples48(wk.parse.toc))
		for k := 0; k < wk.parse.n; k++ {
			kind := ""
			f := s[wk.parse.off[k] : wk.parse.off[k]+wk.parse.size[k]]
			switch {
			case len(f) == 0:
				kind = "concealment"
			case wk.parse.toc>>3 == 31 && len(f) == 2 && f[0] == 0xFF && f[1] == 0xFE:
				kind = "silence"
			}
			pos := wk.pos + int64(k)*fs
			r := &wk.runs[i]
			if r.open && r.kind != kind {
				wk.closeRun(i, roles, pos)
			}
			if kind != "" && !r.open {
				*r = gapRun{open: true, start: pos, kind: kind}
			}
		}
	}
	if wk.onAudio != nil {
		if err := wk.onAudio(streams, samples); err != nil {
			return err
		}
	}
	wk.pos += int64(samples)
	return nil
}

func (wk *walker) closeRun(i int, roles []Role, end int64) {
	r := &wk.runs[i]
	if !r.open {
		return
	}
	r.open = false
	var role Role
	if i < len(roles) {
		role = roles[i]
	}
	wk.info.Gaps = append(wk.info.Gaps, Gap{
		Start: samplesDur(r.start), End: samplesDur(end), Leg: role, Reason: GapRecovered, Note: r.kind,
	})
}

func samplesDur(n int64) time.Duration { return time.Duration(n) * time.Second / 48000 }

func (wk *walker) finish() {
	roles := wk.info.Roles()
	for i := range wk.runs {
		wk.closeRun(i, roles, wk.pos)
	}
	if wk.info.Granule > int64(wk.info.PreSkip) {
		wk.info.Duration = samplesDur(wk.info.Granule - int64(wk.info.PreSkip))
	}
}

// Inspect reads an Ogg Opus file (mono, stereo, or the dual-channel layout)
// and describes it: channels, duration, tags, filler runs per channel,
// SHA-256. Every page CRC is checked; a damaged file gives an error
// wrapping ErrFormat.
func Inspect(r io.Reader) (*Info, error) {
	return inspect(r, nil, nil)
}

// inspect walks r; onAudio sees every audio packet, split in streams, and
// *head points to the Info being filled (headers are parsed before audio).
func inspect(r io.Reader, onAudio func([][]byte, int) error, head **Info) (*Info, error) {
	pr := newPageReader(r)
	wk := &walker{onAudio: onAudio}
	if head != nil {
		*head = &wk.info
	}
	var pg oggPage
	for {
		err := pr.next(&pg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		if err := wk.page(&pg); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
	}
	if wk.info.Channels == 0 {
		return nil, fmt.Errorf("inspect: no OpusHead: %w", ErrFormat)
	}
	wk.finish()
	wk.info.Size = pr.off
	wk.info.SHA256 = hex.EncodeToString(pr.h.Sum(nil))
	return &wk.info, nil
}

// Packets reads a single-stream Ogg Opus file (such as opusenc writes) and
// returns its Opus packets, for example to replay them as RTP. A
// multistream file gives an error wrapping ErrFormat.
func Packets(r io.Reader) ([][]byte, *Info, error) {
	var pkts [][]byte
	var head *Info
	info, err := inspect(r, func(streams [][]byte, _ int) error {
		if head.Streams != 1 {
			return fmt.Errorf("packets: %d streams: %w", head.Streams, ErrFormat)
		}
		pkts = append(pkts, bytes.Clone(streams[0]))
		return nil
	}, &head)
	if err != nil {
		return nil, nil, err
	}
	return pkts, info, nil
}
