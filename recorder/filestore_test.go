package recorder_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func TestFileStore(t *testing.T) {
	recordertest.TestStore(t, func(t *testing.T) (recorder.Store, func(string)) {
		dir := t.TempDir()
		s, err := recorder.NewFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s, func(id string) {
			p := filepath.Join(dir, id+".opus")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x10
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestFileStoreNoTraversal(t *testing.T) {
	dir := t.TempDir()
	s, err := recorder.NewFileStore(filepath.Join(dir, "recs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "victim.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "../victim"); err == nil {
		t.Fatal("Delete(../victim) succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "victim.json")); err != nil {
		t.Fatalf("file outside the store touched: %v", err)
	}
}
