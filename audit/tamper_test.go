package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// smallLog writes n entries in two sessions (two checkpoints, several
// batches) and returns the directory, closed.
func smallLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range n {
		if i == n/2 {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir)
		}
		if _, err := l.Append(context.Background(), audittest.Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// recordOffsets parses the log file's framing: header length and the
// offset of each record.
func recordOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	h := bytes.Index(b, []byte("\n\n"))
	if h < 0 {
		t.Fatal("no header")
	}
	var offs []int
	for p := h + 2; p < len(b); p += 8 + int(binary.BigEndian.Uint32(b[p:])) {
		offs = append(offs, p)
	}
	return offs
}

func entryAt(offs []int, p int) uint64 {
	i := 0
	for i+1 < len(offs) && offs[i+1] <= p {
		i++
	}
	return uint64(i)
}

// mustFail checks that both the verifier and Open reject dir, with the
// first bad entry want (or any index when want < 0).
func mustFail(t *testing.T, dir string, want int64, what string) *audit.VerifyError {
	t.Helper()
	ctx := context.Background()
	_, err := audit.VerifyFS(ctx, audit.DirFS(dir), nil)
	var ve *audit.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: verify = %v, want a *VerifyError", what, err)
	}
	if want >= 0 && ve.Index != uint64(want) {
		t.Fatalf("%s: verify reports entry %d, want %d: %v", what, ve.Index, want, ve)
	}
	l, err := audit.Open(ctx, audit.DirFS(dir), audit.Options{Signer: testKeyNamed(strings.Split(t.Name(), "/")[0])})
	if err == nil {
		l.Close()
		t.Fatalf("%s: Open accepted the log", what)
	}
	var oe *audit.VerifyError
	if !errors.As(err, &oe) || oe.Index != ve.Index || oe.Problem != ve.Problem {
		t.Fatalf("%s: Open = %v, verify = %v", what, err, ve)
	}
	return ve
}

func testKeyNamed(name string) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, name)
	return ed25519.NewKeyFromSeed(seed)
}

