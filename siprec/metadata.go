package siprec

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// Errors of the SIPREC parsers, each answered with a SIP error response
// (see Server). Check them with errors.Is.
var (
	// ErrBody: the INVITE's body is not the multipart/mixed of an SDP offer
	// and RFC 7865 recording metadata (400).
	ErrBody = errors.New("siprec: malformed body")
	// ErrMetadata: the recording metadata is not usable: not XML, no
	// participant, a stream nobody sends (400).
	ErrMetadata = errors.New("siprec: bad recording metadata")
	// ErrCodec: an audio stream offers no codec the recorder takes (Opus,
	// PCMU, PCMA) (488).
	ErrCodec = errors.New("siprec: no supported codec")
)

// Metadata is the RFC 7865 recording metadata of a recording session: who
// takes part and which media stream (by its SDP a=label) each one sends.
type Metadata struct {
	SessionID    string
	Participants []Participant
	Streams      []Stream
}

// Participant is one party of the recorded call.
type Participant struct {
	ID   string // participant_id
	AOR  string // nameID aor, e.g. "sip:+33123456789@example.com"
	Name string
	Send []string // stream ids the participant sends
}

// Stream is one media stream of the recording session.
type Stream struct {
	ID    string // stream_id
	Label string // the SDP a=label of its media line
}

type xmlRecording struct {
	XMLName      xml.Name         `xml:"recording"`
	Sessions     []xmlSession     `xml:"session"`
	Participants []xmlParticipant `xml:"participant"`
	Streams      []xmlStream      `xml:"stream"`
	Assocs       []xmlAssoc       `xml:"participantstreamassoc"`
}

type xmlSession struct {
	ID string `xml:"session_id,attr"`
}

type xmlParticipant struct {
	ID     string     `xml:"participant_id,attr"`
	NameID []xmlName  `xml:"nameID"`
	AOR    string     `xml:"aor"` // older drafts
	Send   []string   `xml:"send"`
	Extra  []xmlAssoc `xml:"participantstreamassoc"`
}

type xmlName struct {
	AOR  string `xml:"aor,attr"`
	Name string `xml:"name"`
}

type xmlStream struct {
	ID    string `xml:"stream_id,attr"`
	Label string `xml:"label"`
}

type xmlAssoc struct {
	Participant string   `xml:"participant_id,attr"`
	Send        []string `xml:"send"`
}

// maxMetadata bounds the metadata a SRC may send.
const maxMetadata = 256 << 10

// ParseMetadata parses RFC 7865 recording metadata. It refuses, with an
// error wrapping ErrMetadata, anything that is not such XML, metadata
// without participants or streams, and a stream no participant sends.
func ParseMetadata(b []byte) (*Metadata, error) {
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMetadata, len(b), maxMetadata)
	}
	var x xmlRecording
	d := xml.NewDecoder(strings.NewReader(string(b)))
	d.Strict = true
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	m := &Metadata{}
	if len(x.Sessions) > 0 {
		m.SessionID = x.Sessions[0].ID
	}
	byID := map[string]int{}
	for _, p := range x.Participants {
		if p.ID == "" {
			return nil, fmt.Errorf("%w: a participant without participant_id", ErrMetadata)
		}
		if _, dup := byID[p.ID]; dup {
			return nil, fmt.Errorf("%w: participant %q twice", ErrMetadata, p.ID)
		}
		q := Participant{ID: p.ID, AOR: strings.TrimSpace(p.AOR), Send: append([]string(nil), p.Send...)}
		if len(p.NameID) > 0 {
			q.AOR, q.Name = strings.TrimSpace(p.NameID[0].AOR), strings.TrimSpace(p.NameID[0].Name)
		}
		byID[p.ID] = len(m.Participants)
		m.Participants = append(m.Participants, q)
	}
	if len(m.Participants) == 0 {
		return nil, fmt.Errorf("%w: no participant", ErrMetadata)
	}
	for _, a := range x.Assocs {
		i, ok := byID[a.Participant]
		if !ok {
			return nil, fmt.Errorf("%w: stream association for unknown participant %q", ErrMetadata, a.Participant)
		}
		m.Participants[i].Send = append(m.Participants[i].Send, a.Send...)
	}
	for _, s := range x.Streams {
		if s.ID == "" || strings.TrimSpace(s.Label) == "" {
			return nil, fmt.Errorf("%w: a stream without stream_id or label", ErrMetadata)
		}
		m.Streams = append(m.Streams, Stream{ID: s.ID, Label: strings.TrimSpace(s.Label)})
	}
	if len(m.Streams) == 0 {
		return nil, fmt.Errorf("%w: no stream", ErrMetadata)
	}
	for _, s := range m.Streams {
		if _, ok := m.Sender(s.Label); !ok {
			return nil, fmt.Errorf("%w: stream %q (label %s) is sent by no participant", ErrMetadata, s.ID, s.Label)
		}
	}
	return m, nil
}

// Sender returns the participant that sends the stream of SDP label l.
func (m *Metadata) Sender(label string) (Participant, bool) {
	for _, s := range m.Streams {
		if s.Label != label {
			continue
		}
		for _, p := range m.Participants {
			for _, id := range p.Send {
				if strings.TrimSpace(id) == s.ID {
					return p, true
				}
			}
		}
	}
	return Participant{}, false
}

// User returns the user part of a SIP AOR ("sip:alice@example.com" gives
// "alice"), or the AOR itself when it has none.
func User(aor string) string {
	s := aor
	for _, p := range []string{"sips:", "sip:", "tel:"} {
		s = strings.TrimPrefix(s, p)
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return s
}
