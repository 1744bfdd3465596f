package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
)

// The quickstart runs end to end: it records, purges the objector, sweeps
// one expired recording, keeps the held one and the contract proof, and
// leaves an audit log that verifies.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time demo")
	}
	root := t.TempDir()
	if err := run(context.Background(), root, time.Second); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(consentrec.DataDir{Root: root}.Recordings(), "*.opus"))
	if len(files) != 2 {
		t.Errorf("%d recordings left, want 2 (one held, one contract proof): %v", len(files), files)
	}
	rep, err := audit.VerifyDir(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries < 20 || rep.Checkpoint.Size != rep.Entries {
		t.Errorf("audit: %d entries, checkpoint at %d", rep.Entries, rep.Checkpoint.Size)
	}
	if _, err := os.Stat(consentrec.DataDir{Root: root}.Catalog()); err != nil {
		t.Error(err)
	}
}
