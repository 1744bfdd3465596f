package audit

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord: the log record decoder never panics, and a record it
// accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	e := Event{Kind: KindAccess, Time: time.Unix(5, 6), CallID: "c", Subject: "sk1:00", Attrs: []Attr{{"a", "b"}}}
	o, _ := Seal(&e, func(b []byte) error { return nil })
	leaf := Leaf{Index: 3, Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}
	raw, _ := leaf.MarshalBinary()
	f.Add(appendRecord(nil, raw, o, true)[recHeadSize:])
	f.Add(appendRecord(nil, raw, nil, false)[recHeadSize:])
	e.Subject = ""
	o, _ = Seal(&e, func(b []byte) error { return nil })
	leaf.Commitment = o.Commitment()
	raw, _ = leaf.MarshalBinary()
	f.Add(appendRecord(nil, raw, o, false)[recHeadSize:])
	f.Fuzz(func(t *testing.T, body []byte) {
		rec, err := decodeBody(body)
		if err != nil {
			return
		}
		again := appendRecord(nil, rec.leafRaw, rec.open, rec.flags&flagBatchStart != 0)[recHeadSize:]
		if !bytes.Equal(again, body) {
			t.Fatalf("record re-encodes differently:\n%x\n%x", body, again)
		}
		if rec.open != nil {
			_, sh1, err1 := rec.open.Open(&rec.leaf)
			var c checker
			sh2, err2 := c.check(rec.open, []byte(rec.open.Subject), &rec.leaf)
			if (err1 == nil) != (err2 == nil) || sh1 != sh2 {
				t.Fatalf("Open (%v, %v) and the verifier's check (%v, %v) disagree", sh1, err1, sh2, err2)
			}
		}
	})
}
