package report_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/report"
)

// TestDirSource copies the eventful history into a file log on disk and
// reports from the directory: the same report as from memory, and a byte
// flipped in the log makes it unverified.
func TestDirSource(t *testing.T) {
	ctx := context.Background()
	h := eventful(t)
	data := t.TempDir()
	fl, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.log.Appended {
		if _, err := fl.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := fl.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := report.Build(ctx, report.DirSource(data, h.cat), period)
	if err != nil {
		t.Fatal(err)
	}
	want := h.build(period)
	if got.Integrity.Entries != want.Integrity.Entries || got.Integrity.CheckpointSize != got.Integrity.Entries ||
		len(got.Violations) != len(want.Violations) || got.Sampling.Decided != want.Sampling.Decided ||
		got.Access.Granted != want.Access.Granted || got.Integrity.Origin == "" {
		t.Fatalf("from the directory: %+v\nfrom memory: %+v", got.Integrity, want.Integrity)
	}

	out := filepath.Join(t.TempDir(), "r.html")
	if err := got.SaveHTML(out); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	if err := want.SaveHTML(out); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveHTML over an existing file: %v", err)
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, first) {
		t.Fatal("SaveHTML changed an existing file")
	}

	logPath := filepath.Join(data, "audit", "log")
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(logPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := report.Build(ctx, report.DirSource(data, h.cat), period)
	if !errors.Is(err, report.ErrUnverified) || rep.Integrity.Verified {
		t.Fatalf("tampered directory: %v", err)
	}
	if _, err := report.Build(ctx, report.DirSource(t.TempDir(), nil), period); !errors.Is(err, report.ErrUnverified) {
		t.Errorf("no log: %v", err)
	}
}