func TestTamper(t *testing.T) {
	const n = 12
	dir := smallLog(t, n)
	logPath := filepath.Join(dir, "log")
	cpPath := filepath.Join(dir, "checkpoint")
	orig, _ := os.ReadFile(logPath)
	origCP, _ := os.ReadFile(cpPath)
	offs := recordOffsets(t, orig)
	if len(offs) != n {
		t.Fatalf("%d records, want %d", len(offs), n)
	}
	restore := func() {
		os.WriteFile(logPath, orig, 0o600)
		os.WriteFile(cpPath, origCP, 0o644)
	}
	if _, err := audit.VerifyFS(context.Background(), audit.DirFS(dir), nil); err != nil {
		t.Fatalf("untouched log: %v", err)
	}

	t.Run("FlipEveryLogByte", func(t *testing.T) {
		defer restore()
		for p := 0; p < len(orig); p += raceStride {
			b := bytes.Clone(orig)
			b[p] ^= 0xff
			os.WriteFile(logPath, b, 0o600)
			want := int64(0)
			if p >= offs[0] {
				want = int64(entryAt(offs, p))
			}
			ve := mustFail(t, dir, want, "flip log byte "+itoa(p))
			if p >= offs[0] && ve.Offset != int64(offs[want]) {
				t.Fatalf("flip log byte %d: offset %d, want %d (%v)", p, ve.Offset, offs[want], ve)
			}
		}
	})

	t.Run("FlipEveryCheckpointByte", func(t *testing.T) {
		defer restore()
		for p := range origCP {
			b := bytes.Clone(origCP)
			b[p] ^= 0xff
			os.WriteFile(cpPath, b, 0o644)
			ve := mustFail(t, dir, 0, "flip checkpoint byte "+itoa(p))
			if ve.Problem != audit.ProblemSignature {
				t.Fatalf("flip checkpoint byte %d: %v", p, ve)
			}
		}
	})

	t.Run("Truncate", func(t *testing.T) {
		defer restore()
		for size := 0; size < len(orig); size += raceStride {
			os.WriteFile(logPath, orig[:size], 0o600)
			want := int64(0)
			if size >= offs[0] {
				want = int64(entryAt(offs, size))
				if size == offs[want] && size > offs[0] && want > 0 {
					want = int64(entryAt(offs, size))
				}
			}
			ve := mustFail(t, dir, want, "truncate to "+itoa(size))
			if size > offs[0] && ve.Problem != audit.ProblemTruncated {
				t.Fatalf("truncate to %d: %v", size, ve)
			}
		}
	})

	rec := func(i int) []byte {
		end := len(orig)
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		return orig[offs[i]:end]
	}
	rebuild := func(order []int) []byte {
		b := bytes.Clone(orig[:offs[0]])
		for _, i := range order {
			b = append(b, rec(i)...)
		}
		return b
	}
	seq := func() []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	for _, c := range []struct {
		name    string
		order   func() []int
		index   int64
		problem audit.Problem
	}{
		{"SwapEntries", func() []int { s := seq(); s[3], s[4] = s[4], s[3]; return s }, 3, audit.ProblemGap},
		{"DuplicateEntry", func() []int { s := seq(); return append(s[:5:5], append([]int{4}, s[5:]...)...) }, 5, audit.ProblemOrder},
		{"DeleteEntry", func() []int { s := seq(); return append(s[:6:6], s[7:]...) }, 6, audit.ProblemGap},
		{"DeleteLastEntry", func() []int { return seq()[:n-1] }, n - 1, audit.ProblemTruncated},
		{"DuplicateLastEntry", func() []int { return append(seq(), n-1) }, n, audit.ProblemOrder},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer restore()
			os.WriteFile(logPath, rebuild(c.order()), 0o600)
			ve := mustFail(t, dir, c.index, c.name)
			if ve.Problem != c.problem {
				t.Fatalf("%s: problem %v, want %v (%v)", c.name, ve.Problem, c.problem, ve)
			}
		})
	}

	t.Run("ReplaceCheckpoint", func(t *testing.T) {
		defer restore()
		ctx := context.Background()
		// Signed by another key.
		other := audittest.NewLog("test.example/audit", nil)
		for i := range n {
			other.Append(ctx, audittest.Sample(i))
		}
		foreign, _ := other.Checkpoint(ctx)
		os.WriteFile(cpPath, foreign, 0o644)
		if ve := mustFail(t, dir, 0, "foreign checkpoint"); ve.Problem != audit.ProblemSignature {
			t.Fatal(ve)
		}
		// Signed by the log's own key, but over another history (the
		// key holder forging): the root does not match.
		s, _ := audit.NoteSigner("test.example/audit", testKeyNamed("TestTamper"))
		forged, _ := audit.SignCheckpoint(audit.Checkpoint{Origin: "test.example/audit", Size: n}, s)
		os.WriteFile(cpPath, forged, 0o644)
		if ve := mustFail(t, dir, n-1, "forged root"); ve.Problem != audit.ProblemInconsistent || ve.Offset != int64(offs[n-1]) {
			t.Fatal(ve)
		}
		// Claiming more entries than the log holds.
		forged, _ = audit.SignCheckpoint(audit.Checkpoint{Origin: "test.example/audit", Size: n + 5}, s)
		os.WriteFile(cpPath, forged, 0o644)
		if ve := mustFail(t, dir, n, "checkpoint beyond the log"); ve.Problem != audit.ProblemTruncated {
			t.Fatal(ve)
		}
		os.WriteFile(cpPath, []byte("garbage\n"), 0o644)
		mustFail(t, dir, 0, "garbage checkpoint")
	})

	t.Run("DeleteLogKeepCheckpoint", func(t *testing.T) {
		defer restore()
		os.Remove(logPath)
		_, err := audit.Open(context.Background(), audit.DirFS(dir), audit.Options{Signer: testKeyNamed("TestTamper"), Origin: "test.example/audit"})
		if !errors.Is(err, audit.ErrRollback) {
			t.Fatalf("Open of a deleted log with a checkpoint = %v, want ErrRollback", err)
		}
	})
}

func itoa(i int) string {
	b := []byte{}
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
