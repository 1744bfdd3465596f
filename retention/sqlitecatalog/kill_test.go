package sqlitecatalog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// dirStore is a retention.Store of plain files, so that its state outlives
// a killed process.
type dirStore struct {
	dir  string
	stop func(step string) // called after each deletion
}

func (s *dirStore) Open(_ context.Context, id string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(s.dir, id))
}

func (s *dirStore) Delete(_ context.Context, id string) error {
	err := os.Remove(filepath.Join(s.dir, id))
	if err == nil && s.stop != nil {
		s.stop("deleted " + id)
	}
	return err
}

// fileAudit appends events as JSON lines, each synced: what the sweep
// audited survives the kill.
type fileAudit struct {
	f    *os.File
	stop func(step string) // called after each append
}

func (a *fileAudit) Append(_ context.Context, e audit.Event) (uint64, error) {
	b, _ := json.Marshal(e)
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return 0, err
	}
	if err := a.f.Sync(); err != nil {
		return 0, err
	}
	if a.stop != nil {
		a.stop("audited " + e.RecordingID)
	}
	return 0, nil
}

// TestMain lets the test binary act as the sweeping process the test kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SQLITECATALOG_KILL_DIR"); dir != "" {
		os.Exit(killChild(dir, os.Getenv("SQLITECATALOG_KILL_AT")))
	}
	os.Exit(m.Run())
}

// killChild sweeps dir and, at the n-th step of the given kind, says so on
// stdout and blocks until killed.
func killChild(dir, at string) int {
	kind, nStr, _ := strings.Cut(at, ":")
	n, _ := strconv.Atoi(nStr)
	count := 0
	stop := func(step string) {
		if strings.HasPrefix(step, kind) {
			if count++; count == n {
				fmt.Printf("stopped after %s\n", step)
				select {} // wait for SIGKILL
			}
		}
	}
	ctx := context.Background()
	c, err := sqlitecatalog.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		fmt.Println(err)
		return 3
	}
	f, err := os.OpenFile(filepath.Join(dir, "audit.jsonl"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Println(err)
		return 3
	}
	sw := &retention.Sweeper{Catalog: c, Store: &dirStore{dir: filepath.Join(dir, "audio"), stop: stop},
		Audit: &fileAudit{f: f, stop: stop}, BatchSize: 3}
	if _, err := sw.Sweep(ctx, killSweepAt); err != nil {
		fmt.Println(err)
		return 3
	}
	fmt.Println("finished without being killed")
	return 0
}

var killSweepAt = retentiontest.Epoch.AddDate(0, 0, 30).Add(time.Hour)

// TestSweepSIGKILL runs a sweep in a child process, kills it (SIGKILL)
// right after a file deletion or an audit append, then sweeps again in
// this process: exactly the expired, unheld recordings are gone, without
// orphan files or rows, each deletion audited.
func TestSweepSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, at := range []string{"deleted:1", "deleted:4", "audited:2", "audited:7"} {
		t.Run(at, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			audio := filepath.Join(dir, "audio")
			if err := os.Mkdir(audio, 0o700); err != nil {
				t.Fatal(err)
			}
			c := open(t, filepath.Join(dir, "catalog.db"))
			var want []string
			for i := range 10 {
				id := fmt.Sprintf("r%02d", i)
				p := policy.Quality
				if i%5 == 4 {
					p = policy.ContractProof
				}
				r := retentiontest.Rec(id, p, time.Duration(i)*time.Minute, "")
				if err := os.WriteFile(filepath.Join(audio, id), []byte("audio "+id), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := c.Add(ctx, r); err != nil {
					t.Fatal(err)
				}
				if i == 2 {
					if _, err := c.SetHold(ctx, id, retention.Hold{Case: "K", Approver: "A", Since: r.Created}); err != nil {
						t.Fatal(err)
					}
				} else if p == policy.Quality {
					want = append(want, id)
				}
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SQLITECATALOG_KILL_DIR="+dir, "SQLITECATALOG_KILL_AT="+at)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "stopped after") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child: %q, %v", line, err)
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			t.Logf("child %s", strings.TrimSpace(line))

			f, err := os.OpenFile(filepath.Join(dir, "audit.jsonl"), os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := (&retention.Sweeper{Catalog: c, Store: &dirStore{dir: audio}, Audit: &fileAudit{f: f}}).Sweep(ctx, killSweepAt)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if rep.Resumed > 1 {
				t.Errorf("resumed %d deletions, at most one was in flight", rep.Resumed)
			}

			ents, _ := os.ReadDir(audio)
			var files []string
			for _, e := range ents {
				files = append(files, e.Name())
			}
			all, err := c.Expired(ctx, killSweepAt.AddDate(10, 0, 0), retention.Cursor{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			rows := retentiontest.IDs(all)
			slices.Sort(rows)
			if !slices.Equal(files, rows) {
				t.Errorf("orphans: files %v, rows %v", files, rows)
			}
			b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var deleted []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e audit.Event
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("audit line %q: %v", l, err)
				}
				if e.Kind == audit.KindRetentionDeleted && !slices.Contains(deleted, e.RecordingID) {
					deleted = append(deleted, e.RecordingID)
				}
			}
			slices.Sort(deleted)
			if !slices.Equal(deleted, want) {
				t.Errorf("audited deletions %v, want %v", deleted, want)
			}
			for _, id := range want {
				if _, err := os.Stat(filepath.Join(audio, id)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still stored", id)
				}
			}
			if _, err := os.Stat(filepath.Join(audio, "r02")); err != nil {
				t.Errorf("held r02: %v", err)
			}
		})
	}
}
