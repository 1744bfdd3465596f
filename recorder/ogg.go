package recorder

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// Ogg CRC-32 (RFC 3533): polynomial 0x04C11DB7, MSB first, init 0, no final
// xor. Slicing-by-16 tables (16 KiB): oggCRC[k][b] is the CRC of byte b
// followed by k zero bytes.
var oggCRC [16][256]uint32

func init() {
	for i := range 256 {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		oggCRC[0][i] = r
	}
	for k := 1; k < len(oggCRC); k++ {
		for i := range 256 {
			p := oggCRC[k-1][i]
			oggCRC[k][i] = p<<8 ^ oggCRC[0][p>>24]
		}
	}
}

// oggChecksum continues the Ogg CRC crc over p, 16 bytes at a time.
func oggChecksum(crc uint32, p []byte) uint32 {
	t := &oggCRC
	for len(p) >= 16 {
		crc ^= binary.BigEndian.Uint32(p)
		w1 := binary.BigEndian.Uint32(p[4:])
		w2 := binary.BigEndian.Uint32(p[8:])
		w3 := binary.BigEndian.Uint32(p[12:])
		crc = t[15][crc>>24] ^ t[14][crc>>16&0xff] ^ t[13][crc>>8&0xff] ^ t[12][crc&0xff] ^
			t[11][w1>>24] ^ t[10][w1>>16&0xff] ^ t[9][w1>>8&0xff] ^ t[8][w1&0xff] ^
			t[7][w2>>24] ^ t[6][w2>>16&0xff] ^ t[5][w2>>8&0xff] ^ t[4][w2&0xff] ^
			t[3][w3>>24] ^ t[2][w3>>16&0xff] ^ t[1][w3>>8&0xff] ^ t[0][w3&0xff]
		p = p[16:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^b]
	}
	return crc
}

const (
	pageHeaderLen = 27
	maxSegments   = 255
	pageReserve   = pageHeaderLen + maxSegments
	flagContinued = 0x01
	flagBOS       = 0x02
	flagEOS       = 0x04
	preSkip       = 312 // libopus encoder lookahead at 48 kHz (pion's 3840 drops 73 ms)
	pageSamples   = 48000
)

// oggStream writes one logical Ogg stream of Opus packets to w, one write
// per page. Pages hold about one second of audio: a page is written when
// the next packet would take it past a second (or 255 segments, or the
// capacity of the page buffer), so that the last page, written with EOS at
// close, always carries packets. The page buffer never grows: a loud
// second makes a page shorter than a second (granule positions stay
// exact), not a larger buffer kept for the rest of the call.
//
// Once a recording runs (sess set), its pages are not written here but
// queued, copied, for the session's Writers (session.queuePage): the
// packet path never waits for the store. The header pages at Start, the
// last page at Stop and recovery are written directly.
type oggStream struct {
	// Hot fields first (one cache line), the segment table last.
	err       error
	granule   int64 // granule position after the last added packet
	pageStart int64 // granule at the start of the buffered page
	nseg      int
	npk       int
	buf       []byte
	size      int // cap(buf): a packet larger than a page buffer grows it for its page only
	w         io.Writer
	sess      *session // queued mode: pages go to sess's Writers
	serial    uint32
	seq       uint32
	channels  int      // 1: mono; 2: the dual-channel layout (two streams)
	idx       uint8    // the file's index in its session
	pk        [2]int32 // packets of each leg in the buffered page (LegStats.Packets)
	lacing    [maxSegments]byte
}

// pageBodyCap is the body a page buffer holds: a second at 24 kbit/s per
// channel (a page is written before a packet that would not fit).
func pageBodyCap(channels int) int { return 3072 * channels }

// newOggStream returns a stream whose page buffer holds at least bodyCap
// bytes of packets (all its allocation size class holds: the rounding is
// free).
func newOggStream(w io.Writer, serial uint32, channels, bodyCap int) *oggStream {
	buf := slices.Grow([]byte(nil), pageReserve+bodyCap)[:pageReserve]
	return &oggStream{w: w, serial: serial, channels: channels, buf: buf, size: cap(buf)}
}

// writePage writes the buffered packets as one page, or queues it.
func (s *oggStream) writePage(flags byte, granule int64) error {
	if s.err != nil {
		return s.err
	}
	start := pageReserve - pageHeaderLen - s.nseg
	h := s.buf[start:]
	putPageHeader(h, flags, granule, s.serial, s.seq, s.lacing[:s.nseg])
	if s.sess != nil {
		s.sess.queuePage(s, start) // sets buf and seq for the next page
	} else {
		binary.LittleEndian.PutUint32(h[22:], oggChecksum(0, h))
		_, err := s.w.Write(h)
		s.seq++
		s.buf = s.buf[:pageReserve]
		if err != nil {
			s.err = err
		}
	}
	if cap(s.buf) > s.size {
		// A header or a packet larger than the whole buffer grew it
		// (never the audio of a call in practice): back to its size.
		s.buf = make([]byte, pageReserve, s.size)
	}
	s.nseg, s.npk = 0, 0
	s.pk = [2]int32{}
	s.pageStart = s.granule
	return s.err
}

