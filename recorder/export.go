package recorder

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pion/opus"
)

// ExportWAV decodes an Ogg Opus file (as Inspect reads them) to a 48 kHz
// 16-bit PCM WAV file, one channel per file channel, pre-skip and end
// trimmed, with github.com/pion/opus. Fillers decode to silence (this
// decoder has no loss concealment). dst must be seekable: the header is
// completed at the end. It returns the file's Info.
func ExportWAV(src io.Reader, dst io.WriteSeeker) (*Info, error) {
	var (
		decs    []opus.Decoder
		pcm     [][]int16
		out     []byte
		written int64 // samples per channel written
		skipped int64
		head    *Info
		parse   opusPacket
		one     []byte
	)
	if _, err := dst.Write(make([]byte, 44)); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var info *Info
	onAudio := func(streams [][]byte, samples int) error {
		in := head
		if decs == nil {
			for i := range streams {
				ch := 1
				if i < in.Coupled {
					ch = 2
				}
				d, err := opus.NewDecoderWithOutput(48000, ch)
				if err != nil {
					return err
				}
				decs = append(decs, d)
				pcm = append(pcm, make([]int16, 5760*ch))
			}
		}
		for i, s := range streams {
			ch := 1
			if i < in.Coupled {
				ch = 2
			}
			buf := pcm[i][:samples*ch]
			clear(buf)
			decodeFrames(&decs[i], s, pcm[i], ch, &parse, &one)
		}
		out = out[:0]
		for k := 0; k < samples; k++ {
			if skipped < int64(in.PreSkip) {
				skipped++
				continue
			}
			for c := 0; c < in.Channels; c++ {
				var v int16
				m := c
				if in.Mapping != nil {
					m = int(in.Mapping[c])
				}
				// stream channels: coupled streams have 2, others 1
				if m < 2*in.Coupled {
					v = pcm[m/2][k*2+m%2]
				} else if si := in.Coupled + (m - 2*in.Coupled); si < len(pcm) {
					v = pcm[si][k]
				}
				out = binary.LittleEndian.AppendUint16(out, uint16(v))
			}
			written++
		}
		_, err := dst.Write(out)
		return err
	}
	// The header must be known before audio: inspect calls parseHead first.
	info, err := inspect(src, func(streams [][]byte, samples int) error {
		return onAudio(streams, samples)
	}, &head)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	// Trim to the granule position (end trimming).
	if want := info.Granule - int64(info.PreSkip); want >= 0 && want < written {
		written = want
	}
	dataLen := written * int64(info.Channels) * 2
	if dataLen > 0xFFFFFFFF-36 {
		return nil, fmt.Errorf("export: %v of audio exceeds the 4 GiB of a WAV file", info.Duration)
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(info.Channels))
	binary.LittleEndian.PutUint32(h[24:], 48000)
	binary.LittleEndian.PutUint32(h[28:], uint32(48000*2*info.Channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*info.Channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataLen))
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if _, err := dst.Write(h[:]); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if t, ok := dst.(interface{ Truncate(int64) error }); ok {
		if err := t.Truncate(44 + dataLen); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	return info, nil
}

// decodeFrames decodes one stream's packet into out (zeroed by the caller),
// frame by frame when it has empty frames (fillers: pion/opus has no
// concealment, they stay silent) so that the decoder never sees them.
func decodeFrames(d *opus.Decoder, p []byte, out []int16, ch int, o *opusPacket, one *[]byte) {
	if parseOpus(p, false, o) != nil {
		return
	}
	empty := false
	for k := 0; k < o.n; k++ {
		empty = empty || o.size[k] == 0
	}
	if !empty {
		if n, err := d.DecodeToInt16(p, out); err != nil || n != o.samples() {
			clear(out) // undecodable by this decoder: silence, never noise
		}
		return
	}
	fs := frameSamples48(o.toc)
	for k := 0; k < o.n; k++ {
		if o.size[k] == 0 {
			continue
		}
		b := append((*one)[:0], o.toc&^3)
		b = append(b, p[o.off[k]:o.off[k]+o.size[k]]...)
		*one = b
		dst := out[k*fs*ch : (k+1)*fs*ch]
		if n, err := d.DecodeToInt16(b, dst); err != nil || n != fs {
			clear(dst)
		}
	}
}
