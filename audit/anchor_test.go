package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// Issue 18 item 5: deleting one's own access entry and restoring an older
// copy of the checkpoint passed verify, and the next honest append signed
// the forged history. The data directory's anchor (keys/audit-anchor,
// outside the audit folder) now exposes it: open and verify fail with
// ErrRollback.
func TestAnchorDetectsRollback(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	l, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendSamples(t, l, 0, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(data, "audit", "log")
	cpPath := filepath.Join(data, "audit", "checkpoint")
	oldLog, _ := os.ReadFile(logPath)
	oldCP, _ := os.ReadFile(cpPath)

	// Mallory opens a recording: the access is logged and signed.
	if l, err = audit.OpenDir(ctx, data, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	e := audittest.Sample(5)
	e.Actor = "mallory"
	if _, err := l.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.VerifyDir(ctx, data, nil); err != nil {
		t.Fatal(err)
	}
	// Mallory, who can write the audit folder but not keys/, removes her
	// entry and puts the older checkpoint back.
	os.WriteFile(logPath, oldLog, 0o600)
	os.WriteFile(cpPath, oldCP, 0o644)
	if _, err := audit.VerifyFS(ctx, audit.DirFS(filepath.Join(data, "audit")), nil); err != nil {
		t.Fatalf("without the anchor the rollback is self-consistent, yet: %v", err)
	}
	_, err = audit.VerifyDir(ctx, data, nil)
	var ve *audit.VerifyError
	if !errors.Is(err, audit.ErrRollback) || !errors.As(err, &ve) || ve.Index != 5 {
		t.Fatalf("VerifyDir of a rolled-back log = %v, want ErrRollback at entry 5", err)
	}
	if l, err := audit.OpenDir(ctx, data, audit.Options{}); !errors.Is(err, audit.ErrRollback) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("OpenDir of a rolled-back log = %v, want ErrRollback", err)
	}
}

// The anchor is stored after each checkpoint, created for a log that had
// none (an older log), checked on open against a rewritten history, and
// a failing store is reported by Checkpoint.
func TestAnchorFake(t *testing.T) {
	ctx := context.Background()
	dir := smallLog(t, 6) // signed without an anchor
	anc := &audittest.Anchor{}
	opts := audit.Options{Signer: testKeyNamed("TestAnchorFake"), Anchor: anc, CheckpointInterval: -1}
	l, err := audit.Open(ctx, audit.DirFS(dir), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := anc.Load(ctx); err != nil || c.Size != 6 {
		t.Fatalf("anchor after opening an unanchored log: %+v, %v", c, err)
	}
	appendSamples(t, l, 6, 9)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := anc.Load(ctx); c.Size != 9 || anc.Stores != 2 {
		t.Fatalf("anchor %+v after %d stores, want size 9 after 2", c, anc.Stores)
	}
	anc.Err = errors.New("second location down")
	appendSamples(t, l, 9, 10)
	if cp, err := l.Checkpoint(ctx); cp == nil || !errors.Is(err, anc.Err) {
		t.Fatalf("checkpoint with a failing anchor = %v, %v", cp != nil, err)
	}
	anc.Err = nil
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	c, _ := anc.Load(ctx)
	if c.Size != 10 {
		t.Fatalf("anchor size %d after close, want 10", c.Size)
	}
	// A root that differs at the anchor's size: history rewritten.
	bad := c
	bad.Root[0] ^= 1
	anc.Set(bad)
	if _, err := audit.Open(ctx, audit.DirFS(dir), opts); !errors.Is(err, audit.ErrCorrupt) {
		t.Fatalf("open against a different anchored root = %v", err)
	}
	if _, err := audit.Verify(ctx, audit.DirFS(dir), audit.VerifyOptions{Anchor: anc}); !errors.Is(err, audit.ErrCorrupt) {
		t.Fatalf("verify against a different anchored root = %v", err)
	}
	// An anchor of another log is refused.
	other := c
	other.Origin = "other.example/audit"
	anc.Set(other)
	if _, err := audit.Verify(ctx, audit.DirFS(dir), audit.VerifyOptions{Anchor: anc}); err == nil {
		t.Fatal("verify accepted another log's anchor")
	}
}

func TestFileAnchorRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := &audit.FileAnchor{Path: filepath.Join(t.TempDir(), "sub", "anchor")}
	if _, err := a.Load(ctx); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("load of no anchor = %v", err)
	}
	c := audit.Checkpoint{Origin: "test.example/audit", Size: 42}
	c.Root[3] = 9
	if err := a.Store(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Load(ctx); err != nil || got != c {
		t.Fatalf("load = %+v, %v", got, err)
	}
	os.WriteFile(a.Path, []byte("garbage"), 0o600)
	if _, err := a.Load(ctx); !errors.Is(err, audit.ErrMalformed) {
		t.Fatalf("load of garbage = %v", err)
	}
}
