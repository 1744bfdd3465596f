package audittest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// TestLog is the conformance suite of audit.Log. newLog returns a fresh,
// empty log for each subtest; TestLog closes it. It checks concurrent
// appends and their indexes, exact read-back of every field, the leaf
// format (one version per log; the hash chain of v1 leaves), signed
// checkpoints, inclusion and consistency proofs, receipts,
// pruning, crypto-shredding, invalid events, cancellation and Close.
func TestLog(t *testing.T, newLog func(t *testing.T) audit.Log) {
	ctx := context.Background()
	open := func(t *testing.T) audit.Log {
		l := newLog(t)
		t.Cleanup(func() { l.Close() })
		return l
	}

	t.Run("ConcurrentAppendsReadBack", func(t *testing.T) {
		l := open(t)
		const workers, per = 16, 8
		got := make(map[uint64]audit.Event)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for k := range per {
					e := Sample(w*per + k)
					i, err := l.Append(ctx, e)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if _, dup := got[i]; dup {
						t.Errorf("index %d returned twice", i)
					}
					got[i] = e
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if n := l.Size(); n != workers*per {
			t.Fatalf("Size = %d, want %d", n, workers*per)
		}
		for i := range uint64(workers * per) {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatalf("Entry(%d): %v", i, err)
			}
			if err := sameEvent(en.Event, got[i]); err != nil {
				t.Fatalf("Entry(%d): %v", i, err)
			}
			if en.Index != i || en.Pruned || en.Shredded {
				t.Fatalf("Entry(%d): index %d pruned %v shredded %v", i, en.Index, en.Pruned, en.Shredded)
			}
		}
		if _, err := l.Entry(ctx, workers*per); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Entry(Size) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ChainAndTime", func(t *testing.T) {
		l := open(t)
		e := Sample(1)
		e.Time = time.Time{}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := l.Append(ctx, Sample(i)); err != nil {
				t.Fatal(err)
			}
		}
		first, _ := l.Entry(ctx, 0)
		if first.Event.Time.IsZero() || first.Time != first.Event.Time {
			t.Fatalf("zero time not filled: %v", first.Event.Time)
		}
		cp := checkpoint(t, l)
		// Every leaf has the log's one format, and shows its event's time
		// and kind. Only chained (v1) leaves carry their index and the
		// previous leaf's hash; a v2 leaf's index is its position in the
		// tree (checked by every proof and receipt below).
		for i := range l.Size() {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if en.Version != first.Version || en.Chained() != first.Chained() {
				t.Fatalf("entry %d has leaf version %d, entry 0 %d", i, en.Version, first.Version)
			}
			if !en.Time.Equal(en.Event.Time) || en.Kind != en.Event.Kind {
				t.Fatalf("entry %d: leaf time/kind %v %v, event %v %v", i, en.Time, en.Kind, en.Event.Time, en.Event.Kind)
			}
			var back audit.Leaf
			if err := back.UnmarshalBinary(mustLeaf(en.Leaf)); err != nil {
				t.Fatalf("entry %d: leaf does not decode: %v", i, err)
			}
			if back.Hash() != en.Hash() || en.Index != i {
				t.Fatalf("entry %d: leaf (index %d) does not round-trip", i, en.Index)
			}
			if back.Chained() && back.Index != i {
				t.Fatalf("entry %d: v1 leaf carries index %d", i, back.Index)
			}
			if !back.Chained() && (back.Prev != (tlog.Hash{}) || en.Prev != (tlog.Hash{})) {
				t.Fatalf("entry %d: v2 leaf with a previous hash", i)
			}
		}
		if !first.Chained() {
			return
		}
		if first.Prev != audit.Genesis(cp.Origin) {
			t.Fatal("entry 0 does not commit to the genesis of its origin")
		}
		for i := uint64(1); i < l.Size(); i++ {
			a, _ := l.Entry(ctx, i-1)
			b, _ := l.Entry(ctx, i)
			if b.Prev != a.Hash() {
				t.Fatalf("entry %d does not chain to entry %d", i, i-1)
			}
		}
	})

	t.Run("InvalidEvents", func(t *testing.T) {
		l := open(t)
		for _, e := range []audit.Event{
			{Kind: audit.KindUnknown, Time: time.Now()},
			{Kind: 9999, Time: time.Now()},
			{Kind: audit.KindAccess, Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
			{Kind: audit.KindAccess, Time: time.Now(), Reason: string(make([]byte, 1<<17))},
		} {
			if _, err := l.Append(ctx, e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("Append(kind %d) = %v, want ErrInvalidEvent", e.Kind, err)
			}
		}
		if l.Size() != 0 {
			t.Fatalf("invalid events were logged: size %d", l.Size())
		}
		if _, err := l.Checkpoint(ctx); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Checkpoint of an empty log = %v, want ErrNotFound", err)
		}
	})

	t.Run("CheckpointsAndProofs", func(t *testing.T) {
		l := open(t)
		appendN(t, l, 0, 13)
		cp1 := checkpoint(t, l)
		if cp1.Size != 13 {
			t.Fatalf("checkpoint size %d, want 13", cp1.Size)
		}
		appendN(t, l, 13, 22)
		cp2 := checkpoint(t, l)
		for i := range cp2.Size {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			for _, cp := range []audit.Checkpoint{cp1, cp2} {
				if i >= cp.Size {
					continue
				}
				p, err := l.ProveInclusion(ctx, i, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(i), en.Hash()); err != nil {
					t.Fatalf("inclusion of %d in %d: %v", i, cp.Size, err)
				}
				if i > 0 && tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(i-1), en.Hash()) == nil {
					t.Fatalf("proof of %d accepted for %d", i, i-1)
				}
			}
		}
		for old := uint64(1); old <= cp2.Size; old++ {
			p, err := l.ProveConsistency(ctx, old, cp2.Size)
			if err != nil {
				t.Fatal(err)
			}
			oldRoot := rootAt(t, l, old)
			if err := tlog.CheckTree(p, int64(cp2.Size), cp2.Root, int64(old), oldRoot); err != nil {
				t.Fatalf("consistency %d -> %d: %v", old, cp2.Size, err)
			}
		}
		p, err := l.ProveConsistency(ctx, cp1.Size, cp2.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, int64(cp2.Size), cp2.Root, int64(cp1.Size), cp1.Root); err != nil {
			t.Fatalf("checkpoint %d does not extend %d: %v", cp2.Size, cp1.Size, err)
		}
		for _, c := range [][2]uint64{{0, 5}, {6, 5}, {1, 999}} {
			if _, err := l.ProveConsistency(ctx, c[0], c[1]); !errors.Is(err, audit.ErrNotFound) {
				t.Errorf("ProveConsistency(%d, %d) = %v, want ErrNotFound", c[0], c[1], err)
			}
		}
		for _, c := range [][2]uint64{{5, 5}, {0, 999}} {
			if _, err := l.ProveInclusion(ctx, c[0], c[1]); !errors.Is(err, audit.ErrNotFound) {
				t.Errorf("ProveInclusion(%d, %d) = %v, want ErrNotFound", c[0], c[1], err)
			}
		}
	})

	t.Run("Receipts", func(t *testing.T) {
		l := open(t)
		appendN(t, l, 0, 9)
		for i := range uint64(9) {
			r, err := l.Receipt(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			txt, err := r.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			en, cp, err := audit.CheckReceipt(txt, l.VerifierKey())
			if err != nil {
				t.Fatalf("receipt %d: %v\n%s", i, err, txt)
			}
			want, _ := l.Entry(ctx, i)
			if cp.Size < i+1 || en.Index != i || sameEvent(en.Event, want.Event) != nil {
				t.Fatalf("receipt %d: got entry %d in size %d", i, en.Index, cp.Size)
			}
			r.HideSubject()
			txt, _ = r.MarshalText()
			en, _, err = audit.CheckReceipt(txt, l.VerifierKey())
			if err != nil || en.Event.Subject != "" || !en.Shredded {
				t.Fatalf("receipt %d without subject: %v, subject %q", i, err, en.Event.Subject)
			}
			txt[len(txt)/3] ^= 1
			if _, _, err := audit.CheckReceipt(txt, l.VerifierKey()); err == nil {
				t.Fatalf("corrupted receipt %d accepted", i)
			}
		}
	})

	t.Run("PruneOnlyGivenKinds", func(t *testing.T) {
		// The access log expires; the evidence of consent stays.
		l := open(t)
		for i := range 6 {
			e := Sample(i)
			if i%2 == 0 {
				e.Kind = audit.KindConsentGiven
			}
			if _, err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		n, err := l.Prune(ctx, Sample(100).Time, audit.AccessKinds...)
		if err != nil || n != 3 {
			t.Fatalf("Prune(access kinds) = %d, %v; want 3", n, err)
		}
		for i := range uint64(6) {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if en.Pruned != (i%2 == 1) {
				t.Fatalf("entry %d (%v) pruned = %v", i, en.Event.Kind, en.Pruned)
			}
		}
		last, _ := l.Entry(ctx, 6)
		if last.Event.Kind != audit.KindAuditPruned || last.Event.Attrs[len(last.Event.Attrs)-1].Value != "access,access-denied" {
			t.Fatalf("prune entry %+v does not say which kinds", last.Event)
		}
	})

	t.Run("PruneKeeps", func(t *testing.T) {
		// Entries Keep names stay, counted by reason; the prune event,
		// appended before anything is deleted, says what range it covers.
		l := open(t)
		appendN(t, l, 0, 8)
		keep := func(e audit.Event) string {
			if e.RecordingID == "rec-0002" || e.RecordingID == "rec-0005" {
				return "recording catalogued"
			}
			return ""
		}
		res, err := audit.PruneWith(ctx, l, audit.PruneOptions{Before: Sample(6).Time, Keep: keep, Actor: "dpo"})
		if errors.Is(err, audit.ErrKeepUnsupported) {
			t.Skip("the log cannot keep entries while pruning")
		}
		if err != nil || res.Pruned != 4 || res.Kept["recording catalogued"] != 2 || res.Event != 8 {
			t.Fatalf("PruneWith = %+v, %v; want 4 pruned, 2 kept, event 8", res, err)
		}
		for i := range uint64(8) {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if want := i < 6 && i != 2 && i != 5; en.Pruned != want {
				t.Fatalf("entry %d pruned = %v, want %v", i, en.Pruned, want)
			}
		}
		ev, err := l.Entry(ctx, res.Event)
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{}
		for _, a := range ev.Event.Attrs {
			attrs[a.Key] = a.Value
		}
		if ev.Event.Kind != audit.KindAuditPruned || ev.Event.Actor != "dpo" || attrs["upto"] != "8" || attrs["count"] != "4" {
			t.Fatalf("prune event %+v", ev.Event)
		}
		// Prune events are never pruned themselves.
		if n, err := l.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 4 {
			t.Fatalf("second prune = %d, %v; want 4 (the kept entries and 6, 7, not the event)", n, err)
		}
		if ev, _ := l.Entry(ctx, res.Event); ev.Pruned {
			t.Fatal("a prune event was pruned")
		}
	})

	t.Run("PruneKeepsProofs", func(t *testing.T) {
		l := open(t)
		appendN(t, l, 0, 10)
		cp := checkpoint(t, l)
		cutoff := Sample(5).Time
		n, err := l.Prune(ctx, cutoff)
		if err != nil || n != 5 {
			t.Fatalf("Prune = %d, %v; want 5", n, err)
		}
		if l.Size() != 11 {
			t.Fatalf("size after prune %d, want 11 (a pruned entry is logged)", l.Size())
		}
		last, _ := l.Entry(ctx, 10)
		if last.Event.Kind != audit.KindAuditPruned {
			t.Fatalf("last entry kind %v, want audit-pruned", last.Event.Kind)
		}
		for i := range uint64(10) {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if en.Pruned != (i < 5) {
				t.Fatalf("entry %d pruned = %v", i, en.Pruned)
			}
			if en.Pruned && (en.Event.CallID != "" || en.Event.Kind != audit.KindAccess) {
				t.Fatalf("pruned entry %d still shows %+v", i, en.Event)
			}
			p, err := l.ProveInclusion(ctx, i, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(i), en.Hash()); err != nil {
				t.Fatalf("entry %d no longer proves into the old checkpoint: %v", i, err)
			}
			r, err := l.Receipt(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			txt, _ := r.MarshalText()
			if _, _, err := audit.CheckReceipt(txt, l.VerifierKey()); err != nil {
				t.Fatalf("receipt of entry %d after prune: %v", i, err)
			}
		}
		cp2 := checkpoint(t, l)
		p, err := l.ProveConsistency(ctx, cp.Size, cp2.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, int64(cp2.Size), cp2.Root, int64(cp.Size), cp.Root); err != nil {
			t.Fatalf("pruning broke consistency: %v", err)
		}
	})

	t.Run("ShredSubject", func(t *testing.T) {
		l := open(t)
		appendN(t, l, 0, 9)
		cp := checkpoint(t, l)
		victim := Sample(4).Subject
		n, err := l.Shred(ctx, victim)
		if err != nil || n != 3 {
			t.Fatalf("Shred = %d, %v; want 3", n, err)
		}
		for i := range uint64(9) {
			en, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			wantShred := Sample(int(i)).Subject == victim
			if en.Shredded != wantShred || (en.Event.Subject == "") != wantShred {
				t.Fatalf("entry %d: shredded %v subject %q", i, en.Shredded, en.Event.Subject)
			}
			if en.Event.CallID != Sample(int(i)).CallID {
				t.Fatalf("entry %d lost its other fields", i)
			}
			p, _ := l.ProveInclusion(ctx, i, cp.Size)
			if err := tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(i), en.Hash()); err != nil {
				t.Fatalf("entry %d after shredding: %v", i, err)
			}
		}
		last, _ := l.Entry(ctx, l.Size()-1)
		if last.Event.Kind != audit.KindAuditShredded || last.Event.Subject != "" {
			t.Fatalf("shredding not logged, or logged with the subject: %+v", last.Event)
		}
		// The shred event lists the entries it shredded (subjects cycle
		// over i%3: entries 1, 4, 7).
		var entries []string
		for _, a := range last.Event.Attrs {
			if a.Key == "entries" {
				entries = append(entries, a.Value)
			}
		}
		if !slices.Equal(entries, []string{"1,4,7"}) {
			t.Fatalf("shred event lists %q, want [1,4,7]", entries)
		}
		if _, err := l.Shred(ctx, ""); err == nil {
			t.Fatal("Shred(\"\") accepted")
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		l := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Append(cctx, Sample(0)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Append with a cancelled ctx = %v", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		l := newLog(t)
		appendN(t, l, 0, 3)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, Sample(9)); !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Append after Close = %v, want ErrClosed", err)
		}
		_ = l.Close()
	})
}

// Sample returns a deterministic, fully populated access event; subjects
// cycle over three keys (i%3).
func Sample(i int) audit.Event {
	return audit.Event{
		Kind:          audit.KindAccess,
		Time:          time.Date(2026, 3, 1, 10, 0, i, 7, time.UTC),
		CallID:        fmt.Sprintf("call-%04d", i),
		RecordingID:   fmt.Sprintf("rec-%04d", i),
		Actor:         "agent-17",
		Role:          "quality",
		Reason:        "monthly review",
		Subject:       fmt.Sprintf("sk1:%064x", i%3),
		Purpose:       "quality",
		PolicyVersion: "pv1:abc",
		SHA256:        fmt.Sprintf("%064x", i),
		Attrs:         []audit.Attr{{Key: "action", Value: "listen"}, {Key: "z", Value: ""}, {Key: "a", Value: "1"}},
	}
}

func appendN(t *testing.T, l audit.Log, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := l.Append(context.Background(), Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func checkpoint(t *testing.T, l audit.Log) audit.Checkpoint {
	t.Helper()
	signed, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := audit.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != l.Size() {
		t.Fatalf("checkpoint covers %d of %d entries", c.Size, l.Size())
	}
	return c
}

// rootAt recomputes the root of the first n entries from their leaves.
func rootAt(t *testing.T, l audit.Log, n uint64) tlog.Hash {
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := range n {
		en, err := l.Entry(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), mustLeaf(en.Leaf), r)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	h, err := tlog.TreeHash(int64(n), r)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustLeaf(l audit.Leaf) []byte {
	b, _ := l.MarshalBinary()
	return b
}

func sameEvent(got, want audit.Event) error {
	if !got.Time.Equal(want.Time) {
		return fmt.Errorf("time %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if got.Kind != want.Kind || got.CallID != want.CallID || got.RecordingID != want.RecordingID ||
		got.Actor != want.Actor || got.Role != want.Role || got.Reason != want.Reason ||
		got.Subject != want.Subject || got.Purpose != want.Purpose ||
		got.PolicyVersion != want.PolicyVersion || got.SHA256 != want.SHA256 ||
		!slices.Equal(got.Attrs, want.Attrs) {
		return fmt.Errorf("read back %+v, want %+v", got, want)
	}
	return nil
}