// putPageHeader fills the header and segment table at the start of h, with
// a zero CRC (computed over the whole page once it is complete).
func putPageHeader(h []byte, flags byte, granule int64, serial, seq uint32, lacing []byte) {
	copy(h, "OggS")
	h[4] = 0
	h[5] = flags
	binary.LittleEndian.PutUint64(h[6:], uint64(granule))
	binary.LittleEndian.PutUint32(h[14:], serial)
	binary.LittleEndian.PutUint32(h[18:], seq)
	binary.LittleEndian.PutUint32(h[22:], 0)
	h[26] = byte(len(lacing))
	copy(h[27:], lacing)
}

// silenceDual is 20 ms of silence in both streams of the dual-channel
// layout (the first self-delimited).
var silenceDual = []byte{0xF8, 0x02, 0xFF, 0xFE, 0xF8, 0xFF, 0xFE}

// writeSilence writes the pages of 20 ms silence packets that stand for
// granules [from, to) of a stream (pages dropped for overload): 50 packets
// a page, the first page numbered seq. from and to are multiples of 20 ms.
func writeSilence(w io.Writer, serial uint32, channels int, seq uint32, from, to int64) error {
	pk := silence20
	if channels == 2 {
		pk = silenceDual
	}
	const perPage = pageSamples / slotSamples
	var lacing [perPage]byte
	for i := range lacing {
		lacing[i] = byte(len(pk))
	}
	buf := make([]byte, pageHeaderLen+perPage*(1+len(pk)))
	for g := from; g < to; seq++ {
		n := min(to-g, pageSamples) / slotSamples
		if n == 0 {
			return fmt.Errorf("recorder: silence run of %d samples: not whole 20 ms packets", to-from)
		}
		g += n * slotSamples
		h := buf[:pageHeaderLen+int(n)*(1+len(pk))]
		putPageHeader(h, 0, g, serial, seq, lacing[:n])
		body := h[pageHeaderLen+int(n):]
		for i := range n {
			copy(body[int(i)*len(pk):], pk)
		}
		binary.LittleEndian.PutUint32(h[22:], oggChecksum(0, h))
		if _, err := w.Write(h); err != nil {
			return err
		}
	}
	return nil
}

// writeHeader writes one header packet (OpusHead, OpusTags) on its own page.
func (s *oggStream) writeHeader(p []byte, flags byte) error {
	if len(p) >= maxSegments*255 {
		panic("recorder: header too large") // built from bounded, validated fields
	}
	s.buf = append(s.buf, p...)
	s.nseg = 0
	for n := len(p); ; n -= 255 {
		if n < 255 {
			s.lacing[s.nseg] = byte(n)
			s.nseg++
			break
		}
		s.lacing[s.nseg] = 255
		s.nseg++
	}
	return s.writePage(flags, 0)
}

// add appends one audio packet lasting samples (48 kHz).
func (s *oggStream) add(p []byte, samples int) error {
	if err := s.begin(len(p)); err != nil {
		return err
	}
	s.buf = append(s.buf, p...)
	s.end(len(p), samples)
	return nil
}

// begin makes room for a packet of n bytes: it writes the buffered page
// first if the packet would take it past a second or 255 segments, or not
// fit the buffer's capacity. The caller then appends the packet's bytes
// to s.buf and calls end.
func (s *oggStream) begin(n int) error {
	if s.err != nil {
		return s.err
	}
	if s.npk > 0 && (s.granule-s.pageStart >= pageSamples || s.nseg+n/255+1 > maxSegments || len(s.buf)+n > cap(s.buf)) {
		return s.writePage(0, s.granule)
	}
	return nil
}

// end records the lacing of the packet of n bytes just appended.
func (s *oggStream) end(n, samples int) {
	for n >= 255 {
		s.lacing[s.nseg] = 255
		s.nseg++
		n -= 255
	}
	s.lacing[s.nseg] = byte(n)
	s.nseg++
	s.npk++
	s.granule += int64(samples)
}

// close writes the last page with EOS.
func (s *oggStream) close() error {
	if s.npk == 0 {
		// Only possible for a stream without audio: give it 20 ms of silence
		// (in every stream) so that the EOS page carries a packet.
		p := silence20
		if s.channels == 2 {
			p = silenceDual
		}
		if err := s.add(p, 960); err != nil {
			return err
		}
	}
	return s.writePage(flagEOS, s.granule)
}

// opusHead builds the identification header: mono (family 0) or the
// dual-channel layout (family 1, 2 streams, 0 coupled, map [0 1]).
func opusHead(channels int) []byte {
	h := []byte("OpusHead")
	h = append(h, 1, byte(channels))
	h = binary.LittleEndian.AppendUint16(h, preSkip)
	h = binary.LittleEndian.AppendUint32(h, 48000)
	h = append(h, 0, 0) // output gain
	if channels == 1 {
		return append(h, 0)
	}
	return append(h, 1, 2, 0, 0, 1)
}

// opusTags builds the comment header.
func opusTags(vendor string, comments []string) []byte {
	h := []byte("OpusTags")
	h = binary.LittleEndian.AppendUint32(h, uint32(len(vendor)))
	h = append(h, vendor...)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(comments)))
	for _, c := range comments {
		h = binary.LittleEndian.AppendUint32(h, uint32(len(c)))
		h = append(h, c...)
	}
	return h
}
