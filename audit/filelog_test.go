package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
)

func testKey(t testing.TB) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, t.Name())
	return ed25519.NewKeyFromSeed(seed)
}

func openTest(t testing.TB, dir string) *audit.FileLog {
	t.Helper()
	l, err := audit.Open(context.Background(), audit.DirFS(dir), audit.Options{Signer: testKey(t), Origin: "test.example/audit"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func event(i int) audit.Event {
	return audit.Event{
		Kind: audit.KindAccess, Time: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
		CallID: fmt.Sprintf("call-%d", i), RecordingID: "rec-1", Actor: "agent-7", Role: "quality",
		Reason: "review", Subject: fmt.Sprintf("sk1:%064x", i%3), Purpose: "quality",
		Attrs: []audit.Attr{{Key: "action", Value: "listen"}, {Key: "a", Value: "b"}},
	}
}

func TestFileLogRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := l.Append(ctx, event(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if l.Size() != 50 {
		t.Fatalf("size %d", l.Size())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 50 || rep.Checkpoint.Size != 50 || rep.Root != rep.Checkpoint.Root {
		t.Fatalf("report %+v", rep)
	}
	l = openTest(t, dir)
	defer l.Close()
	if l.Size() != 50 {
		t.Fatalf("reopened size %d", l.Size())
	}
	e, err := l.Entry(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if e.Index != 7 || e.Event.Kind != audit.KindAccess || e.Event.Actor != "agent-7" {
		t.Fatalf("entry %+v", e)
	}
	r, err := l.Receipt(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := r.MarshalText()
	got, cp, err := audit.CheckReceipt(txt, l.VerifierKey())
	if err != nil {
		t.Fatalf("%v\n%s", err, txt)
	}
	if got.Event.CallID != e.Event.CallID || cp.Size != 50 {
		t.Fatalf("receipt entry %+v", got)
	}
	if _, err := l.Append(ctx, audit.Event{Kind: 999}); !errors.Is(err, audit.ErrInvalidEvent) {
		t.Fatalf("bad kind: %v", err)
	}
}

func TestOpenTwiceRefused(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	defer l.Close()
	if l2, err := audit.Open(context.Background(), audit.DirFS(dir), audit.Options{Signer: testKey(t)}); err == nil {
		l2.Close()
		t.Fatal("a second Open of the same log succeeded")
	}
}

// TestVerifyCountsPruneAndShred: the verifier's report counts exactly the
// pruned and shredded entries (events without a subject are neither).
func TestVerifyCountsPruneAndShred(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 9 {
		e := event(i)
		if i%3 == 0 {
			e.Subject = ""
		}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Shred(ctx, fmt.Sprintf("sk1:%064x", 1)); err != nil || n != 3 {
		t.Fatalf("shred: %d, %v", n, err)
	}
	if n, err := l.Prune(ctx, event(2).Time); err != nil || n != 2 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Entry 1 (subject 1) is both pruned and was shredded: pruned wins.
	if rep.Entries != 11 || rep.Pruned != 2 || rep.Shredded != 2 {
		t.Fatalf("report %+v, want 11 entries, 2 pruned, 2 shredded", rep)
	}
}

func TestLockSurvivesRewrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir)
	defer l.Close()
	for i := range 4 {
		l.Append(ctx, event(i))
	}
	if _, err := l.Prune(ctx, event(2).Time); err != nil {
		t.Fatal(err)
	}
	if l2, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKey(t)}); err == nil {
		l2.Close()
		t.Fatal("a second Open succeeded after the log file was rewritten")
	}
}

// TestRewriteWhileAppending: Prune, Shred, Checkpoint, Entry and proofs
// run while 8 goroutines append; nothing is lost and the log verifies.
func TestRewriteWhileAppending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(ctx, event(w*1000+k)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for round := range 10 {
		if _, err := l.Shred(ctx, fmt.Sprintf("sk1:%064x", round%3)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Prune(ctx, event(round*50).Time); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		n := l.Size()
		if _, err := l.Entry(ctx, n-1); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ProveInclusion(ctx, n/2, n); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	n := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.Entries != n || rep.Checkpoint.Size != n {
		t.Fatalf("after concurrent rewrites: %+v, %v (size %d)", rep, err, n)
	}
}

// Prune and Shred sign a checkpoint over their event before they delete
// anything: a verifier at once (the log still open, no Close) finds the
// deletions covered.
func TestPruneAndShredSignTheirEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKey(t), Origin: "test.example/audit", CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 6 {
		if _, err := l.Append(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Prune(ctx, event(2).Time); err != nil || n != 2 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	if _, size := l.LastCheckpoint(); size != 7 {
		t.Fatalf("after prune the checkpoint covers %d entries, want 7 (the prune event)", size)
	}
	if n, err := l.Shred(ctx, event(2).Subject); err != nil || n != 2 {
		t.Fatalf("shred = %d, %v", n, err)
	}
	if _, size := l.LastCheckpoint(); size != 8 {
		t.Fatalf("after shred the checkpoint covers %d entries, want 8 (the shred event)", size)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.Pruned != 2 || rep.Shredded != 2 {
		t.Fatalf("verify of the open log: %+v, %v", rep, err)
	}
}
