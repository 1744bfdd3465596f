package agestore

import (
	"bytes"
	"context"
	"testing"

	"filippo.io/age"

	"github.com/consentrec/consentrec/recorder"
)

type memWriter struct{ bytes.Buffer }

func (*memWriter) Sync() error { return nil }
func (*memWriter) Finalize(context.Context, recorder.Final) (recorder.Meta, error) {
	return recorder.Meta{}, nil
}
func (*memWriter) Abort(context.Context) error { return nil }

// FuzzReplayJournal: the journal parser never panics, never returns more
// than the data written, and what it returns is a prefix of it, however the
// journal is cut or damaged.
func FuzzReplayJournal(f *testing.F) {
	id, _ := age.GenerateX25519Identity()
	data := bytes.Repeat([]byte("0123456789abcdef"), 300)
	main, journal := &memWriter{}, &memWriter{}
	w, err := newWriter(nil, "rec", main, journal, []age.Recipient{id.Recipient()})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < len(data); i += 700 {
		w.Write(data[i:min(len(data), i+700)])
	}
	good := journal.Bytes()
	f.Add(good, uint16(0), uint8(0), uint16(len(good)))
	f.Add(good, uint16(len(good)/2), uint8(1), uint16(len(good)))
	f.Add(good, uint16(40), uint8(0x80), uint16(100))
	f.Fuzz(func(t *testing.T, j []byte, at uint16, mask uint8, cut uint16) {
		j = bytes.Clone(j)
		if int(at) < len(j) {
			j[at] ^= mask
		}
		if int(cut) < len(j) {
			j = j[:cut]
		}
		got, err := replayJournal(bytes.NewReader(j), "rec", []age.Identity{id}, nil)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(data, got) {
			t.Fatalf("replay returned %d bytes that are not a prefix of the data", len(got))
		}
	})
}
