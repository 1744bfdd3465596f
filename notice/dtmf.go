package notice

import (
	"encoding/binary"
	"fmt"
)

// Key is a DTMF key: '0'-'9', '*', '#', 'A'-'D'.
type Key byte

// Valid reports whether k is one of the sixteen DTMF keys.
func (k Key) Valid() bool {
	return k >= '0' && k <= '9' || k == '*' || k == '#' || k >= 'A' && k <= 'D'
}

// String returns the key as a one-character string ("?" when invalid).
func (k Key) String() string {
	if !k.Valid() {
		return "?"
	}
	return string(rune(k))
}

// eventKeys maps RFC 4733 event codes 0-15 to keys.
const eventKeys = "0123456789*#ABCD"

// EventKey returns the key of an RFC 4733 DTMF event code (0-15).
func EventKey(code uint8) (Key, bool) {
	if int(code) >= len(eventKeys) {
		return 0, false
	}
	return Key(eventKeys[code]), true
}

// EventCode returns the RFC 4733 event code of a key.
func EventCode(k Key) (uint8, bool) {
	for i := range len(eventKeys) {
		if eventKeys[i] == byte(k) {
			return uint8(i), true
		}
	}
	return 0, false
}

// TelephoneEvent is one RFC 4733 telephone-event payload (section 2.3).
type TelephoneEvent struct {
	Event    uint8  // event code: 0-15 are DTMF keys (see EventKey)
	End      bool   // the E bit: last packets of the event
	Volume   uint8  // power level in -dBm0, 0 to 63
	Duration uint16 // duration so far, in RTP timestamp units
}

// ParseTelephoneEvent parses an RFC 4733 payload. A payload may hold several
// 4-byte events (RFC 4733 section 2.5.1.5, redundancy); the last one is the
// current event and is returned. Errors wrap ErrTelephoneEvent.
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, error) {
	if len(payload) < 4 || len(payload)%4 != 0 {
		return TelephoneEvent{}, fmt.Errorf("notice: parse telephone-event: %d bytes: %w", len(payload), ErrTelephoneEvent)
	}
	p := payload[len(payload)-4:]
	return TelephoneEvent{
		Event:    p[0],
		End:      p[1]&0x80 != 0,
		Volume:   p[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(p[2:]),
	}, nil
}

// AppendTo appends the event's 4-byte payload to b.
func (e TelephoneEvent) AppendTo(b []byte) []byte {
	f := e.Volume & 0x3F
	if e.End {
		f |= 0x80
	}
	return append(b, e.Event, f, byte(e.Duration>>8), byte(e.Duration))
}

// EventDetector turns the telephone-event packets of one RTP stream into key
// presses. An event is reported once, on its first packet, even though the
// sender repeats it (updates, and the end packet sent three times); the RTP
// timestamp, constant for the packets of one event, tells events apart.
// The zero value is ready; it is not safe for concurrent use.
type EventDetector struct {
	last    uint32
	started bool
}

// Feed processes the payload of one telephone-event packet with RTP
// timestamp ts. It returns the key and true when a new DTMF key press
// begins. Non-DTMF events (codes above 15) are ignored. Malformed payloads
// return an error wrapping ErrTelephoneEvent.
func (d *EventDetector) Feed(ts uint32, payload []byte) (Key, bool, error) {
	ev, err := ParseTelephoneEvent(payload)
	if err != nil {
		return 0, false, err
	}
	if d.started && ts == d.last {
		return 0, false, nil
	}
	d.started, d.last = true, ts
	k, ok := EventKey(ev.Event)
	return k, ok, nil
}
