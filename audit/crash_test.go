package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// TestCrashMidBatch stops the file layer in the middle of a group commit
// (a torn write, then every write and sync failing, as if the machine
// stopped) while 16 goroutines append. The log must reopen, trim only the
// unacknowledged tail, verify, and hold every acknowledged entry.
func TestCrashMidBatch(t *testing.T) {
	ctx := context.Background()
	for _, limit := range []int64{300, 700, 1500, 2900, 4100, 6000, 9000, 15000} {
		for _, failSync := range []bool{false, true} {
			dir := t.TempDir()
			// A first, clean session with a checkpoint.
			l := openTest(t, dir)
			for i := range 5 {
				if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			ffs := &audittest.FaultFS{FS: audit.DirFS(dir), FailAfterBytes: limit}
			if failSync {
				ffs.FailAfterBytes = 0
			}
			l, err := audit.Open(ctx, ffs, audit.Options{Signer: testKey(t), CheckpointInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			acked := map[uint64]audit.Event{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Go(func() {
					for k := range 40 {
						if failSync && w == 3 && k == 10 {
							ffs.FailSyncNow()
						}
						e := audittest.Sample(1000 + w*40 + k)
						i, err := l.Append(ctx, e)
						if err != nil {
							if !errors.Is(err, audit.ErrClosed) {
								t.Errorf("append error %v does not wrap ErrClosed", err)
							}
							return
						}
						mu.Lock()
						acked[i] = e
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if !ffs.Dead() {
				t.Fatalf("limit %d: no fault was injected", limit)
			}
			l.Close()

			l = openTest(t, dir)
			if n := l.Size(); n < uint64(5+len(acked)) {
				t.Fatalf("limit %d sync %v: reopened with %d entries, %d acknowledged", limit, failSync, n, 5+len(acked))
			}
			for i, e := range acked {
				en, err := l.Entry(ctx, i)
				if err != nil {
					t.Fatal(err)
				}
				if en.Event.CallID != e.CallID || en.Event.Subject != e.Subject {
					t.Fatalf("acknowledged entry %d lost: got %+v", i, en.Event)
				}
			}
			if _, err := l.Append(ctx, audittest.Sample(7)); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
			if err != nil {
				t.Fatalf("limit %d: after recovery: %v", limit, err)
			}
			if rep.TornBytes != 0 || rep.Unsigned() != 0 {
				t.Fatalf("limit %d: report %+v", limit, rep)
			}
		}
	}
}

// TestTornTailTrimmed: a partial record after the checkpoint is trimmed on
// Open and reported; the verifier reports it without failing.
func TestTornTailTrimmed(t *testing.T) {
	ctx := context.Background()
	dir := smallLog(t, 6)
	path := filepath.Join(dir, "log")
	b, _ := os.ReadFile(path)
	offs := recordOffsets(t, b)
	last := b[offs[len(offs)-1]:]
	// A torn copy of the last record, as a new batch that never synced.
	torn := append([]byte{}, last[:len(last)/2]...)
	os.WriteFile(path, append(b, torn...), 0o600)
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.TornBytes != int64(len(torn)) || rep.Entries != 6 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKeyNamed("TestTornTailTrimmed")})
	if err != nil {
		t.Fatal(err)
	}
	if l.Trimmed() != int64(len(torn)) || l.Size() != 6 {
		t.Fatalf("trimmed %d size %d", l.Trimmed(), l.Size())
	}
	l.Close()
	// Damage followed by a valid later batch is corruption, not a tear.
	l, _ = audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKeyNamed("TestTornTailTrimmed")})
	l.Append(ctx, audittest.Sample(1))
	l.Append(ctx, audittest.Sample(2))
	l.Close()
	b, _ = os.ReadFile(path)
	offs = recordOffsets(t, b)
	b[offs[6]+20] ^= 1 // entry 6, signed by Close: corrupt
	os.WriteFile(path, b, 0o600)
	mustFail(t, dir, 6, "damage inside the signed range")
}

// TestCrashDuringCheckpoint: a crash while the checkpoint file is being
// replaced leaves the previous checkpoint in place; the log reopens and
// verifies, and the next checkpoint covers everything.
func TestCrashDuringCheckpoint(t *testing.T) {
	ctx := context.Background()
	for _, cut := range []int64{1, 40, 100, 150} {
		dir := smallLog(t, 4)
		before, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
		ffs := &audittest.FaultFS{FS: audit.DirFS(dir)}
		l, err := audit.Open(ctx, ffs, audit.Options{Signer: testKeyNamed("TestCrashDuringCheckpoint"), CheckpointInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := l.Append(ctx, audittest.Sample(10+i)); err != nil {
				t.Fatal(err)
			}
		}
		ffs.FailAfter(cut)
		if _, err := l.Checkpoint(ctx); err == nil {
			t.Fatalf("cut %d: checkpoint survived the fault", cut)
		}
		l.Close()
		after, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
		if string(after) != string(before) {
			t.Fatalf("cut %d: the checkpoint file changed after a failed replacement", cut)
		}
		l = openTest(t, dir)
		if l.Size() != 7 {
			t.Fatalf("cut %d: size %d after reopening, want 7", cut, l.Size())
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
		if err != nil || rep.Checkpoint.Size != 7 {
			t.Fatalf("cut %d: %+v %v", cut, rep, err)
		}
	}
}

// A crash while a fresh log was being created, after the file was made and
// before its header was written, left an empty log file that every later
// open refused ("format: header: unexpected EOF"): the host could never
// start again without someone deleting it by hand. No entry can have been
// acknowledged in it: it is now taken as a new log. An empty log beside a
// signed checkpoint is still a rollback.
func TestCrashBeforeHeaderReopens(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "audit"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "audit", "log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenDir(ctx, data, audit.Options{})
	if err != nil {
		t.Fatalf("open after a crash before the header: %v", err)
	}
	if _, err := l.Append(ctx, audittest.Sample(0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyDir(ctx, data, nil); err != nil || rep.Entries != 1 {
		t.Fatalf("verify: %v, %v", rep, err)
	}
	// Emptied beside its checkpoint: refused, as Verify does.
	if err := os.Truncate(filepath.Join(data, "audit", "log"), 0); err != nil {
		t.Fatal(err)
	}
	if l, err := audit.OpenDir(ctx, data, audit.Options{}); !errors.Is(err, audit.ErrCorrupt) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("open of an emptied log with a checkpoint: %v, want a *VerifyError", err)
	}
}

// unsignedTail returns a log directory whose first 4 entries are signed and
// whose next n entries were acknowledged (appended and synced) but never
// signed: a copy taken while the log was open, as a crash leaves it.
func unsignedTail(t *testing.T, n int) (string, []byte, []int) {
	t.Helper()
	ctx := context.Background()
	dir := smallLog(t, 4)
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKeyNamed(strings.Split(t.Name(), "/")[0]), CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(ctx, audittest.Sample(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	l.Close()
	b, err := os.ReadFile(filepath.Join(crashed, "log"))
	if err != nil {
		t.Fatal(err)
	}
	return crashed, b, recordOffsets(t, b)
}

// A flip in a complete, acknowledged record of the unsigned tail was taken
// for a torn write: Open trimmed it and every entry after it in the same
// group commit (157 of 210 acknowledged entries in the report of issue
// 18), and verify said ok. Only a last record cut short by the end of the
// file is a tear; anything else is corruption naming the entry.
func TestFlipInUnsignedTailIsCorruption(t *testing.T) {
	const n = 40
	t.Run("LastRecord", func(t *testing.T) {
		dir, b, offs := unsignedTail(t, n)
		last := len(offs) - 1
		b[offs[last]+20] ^= 1
		os.WriteFile(filepath.Join(dir, "log"), b, 0o600)
		mustFail(t, dir, int64(last), "flip in the last, acknowledged record")
	})
	t.Run("InsideOneGroupCommit", func(t *testing.T) {
		// The whole unsigned tail as one group commit (as 64 concurrent
		// appenders produce it): clear the batch-start flag of every
		// record after the first unsigned one and fix its checksum.
		dir, b, offs := unsignedTail(t, n)
		for k := 5; k < len(offs); k++ {
			end := len(b)
			if k+1 < len(offs) {
				end = offs[k+1]
			}
			body := b[offs[k]+8 : end]
			body[audit.LeafSize] &^= 1
			binary.BigEndian.PutUint32(b[offs[k]+4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		}
		os.WriteFile(filepath.Join(dir, "log"), b, 0o600)
		if rep, err := audit.VerifyFS(context.Background(), audit.DirFS(dir), nil); err != nil || rep.Entries != uint64(len(offs)) {
			t.Fatalf("re-framed log: %+v, %v", rep, err)
		}
		b[offs[10]+50] ^= 0x10
		os.WriteFile(filepath.Join(dir, "log"), b, 0o600)
		ve := mustFail(t, dir, 10, "flip inside the last group commit")
		if ve.Offset != int64(offs[10]) {
			t.Fatalf("offset %d, want %d", ve.Offset, offs[10])
		}
	})
	t.Run("LengthOfLastRecord", func(t *testing.T) {
		// A flip that makes the last record's length run past the end
		// of the file: the record is complete (its checksum matches the
		// bytes that are there), so it was acknowledged, not torn.
		dir, b, offs := unsignedTail(t, n)
		last := len(offs) - 1
		b[offs[last]+2] ^= 1
		os.WriteFile(filepath.Join(dir, "log"), b, 0o600)
		mustFail(t, dir, int64(last), "flip in the last record's length")
	})
	t.Run("TornLastRecordStillTrimmed", func(t *testing.T) {
		dir, b, offs := unsignedTail(t, n)
		torn := b[:len(b)-7]
		os.WriteFile(filepath.Join(dir, "log"), torn, 0o600)
		rep, err := audit.VerifyFS(context.Background(), audit.DirFS(dir), nil)
		if err != nil || rep.Entries != uint64(len(offs)-1) || rep.TornBytes != int64(len(torn)-offs[len(offs)-1]) {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
		// The file system extended the file but never wrote the data:
		// a tail of zeros is no record either.
		os.WriteFile(filepath.Join(dir, "log"), append(bytes.Clone(b), make([]byte, 300)...), 0o600)
		rep, err = audit.VerifyFS(context.Background(), audit.DirFS(dir), nil)
		if err != nil || rep.Entries != uint64(len(offs)) || rep.TornBytes != 300 {
			t.Fatalf("zero tail: verify = %+v, %v", rep, err)
		}
	})
}

// A crash anywhere in a prune or a shred (the event's append, its
// checkpoint, the rewrite, the rename) leaves a log that reopens and
// verifies: the event is signed before any payload or subject link goes,
// so whatever was removed is covered, and whatever stayed may stay.
func TestCrashDuringPruneAndShred(t *testing.T) {
	ctx := context.Background()
	for _, shred := range []bool{false, true} {
		var crashed, removed int
		for cut := int64(50); cut < 9000; cut += 350 {
			dir := smallLog(t, 8)
			ffs := &audittest.FaultFS{FS: audit.DirFS(dir)}
			key := testKeyNamed("TestCrashDuringPruneAndShred")
			l, err := audit.Open(ctx, ffs, audit.Options{Signer: key, CheckpointInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			ffs.FailAfter(cut)
			if shred {
				_, err = l.Shred(ctx, audittest.Sample(0).Subject)
			} else {
				_, err = l.Prune(ctx, audittest.Sample(5).Time)
			}
			l.Close()
			rep, verr := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
			if verr != nil {
				t.Fatalf("shred %v cut %d (op error %v): verify after the crash: %v", shred, cut, err, verr)
			}
			l, err = audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: key})
			if err != nil {
				t.Fatalf("shred %v cut %d: reopen: %v", shred, cut, err)
			}
			if l.Size() < 8 {
				t.Fatalf("shred %v cut %d: %d entries left of 8", shred, cut, l.Size())
			}
			l.Close()
			if ffs.Dead() {
				crashed++
			}
			if rep.Pruned+rep.Shredded > 0 {
				removed++
			}
		}
		if crashed == 0 || removed == 0 || crashed+removed < 26 {
			t.Fatalf("shred %v: %d runs crashed, %d removed something: the cuts miss the operation", shred, crashed, removed)
		}
	}
}
