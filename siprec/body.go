package siprec

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// maxBody bounds an INVITE body.
const maxBody = 1 << 20

// SplitBody returns the SDP offer and the recording metadata of a SIPREC
// INVITE body (RFC 7866: multipart/mixed with application/sdp and
// application/rs-metadata+xml parts). A bare SDP body (a re-INVITE that
// only changes media) gives nil metadata. Anything else is an error
// wrapping ErrBody.
func SplitBody(contentType string, body []byte) (offer, metadata []byte, err error) {
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBody, len(body), maxBody)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: content type %q: %v", ErrBody, contentType, err)
	}
	switch mt {
	case "application/sdp":
		return body, nil, nil
	case "multipart/mixed":
	default:
		return nil, nil, fmt.Errorf("%w: content type %q, want multipart/mixed", ErrBody, mt)
	}
	if params["boundary"] == "" {
		return nil, nil, fmt.Errorf("%w: multipart without boundary", ErrBody)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBody, err)
		}
		b, err := io.ReadAll(io.LimitReader(p, maxBody))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrBody, err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "application/sdp":
			offer = b
		case "application/rs-metadata+xml", "application/rs-metadata":
			metadata = b
		}
	}
	if offer == nil || metadata == nil {
		return nil, nil, fmt.Errorf("%w: multipart/mixed needs an application/sdp and an application/rs-metadata+xml part", ErrBody)
	}
	return offer, metadata, nil
}

// Codec names.
const (
	codecOpus = "opus"
	codecPCMU = "PCMU"
	codecPCMA = "PCMA"
)

// media is one audio line of an offer, with what the recorder takes of it.
type media struct {
	Label     string
	Codec     string // opus, PCMU, PCMA
	PT        uint8
	DTMFPT    uint8 // 0: none offered
	DTMFRate  uint32
	Inactive  bool // a=inactive: the SRC paused this stream
	Formats   []string
	mediaLine int
}

// parseOffer reads the audio lines of an SDP offer: for each, its label and
// the first codec the recorder takes (Opus, then PCMU, then PCMA), and
// RFC 4733 telephone-event. An offer that does not parse gives ErrBody; an
// audio line without a usable codec gives ErrCodec.
func parseOffer(b []byte) ([]media, error) {
	var sd sdp.SessionDescription
	if len(b) > 0 && b[len(b)-1] != '\n' {
		// A multipart part ends before the CRLF that precedes its
		// boundary: the SDP's last line has no line ending of its own.
		b = append(b[:len(b):len(b)], '\r', '\n')
	}
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: sdp: %v", ErrBody, err)
	}
	var out []media
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		m := media{mediaLine: i}
		if l, ok := md.Attribute("label"); ok {
			m.Label = strings.TrimSpace(l)
		} else {
			m.Label = strconv.Itoa(len(out) + 1)
		}
		_, m.Inactive = md.Attribute("inactive")
		rtpmap := map[uint8]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, rest, ok := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(pt, 10, 8)
			if !ok || err != nil || n > 127 {
				continue
			}
			rtpmap[uint8(n)] = rest
		}
		best := 99
		for _, f := range md.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil || n > 127 {
				continue
			}
			pt := uint8(n)
			name, rate := rtpmapName(pt, rtpmap)
			switch {
			case strings.EqualFold(name, "telephone-event"):
				m.DTMFPT, m.DTMFRate = pt, rate
				continue
			}
			rank := map[string]int{codecOpus: 0, codecPCMU: 1, codecPCMA: 2}
			for c, r := range rank {
				if strings.EqualFold(name, c) && r < best && (c != codecOpus || rate == 48000) && (c == codecOpus || rate == 8000) {
					best, m.Codec, m.PT = r, c, pt
				}
			}
		}
		if m.Codec == "" {
			return nil, fmt.Errorf("%w: audio line %d (label %s) offers %v", ErrCodec, i, m.Label, md.MediaName.Formats)
		}
		m.Formats = []string{strconv.Itoa(int(m.PT))}
		if m.DTMFPT != 0 {
			m.Formats = append(m.Formats, strconv.Itoa(int(m.DTMFPT)))
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no audio line", ErrCodec)
	}
	return out, nil
}

// rtpmapName returns a payload type's encoding name and clock rate: from
// its rtpmap, else the static types of RFC 3551.
func rtpmapName(pt uint8, rtpmap map[uint8]string) (string, uint32) {
	if v, ok := rtpmap[pt]; ok {
		name, rest, _ := strings.Cut(v, "/")
		rateS, _, _ := strings.Cut(rest, "/")
		rate, _ := strconv.ParseUint(rateS, 10, 32)
		return name, uint32(rate)
	}
	switch pt {
	case 0:
		return codecPCMU, 8000
	case 8:
		return codecPCMA, 8000
	}
	return "", 0
}

// answer builds the SDP answer: one recvonly audio line per offered one, on
// the given ports, with the chosen codec and telephone-event.
func answer(host string, ms []media, ports []int, sessID uint64) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=consentrec %d %d IN IP4 %s\r\ns=consentrec SRS\r\nc=IN IP4 %s\r\nt=0 0\r\n", sessID, sessID, host, host)
	for i, m := range ms {
		fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", ports[i], strings.Join(m.Formats, " "))
		switch m.Codec {
		case codecOpus:
			fmt.Fprintf(&b, "a=rtpmap:%d opus/48000/2\r\n", m.PT)
		default:
			fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", m.PT, m.Codec)
		}
		if m.DTMFPT != 0 {
			rate := m.DTMFRate
			if rate == 0 {
				rate = 8000
			}
			fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/%d\r\na=fmtp:%d 0-15\r\n", m.DTMFPT, rate, m.DTMFPT)
		}
		fmt.Fprintf(&b, "a=label:%s\r\na=recvonly\r\n", m.Label)
	}
	return []byte(b.String()), nil
}
