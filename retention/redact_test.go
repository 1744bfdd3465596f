package retention_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// twoChannelHead is the start of a two-channel Ogg Opus file: a first page
// holding an OpusHead of 2 channels (mapping family 1).
func twoChannelHead() []byte {
	b := []byte("OggS\x00\x02" + strings.Repeat("\x00", 20) + "\x01\x15")
	b = append(b, "OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x01\x02\x00\x00\x01"...)
	return append(b, " and both voices"...)
}

// TestSubjectExportRedactsOtherVoice (R29): a dual-channel recording goes
// to the data subject through Redact only; without one it is not exported
// (never with the agent's voice); KeepOtherVoices exports it whole.
func TestSubjectExportRedactsOtherVoice(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	sub := retentiontest.SubjectOf("+33 6 00 00 00 05")
	whole := twoChannelHead()
	sum := f.store.Put("dual", whole)
	r, err := retention.New(retention.Entry{ID: "dual", Purpose: policy.Quality, Created: t0, Subject: sub, SHA256: sum})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cat.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	req := retention.Request{Subject: sub, Handler: "dpo"}
	export := func(s *retention.Subjects) (retention.ExportReport, string, error) {
		dir := filepath.Join(t.TempDir(), "out")
		rep, err := s.ExportDir(ctx, req, dir)
		b, _ := os.ReadFile(filepath.Join(dir, "audio", "dual.opus"))
		return rep, string(b), err
	}
	// No redactor: refused, with the rule, and nothing of it written.
	s := f.subjects(t0)
	rep, got, err := export(s)
	if !errors.Is(err, retention.ErrIncomplete) || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Err.Error(), "R29") || got != "" {
		t.Errorf("without Redact: %+v, %q, %v", rep, got, err)
	}
	// A redactor: the subject gets what it writes, having read it all.
	var read int
	s.Redact = func(r io.Reader, w io.Writer) error {
		b, err := io.ReadAll(r)
		read = len(b)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "customer only")
		return err
	}
	if rep, got, err = export(s); err != nil || got != "customer only" || read != len(whole) {
		t.Errorf("with Redact: %+v, %q (read %d of %d), %v", rep, got, read, len(whole), err)
	}
	// A redactor failing: not exported.
	s.Redact = func(r io.Reader, w io.Writer) error { return errors.New("no customer channel") }
	if rep, got, err = export(s); !errors.Is(err, retention.ErrIncomplete) || got != "" {
		t.Errorf("failing Redact: %+v, %q, %v", rep, got, err)
	}
	s.KeepOtherVoices = true
	if _, got, err = export(s); err != nil || got != string(whole) {
		t.Errorf("KeepOtherVoices: %q, %v", got, err)
	}
	// A corrupted file is reported as such, redactor or not.
	f.store.Corrupt("dual")
	s.KeepOtherVoices = false
	s.Redact = func(r io.Reader, w io.Writer) error { _, err := io.Copy(w, r); return err }
	if rep, _, _ := export(s); len(rep.Failed) != 1 || !errors.Is(rep.Failed[0].Err, retention.ErrIntegrity) {
		t.Errorf("corrupted: %+v", rep)
	}
}
