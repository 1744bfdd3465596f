package siprec

import (
	"errors"
	"fmt"
	"testing"
)

const fuzzMeta = `<recording xmlns='urn:ietf:params:xml:ns:recording:1'><session session_id="s"/>` +
	`<participant participant_id="P1"><nameID aor="sip:a@x"/></participant><stream stream_id="S1"><label>1</label></stream>` +
	`<participantstreamassoc participant_id="P1"><send>S1</send></participantstreamassoc></recording>`

// Any body: SplitBody, parseOffer and ParseMetadata return a result or a
// typed error, never panic, and what they accept is consistent.
func FuzzParseINVITE(f *testing.F) {
	sdpText := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\n"
	body := "--b\r\nContent-Type: application/sdp\r\n\r\n" + sdpText + "\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" + fuzzMeta + "\r\n--b--\r\n"
	f.Add("multipart/mixed;boundary=b", []byte(body))
	f.Add("application/sdp", []byte(sdpText))
	f.Add("multipart/mixed;boundary=b", []byte("--b\r\n\r\n--b--"))
	f.Fuzz(func(t *testing.T, ct string, b []byte) {
		offer, meta, err := SplitBody(ct, b)
		if err != nil {
			if !errors.Is(err, ErrBody) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if ms, err := parseOffer(offer); err != nil {
			if !errors.Is(err, ErrBody) && !errors.Is(err, ErrCodec) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			ports := make([]int, len(ms))
			if _, err := answer("127.0.0.1", ms, ports, 1); err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Codec == "" || len(m.Formats) == 0 {
					t.Fatalf("accepted audio line without codec: %+v", m)
				}
			}
		}
		if meta == nil {
			return
		}
		md, err := ParseMetadata(meta)
		if err != nil {
			if !errors.Is(err, ErrMetadata) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(md.Participants) == 0 || len(md.Streams) == 0 {
			t.Fatal("accepted metadata without participants or streams")
		}
		for _, s := range md.Streams {
			if _, ok := md.Sender(s.Label); !ok {
				t.Fatalf("accepted stream %s sent by nobody", s.ID)
			}
		}
	})
}

func TestParseMetadataRefusals(t *testing.T) {
	for _, m := range []string{"", "<x/>", "<recording/>", "<recording><participant/></recording>",
		`<recording><participant participant_id="a"/><stream stream_id="s"><label>1</label></stream></recording>`,
		fmt.Sprintf("<recording>%01000000d</recording>", 0)} {
		if _, err := ParseMetadata([]byte(m)); !errors.Is(err, ErrMetadata) {
			t.Errorf("%.40q: %v, want ErrMetadata", m, err)
		}
	}
	md, err := ParseMetadata([]byte(fuzzMeta))
	if err != nil || md.SessionID != "s" || User(md.Participants[0].AOR) != "a" {
		t.Fatalf("%+v %v", md, err)
	}
}

// SIPp (like most SRCs) ends the SDP part without a line ending of its own:
// the CRLF before the boundary belongs to the boundary. Found by the SIPp
// test; the offer was refused with "sdp: EOF".
func TestOfferWithoutFinalLineEnding(t *testing.T) {
	body := "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=label:1" +
		"\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" + fuzzMeta + "\r\n--b--\r\n"
	offer, _, err := SplitBody("multipart/mixed;boundary=b", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseOffer(offer)
	if err != nil || len(ms) != 1 || ms[0].Codec != codecPCMU {
		t.Fatalf("%+v %v", ms, err)
	}
}
