package tesseralog_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"golang.org/x/mod/sumdb/tlog"
)

// TestMySQLTwoProcesses runs two processes (this test binary, re-executed)
// that append concurrently to one MySQL-backed log, 8 goroutines each.
// Every acknowledged entry must be in the log once, at its index, proven
// into the final checkpoint, and chained when the leaves are v1; the
// tiles alone must verify.
func TestMySQLTwoProcesses(t *testing.T) {
	if os.Getenv("TESSERALOG_CHILD") != "" {
		child(t)
		return
	}
	t.Run("v1", func(t *testing.T) { twoProcesses(t, audit.LeafV1) })
	t.Run("v2", func(t *testing.T) { twoProcesses(t, audit.LeafV2) })
}

func twoProcesses(t *testing.T, version int) {
	db := freshDB(t)
	var dbName string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "two processes")
	const perProc = 120
	acked := map[uint64]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMySQLTwoProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), "TESSERALOG_CHILD="+strconv.Itoa(p), "TESSERALOG_DB="+dbName,
				"TESSERALOG_SEED="+hex.EncodeToString(seed), fmt.Sprintf("TESSERALOG_N=%d", perProc),
				fmt.Sprintf("TESSERALOG_LEAF=%d", version))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Errorf("child %d: %v\n%s\n%s", p, err, out.String(), tail(errb.String()))
				return
			}
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				idx, call, ok := strings.Cut(sc.Text(), " ")
				if !strings.HasPrefix(call, "p") || !ok {
					continue
				}
				i, err := strconv.ParseUint(idx, 10, 64)
				if err != nil {
					continue
				}
				mu.Lock()
				if prev, dup := acked[i]; dup {
					t.Errorf("index %d acknowledged to %s and %s", i, prev, call)
				}
				acked[i] = call
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(acked) != 2*perProc {
		t.Fatalf("%d acknowledged entries, want %d", len(acked), 2*perProc)
	}
	l, err := tesseralog.OpenMySQL(context.Background(), db, tesseralog.Options{Signer: ed25519.NewKeyFromSeed(seed), Origin: "example.com/audit/procs"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := audit.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil || cp.Size != 2*perProc {
		t.Fatalf("checkpoint size %d, %v; want %d", cp.Size, err, 2*perProc)
	}
	// An auditor's view: the tiles alone, read from the database.
	if vcp, err := tesseralog.VerifyTiles(ctx, l.TilesFS(ctx), l.VerifierKey()); err != nil || vcp.Size != cp.Size {
		t.Fatalf("VerifyTiles over MySQL = size %d, %v; want %d", vcp.Size, err, cp.Size)
	}
	switches := 0
	for i := uint64(1); i < cp.Size; i++ {
		if acked[i][:2] != acked[i-1][:2] {
			switches++
		}
	}
	t.Logf("the two processes' entries alternate %d times in the log", switches)
	prev := audit.Genesis(cp.Origin)
	for i := range cp.Size {
		en, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if en.Event.CallID != acked[i] {
			t.Fatalf("entry %d holds %q, acknowledged %q", i, en.Event.CallID, acked[i])
		}
		if en.Version != version || en.Index != i {
			t.Fatalf("entry %d: leaf version %d index %d, want version %d", i, en.Version, en.Index, version)
		}
		if version == audit.LeafV1 && en.Prev != prev {
			t.Fatalf("entry %d does not chain to entry %d", i, i-1)
		}
		prev = en.Hash()
		p, err := l.ProveInclusion(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, int64(cp.Size), cp.Root, int64(i), en.Hash()); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

// child appends TESSERALOG_N entries from 8 goroutines and prints
// "index callID" for each acknowledged one.
func child(t *testing.T) {
	dsn := mysqlDSN(t)
	db, err := sql.Open("mysql", strings.Replace(dsn, ")/", ")/"+os.Getenv("TESSERALOG_DB"), 1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seed, _ := hex.DecodeString(os.Getenv("TESSERALOG_SEED"))
	n, _ := strconv.Atoi(os.Getenv("TESSERALOG_N"))
	v, _ := strconv.Atoi(os.Getenv("TESSERALOG_LEAF"))
	l, err := tesseralog.OpenMySQL(context.Background(), db, tesseralog.Options{Signer: ed25519.NewKeyFromSeed(seed), Origin: "example.com/audit/procs", LeafVersion: v})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				e := audittest.Sample(i)
				e.CallID = fmt.Sprintf("p%s-%d", os.Getenv("TESSERALOG_CHILD"), i)
				idx, err := l.Append(context.Background(), e)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("%d %s\n", idx, e.CallID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
