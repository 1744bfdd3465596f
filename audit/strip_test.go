package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// strip rewrites record i of the log file in dir as an attacker without
// the key would: payload gone (flag pruned) or only the subject opening
// gone; framing and checksum made valid again.
func strip(t *testing.T, dir string, i int, subjectOnly bool) {
	t.Helper()
	path := filepath.Join(dir, "log")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(t, b)
	end := len(b)
	if i+1 < len(offs) {
		end = offs[i+1]
	}
	body := bytes.Clone(b[offs[i]+8 : end])
	flags := body[audit.LeafSize]
	const flagPruned, flagSubject = 2, 4
	if subjectOnly {
		if flags&flagSubject == 0 {
			t.Fatalf("entry %d has no subject opening", i)
		}
		n := binary.BigEndian.Uint32(body[audit.LeafSize+1+32:])
		body = body[:audit.LeafSize+1+32+4+int(n)]
		body[audit.LeafSize] = flags &^ flagSubject
	} else {
		body = body[:audit.LeafSize+1]
		body[audit.LeafSize] = (flags | flagPruned) &^ flagSubject
	}
	rec := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	out := append(append(bytes.Clone(b[:offs[i]]), append(rec, body...)...), b[end:]...)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Issue 18 item 3: stripping an entry's payload and marking it pruned, or
// stripping its subject link, passed verify ("1 entries pruned", "1
// subjects shredded") though no prune or shred event covered it. Either is
// now refused with the entry's index.
func TestStrippedWithoutEvent(t *testing.T) {
	for _, c := range []struct {
		name    string
		subject bool
	}{{"Payload", false}, {"SubjectLink", true}} {
		dir := smallLog(t, 8)
		t.Run(c.name, func(t *testing.T) {
			strip(t, dir, 3, c.subject)
			ve := mustFail(t, dir, 3, "stripped "+c.name)
			if ve.Problem != audit.ProblemStripped {
				t.Fatalf("problem %v, want stripped: %v", ve.Problem, ve)
			}
		})
	}
}

// A prune or shred event covers only what it says: other kinds, entries
// after its range or later than its cutoff, entries it does not list.
func TestStrippedOutsideEvent(t *testing.T) {
	ctx := context.Background()
	key := testKeyNamed("TestStrippedOutsideEvent")
	dir := t.TempDir()
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: key, Origin: "test.example/audit"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		e := audittest.Sample(i)
		if i == 1 {
			e.Kind = audit.KindConsentGiven
		}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Prune the access log before entry 4's time; shred subject 0
	// (entries 0, 3, 6).
	if n, err := l.Prune(ctx, audittest.Sample(4).Time, audit.AccessKinds...); err != nil || n != 3 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	if n, err := l.Shred(ctx, audittest.Sample(0).Subject); err != nil || n != 1 {
		t.Fatalf("shred = %d, %v (entries 0 and 3 were pruned, 6 is left)", n, err)
	}
	for _, i := range []int{2, 21, 22} {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.Pruned != 3 || rep.Shredded != 1 {
		t.Fatalf("honest log: %+v, %v", rep, err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, "log"))
	for _, c := range []struct {
		name    string
		entry   int
		subject bool
	}{
		{"KindNotPruned", 1, false},     // consent, older than the cutoff
		{"LaterThanCutoff", 5, false},   // access, after the cutoff
		{"AfterTheRange", 11, false},    // access, old time, appended after the prune
		{"PruneEvent", 8, false},        // the evidence of the prune: entry 0 is then the first uncovered
		{"SubjectNotListed", 4, true},   // subject 1, never shredded
		{"SubjectAfterShred", 12, true}, // subject of Sample(21)%3 = 0, after the shred
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "log"), orig, 0o600)
			strip(t, dir, c.entry, c.subject)
			want := int64(c.entry)
			if c.name == "PruneEvent" {
				want = 0
			}
			if ve := mustFail(t, dir, want, c.name); ve.Problem != audit.ProblemStripped {
				t.Fatal(ve)
			}
		})
	}
}

// A prune event, even one that pruned nothing, is never pruned.
func TestStrippedPruneEvent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKeyNamed("TestStrippedPruneEvent"), Origin: "test.example/audit"})
	if err != nil {
		t.Fatal(err)
	}
	appendSamples(t, l, 0, 3)
	if n, err := l.Prune(ctx, audittest.Sample(0).Time); err != nil || n != 0 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	appendSamples(t, l, 3, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	strip(t, dir, 3, false)
	if ve := mustFail(t, dir, 3, "stripped prune event"); ve.Problem != audit.ProblemStripped {
		t.Fatal(ve)
	}
}

func appendSamples(t *testing.T, l audit.Log, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := l.Append(context.Background(), audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// Two prunes whose ranges and cutoffs overlap (a shorter retention after a
// longer one): each pruned entry is covered by one of them though no
// single prune covers them all.
func TestStrippedCoveredByTwoPrunes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 10 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Prune(ctx, audittest.Sample(6).Time); err != nil || n != 6 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	// Late entries carrying old times, pruned by an older cutoff.
	for i := range 3 {
		if _, err := l.Append(ctx, audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Prune(ctx, audittest.Sample(2).Time); err != nil || n != 2 {
		t.Fatalf("second prune = %d, %v", n, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	if err != nil || rep.Pruned != 8 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
}
