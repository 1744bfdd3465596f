package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"golang.org/x/mod/sumdb/note"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// TestMain lets a test run the CLI in a child process (this test binary,
// re-executed with CONSENTREC_CLI_ARGS): a second process appending to the
// same audit log.
func TestMain(m *testing.M) {
	if args := os.Getenv("CONSENTREC_CLI_ARGS"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr}, a))
	}
	os.Exit(m.Run())
}

// cliProcess runs the CLI in a child process.
func cliProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONSENTREC_CLI_ARGS="+string(a))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Errorf("cli %q: %v", args, err)
	return -1, out.String(), errb.String()
}

func writeBackends(t *testing.T, root string, b backends) {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, BackendsFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestParseAuditBackend(t *testing.T) {
	root := filepath.FromSlash("/data")
	for _, c := range []struct {
		in      string
		posix   string // want a POSIX log there
		mysqlDB string // want a MySQL log in that database
		bad     bool
	}{
		{in: ""},
		{in: "tessera+posix:///var/lib/audit", posix: "/var/lib/audit"},
		{in: "tessera+posix:/var/lib/audit", posix: "/var/lib/audit"},
		{in: "tessera+posix:tiles", posix: "/data/tiles"},
		{in: "tessera+posix:tiles/../x", posix: "/data/x"},
		{in: "tessera+posix://host/var/lib/audit", bad: true},
		{in: "tessera+posix:", bad: true},
		{in: "tessera+posix://", bad: true},
		{in: "tessera+mysql://consentrec@tcp(db.example.com:3306)/audit", mysqlDB: "audit"},
		{in: "tessera+mysql://root@unix(/run/mysqld.sock)/audit?timeout=5s", mysqlDB: "audit"},
		{in: "tessera+mysql://consentrec:secret@tcp(db:3306)/audit", bad: true}, // password in the file
		{in: "tessera+mysql://consentrec@tcp(db:3306)/", bad: true},             // no database
		{in: "tessera+mysql://consentrec@tcp(db:3306", bad: true},
		{in: "mysql://consentrec@tcp(db:3306)/audit", bad: true},
		{in: "/var/lib/audit", bad: true},
		{in: "file", bad: true},
		{in: "tessera+posix:/a\x00b", bad: true},
	} {
		ab, err := parseAuditBackend(root, c.in)
		switch {
		case c.bad:
			if err == nil || !errors.Is(err, errAuditURL) {
				t.Errorf("%q: %+v, %v; want an error wrapping errAuditURL", c.in, ab, err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.posix != "":
			if ab.posixDir != filepath.FromSlash(c.posix) || ab.mysql != nil {
				t.Errorf("%q: %+v, want POSIX %s", c.in, ab, c.posix)
			}
		case c.mysqlDB != "":
			if ab.mysql == nil || ab.mysql.DBName != c.mysqlDB || ab.posixDir != "" {
				t.Errorf("%q: %+v, want MySQL database %s", c.in, ab, c.mysqlDB)
			}
		default:
			if !ab.isFile() {
				t.Errorf("%q: %+v, want the file log", c.in, ab)
			}
		}
	}
	// A bad entry in backends.json is a usage error of every command.
	root = t.TempDir()
	writeBackends(t, root, backends{Audit: "tessera+mysql://u:pw@tcp(db:3306)/audit"})
	code, _, errOut := cli(t, "breach", "report", "--data", root, "--what", "laptop lost")
	if code != 2 || !strings.Contains(errOut, "MYSQL_PWD") || strings.Contains(errOut, "pw@") {
		t.Errorf("breach report with a password in backends.json: exit %d, want 2 naming MYSQL_PWD without the password: %s", code, errOut)
	}
}

func FuzzParseAuditBackend(f *testing.F) {
	for _, s := range []string{"", "tessera+posix:///var/lib/audit", "tessera+posix:rel", "tessera+posix://h/x",
		"tessera+mysql://u@tcp(h:3306)/db", "tessera+mysql://u:p@tcp(h)/db", "tessera+mysql://u@unix(/s)/db?x=y", "mysql://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ab, err := parseAuditBackend("/data", s)
		if err != nil {
			if !errors.Is(err, errAuditURL) {
				t.Fatalf("%q: error %v does not wrap errAuditURL", s, err)
			}
			return
		}
		switch {
		case s == "":
			if !ab.isFile() {
				t.Fatalf("empty entry: %+v", ab)
			}
		case ab.posixDir != "":
			if !filepath.IsAbs(ab.posixDir) || ab.mysql != nil || !strings.HasPrefix(s, auditSchemePOSIX) {
				t.Fatalf("%q: %+v", s, ab)
			}
		case ab.mysql != nil:
			if ab.mysql.Passwd != "" || ab.mysql.DBName == "" || !strings.HasPrefix(s, auditSchemeMySQL) {
				t.Fatalf("%q: %+v", s, ab)
			}
		default:
			t.Fatalf("%q: non-empty entry parsed as the file log", s)
		}
	})
}

// auditShowJSON lists the data directory's audit log with audit show --json.
func auditShowJSON(t *testing.T, root string) []auditShownEvent {
	t.Helper()
	code, out, errOut := cli(t, "audit", "show", "--json", "--data", root)
	if code != 0 {
		t.Fatalf("audit show: exit %d: %s", code, errOut)
	}
	var evs []auditShownEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev auditShownEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit show --json: %v: %s", err, sc.Text())
		}
		evs = append(evs, ev)
	}
	return evs
}

var breachEntry = regexp.MustCompile(`breach (breach-\S+) recorded \(audit entry (\d+)\)`)

// With "audit": "tessera+posix:DIR" every command appends to and reads the
// Tessera log, signed with the data directory's key; no file log appears;
// a flipped byte in a tile fails audit verify with exit 1 naming the entry.
func TestAuditBackendPOSIX(t *testing.T) {
	root := t.TempDir()
	writeBackends(t, root, backends{Audit: "tessera+posix:audit-tiles"})
	if code, _, errOut := cli(t, "audit", "verify", "--data", root); code != 2 || !strings.Contains(errOut, "no audit log") {
		t.Fatalf("verify before any entry: exit %d, want 2: %s", code, errOut)
	}
	var ids []string
	for i := range 3 {
		code, out, errOut := cli(t, "breach", "report", "--data", root, "--what", fmt.Sprint("laptop ", i, " lost"))
		m := breachEntry.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("breach report: exit %d\n%s%s", code, out, errOut)
		}
		if m[2] != fmt.Sprint(i) {
			t.Errorf("breach %d logged at entry %s", i, m[2])
		}
		ids = append(ids, m[1])
	}
	if _, err := os.Stat(filepath.Join(root, "audit", "log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file log was created beside the Tessera backend: %v", err)
	}
	code, out, errOut := cli(t, "breach", "list", "--data", root)
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("breach list lacks %s (exit %d):\n%s%s", id, code, out, errOut)
		}
	}
	evs := auditShowJSON(t, root)
	if len(evs) != 3 || evs[2].Kind != audit.KindBreach.String() || evs[2].Index != 2 {
		t.Fatalf("audit show: %+v", evs)
	}
	code, out, errOut = cli(t, "audit", "verify", "--data", root)
	if code != 0 || !strings.Contains(out, "ok: 3 entries") || !strings.Contains(out, "origin: consentrec.local/audit/") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	// A receipt, checked offline with the verifier key of the data
	// directory's signing key.
	code, receipt, errOut := cli(t, "audit", "prove", "--data", root, "1")
	if code != 0 {
		t.Fatalf("audit prove: exit %d: %s", code, errOut)
	}
	rf := filepath.Join(t.TempDir(), "receipt")
	os.WriteFile(rf, []byte(receipt), 0o600)
	vkey := dataDirVerifierKey(t, root, strings.TrimPrefix(strings.SplitN(out, "\n", 3)[1], "origin: "))
	if code, out, errOut := cli(t, "audit", "key", "--data", root); code != 0 || out != vkey+"\n" {
		t.Errorf("audit key: exit %d, %q%s; want %q", code, out, errOut, vkey)
	}
	if code, out, errOut := cli(t, "audit", "check", rf, "--key", vkey); code != 0 || !strings.Contains(out, ids[1]) {
		t.Fatalf("audit check: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := cli(t, "audit", "prove", "--data", root, "3"); code != 1 {
		t.Errorf("audit prove of entry 3 of 3: exit %d, want 1", code)
	}
	if code, _, errOut := cli(t, "audit", "prune", "--data", root, "--older-than", "30", "--all-kinds"); code != 2 || !strings.Contains(errOut, "access log only") {
		t.Errorf("audit prune --all-kinds on Tessera: exit %d, want 2: %s", code, errOut)
	}
	if code, out, errOut := cli(t, "audit", "prune", "--data", root, "--older-than", "30"); code != 0 || !strings.Contains(out, "pruned 0 access-log entries") {
		t.Errorf("audit prune: exit %d\n%s%s", code, out, errOut)
	}
	// No witness ever cosigned this log: a witness asked for is missing.
	if code, _, errOut := cli(t, "audit", "verify", "--data", root, "--witness", vkey); code != 1 || !strings.Contains(errOut, "missing") {
		t.Errorf("audit verify --witness on a Tessera log no witness cosigned: exit %d, want 1 naming the missing witness: %s", code, errOut)
	}
	// The same tiles, copied by an auditor, verify with the key alone, to
	// the same output.
	code, out, errOut = cli(t, "audit", "verify", "--data", root)
	if code != 0 || !strings.Contains(out, "ok: 4 entries") { // and the prune event
		t.Fatalf("audit verify after prune: exit %d\n%s%s", code, out, errOut)
	}
	tiles := filepath.Join(root, "audit-tiles", "tlog")
	if code, out2, errOut := cli(t, "audit", "verify", "--tiles", tiles, "--key", vkey); code != 0 || !sameVerdict(out, out2) {
		t.Fatalf("verify --tiles: exit %d\n%s%s\nwant the verdict of verify --data:\n%s", code, out2, errOut, out)
	}

	// While a host holds the POSIX log (one process at a time), verify
	// checks the tiles and says the openings were not; appends are refused.
	l, err := openAuditLog(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, "audit", "verify", "--data", root); code != 0 || !strings.Contains(out, "ok: 4 entries") || !strings.Contains(out, "openings not checked") {
		t.Errorf("verify while a host holds the log: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "breach", "report", "--data", root, "--what", "x"); code != 1 || !strings.Contains(errOut, "in use by another process") {
		t.Errorf("breach report while a host holds the POSIX log: exit %d, want 1: %s", code, errOut)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	flipLastBundle(t, tiles)
	code, _, errOut = cli(t, "audit", "verify", "--data", root)
	if code != 1 || !regexp.MustCompile(`entry [0-3]\b`).MatchString(errOut) {
		t.Fatalf("verify of a flipped bundle: exit %d, want 1 naming the entry: %s", code, errOut)
	}
}

// sameVerdict reports whether two outputs of audit verify give the same
// entries, root and origin (the first two lines), the one of the data
// directory's log having checked the openings too, the other the tiles.
func sameVerdict(data, tiles string) bool {
	d, t := strings.SplitN(data, "\n", 3), strings.SplitN(tiles, "\n", 3)
	return len(d) == 3 && len(t) == 3 && d[0] == t[0] && d[1] == t[1] &&
		strings.HasPrefix(d[2], "checkpoint: ") && !strings.Contains(d[2], "tiles only") && strings.Contains(t[2], "tiles only")
}

// dataDirVerifierKey returns the verifier key of root's signing key.
func dataDirVerifierKey(t *testing.T, root, origin string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(consentrec.DataDir{Root: root}.Keys(), audit.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := audit.ParseSigningKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := audit.VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

func flipLastBundle(t *testing.T, tiles string) {
	t.Helper()
	var bundle string
	filepath.WalkDir(filepath.Join(tiles, "tile", "entries"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			bundle = p
		}
		return nil
	})
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(bundle, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A node without the signing key of an existing Tessera log refuses to
// open it, rather than sign checkpoints with a key of its own.
func TestAuditBackendKeyRequired(t *testing.T) {
	shared := t.TempDir()
	a, b := t.TempDir(), t.TempDir()
	writeBackends(t, a, backends{Audit: "tessera+posix://" + filepath.ToSlash(shared)})
	writeBackends(t, b, backends{Audit: "tessera+posix://" + filepath.ToSlash(shared)})
	if code, out, errOut := cli(t, "breach", "report", "--data", a, "--what", "x"); code != 0 {
		t.Fatalf("breach report: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut := cli(t, "breach", "report", "--data", b, "--what", "y")
	if code != 1 || !strings.Contains(errOut, "copy the signing key") {
		t.Fatalf("a node without the key: exit %d, want 1 asking for the key: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(consentrec.DataDir{Root: b}.Keys(), audit.SigningKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key was created for a log another key signs: %v", err)
	}
	// Another key in its place is refused too.
	if _, err := audit.LoadSigningKey(filepath.Join(consentrec.DataDir{Root: b}.Keys(), audit.SigningKeyFile), true); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "breach", "report", "--data", b, "--what", "y"); code != 1 || !strings.Contains(errOut, "not signed by") {
		t.Fatalf("a node with another key: exit %d, want 1: %s", code, errOut)
	}
}

// testMySQLDSN returns the DSN of a MySQL/MariaDB server for tests, from
// CONSENTREC_TEST_MYSQL_DSN (a user that may create databases, no
// database). Without it the test is skipped, unless CONSENTREC_CI or CI is
// set: then a server that did not start fails the job.
func testMySQLDSN(t testing.TB) string {
	dsn := os.Getenv("CONSENTREC_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CONSENTREC_CI") != "" || os.Getenv("CI") != "" {
			t.Fatal("CONSENTREC_CI is set but CONSENTREC_TEST_MYSQL_DSN is not: the MariaDB step did not run")
		}
		t.Skip("CONSENTREC_TEST_MYSQL_DSN not set")
	}
	return dsn
}

var testDBSeq atomic.Int64

// freshMySQL creates an empty database, dropped after the test, and
// returns its DSN (without a password: MYSQL_PWD holds it, if any).
func freshMySQL(t testing.TB) string {
	cfg, err := mysqldrv.ParseDSN(testMySQLDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Passwd != "" {
		t.Setenv("MYSQL_PWD", cfg.Passwd)
		cfg.Passwd = ""
	}
	admin, err := openMySQL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("consentrec_cli_%d_%d", os.Getpid(), testDBSeq.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
	cfg.DBName = name
	return cfg.FormatDSN()
}

// A host (consentrec.Open on the MySQL backend, appending in a loop) and
// CLI commands in other processes append to one log at the same time:
// no lock refusal, every acknowledged entry is in the log exactly once, and
// the log verifies, from the data directory and from the database alone.
// A flipped byte in a tile row then fails audit verify --mysql with exit 1
// naming the entry.
func TestAuditBackendMySQLSharedLog(t *testing.T) {
	dsn := freshMySQL(t)
	host, node := t.TempDir(), t.TempDir()
	for _, root := range []string{host, node} {
		writeBackends(t, root, backends{Audit: auditSchemeMySQL + dsn})
	}
	ctx := context.Background()
	l, err := openAuditLog(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	// The second node holds a copy of the log's signing key.
	key, err := os.ReadFile(filepath.Join(consentrec.DataDir{Root: host}.Keys(), audit.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(consentrec.DataDir{Root: node}.Keys(), 0o700)
	os.WriteFile(filepath.Join(consentrec.DataDir{Root: node}.Keys(), audit.SigningKeyFile), key, 0o600)

	svc, err := consentrec.Open(ctx, consentrec.DataDir{Root: host}, consentrec.Options{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	// The host appends in a loop until the CLI commands are done.
	stop := make(chan struct{})
	var mu sync.Mutex
	acked := map[uint64]string{} // index -> what was acknowledged there
	ack := func(i uint64, what string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := acked[i]; dup {
			t.Errorf("entry %d acknowledged twice: %s and %s", i, prev, what)
		}
		acked[i] = what
	}
	var hostWG sync.WaitGroup
	var hostN atomic.Int64
	for w := range 4 {
		hostWG.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				call := fmt.Sprintf("host-%d-%d", w, n)
				i, err := l.Append(ctx, audit.Event{Kind: audit.KindAccess, CallID: call, Actor: "host", Reason: "load"})
				if err != nil {
					t.Errorf("host append: %v", err)
					return
				}
				hostN.Add(1)
				ack(i, "call "+call)
			}
		})
	}
	// CLI commands, in other processes, on both data directories.
	notice := filepath.Join(t.TempDir(), "notice.txt")
	os.WriteFile(notice, []byte("Calls may be recorded.\n"), 0o600)
	var cliWG sync.WaitGroup
	for p := range 4 {
		cliWG.Go(func() {
			root := []string{host, node}[p%2]
			code, out, errOut := cliProcess(t, "breach", "report", "--data", root, "--what", fmt.Sprint("node ", p, " laptop lost"))
			m := breachEntry.FindStringSubmatch(out)
			if code != 0 || m == nil {
				t.Errorf("breach report in process %d: exit %d\n%s%s", p, code, out, errOut)
				return
			}
			var i uint64
			fmt.Sscan(m[2], &i)
			ack(i, "breach "+m[1])
		})
	}
	cliWG.Go(func() {
		if code, out, errOut := cliProcess(t, "agent", "ack", "agent-42", "--notice", notice, "--data", node); code != 0 {
			t.Errorf("agent ack: exit %d\n%s%s", code, out, errOut)
		}
	})
	cliWG.Wait()
	close(stop)
	hostWG.Wait()
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d host appends while 5 CLI processes appended", hostN.Load())

	evs := auditShowJSON(t, node)
	seen := map[string]int{}
	agentAcks := 0
	for i, ev := range evs {
		if ev.Index != uint64(i) {
			t.Fatalf("audit show: entry %d at position %d", ev.Index, i)
		}
		what := ""
		switch {
		case ev.Kind == audit.KindAccess.String():
			what = "call " + ev.CallID
		case ev.Kind == audit.KindBreach.String():
			for _, a := range ev.Attrs {
				if a.Key == "breach" {
					what = "breach " + a.Value
				}
			}
		case ev.Kind == audit.KindAgentNoticeAcknowledged.String():
			agentAcks++
		}
		if what == "" {
			continue
		}
		seen[what]++
		if want, ok := acked[ev.Index]; ok && want != what {
			t.Errorf("entry %d holds %s, acknowledged %s", ev.Index, what, want)
		}
	}
	for i, what := range acked {
		if seen[what] != 1 {
			t.Errorf("%s (acknowledged at %d) is in the log %d times", what, i, seen[what])
		}
	}
	if len(seen) != len(acked) {
		t.Errorf("%d appended entries in the log, %d acknowledged", len(seen), len(acked))
	}
	if agentAcks != 1 {
		t.Errorf("%d agent acknowledgements in the log, want 1", agentAcks)
	}

	code, out, errOut := cli(t, "audit", "verify", "--data", host)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("ok: %d entries", len(evs))) {
		t.Fatalf("audit verify: exit %d (want %d entries)\n%s%s", code, len(evs), out, errOut)
	}
	origin := strings.TrimPrefix(strings.SplitN(out, "\n", 3)[1], "origin: ")
	vkey := dataDirVerifierKey(t, host, origin)
	if code, out, errOut := cli(t, "audit", "key", "--data", node); code != 0 || out != vkey+"\n" {
		t.Errorf("audit key: exit %d, %q%s; want %q", code, out, errOut, vkey)
	}
	code, out2, errOut := cli(t, "audit", "verify", "--mysql", dsn, "--key", vkey)
	if code != 0 || !sameVerdict(out, out2) {
		t.Fatalf("audit verify --mysql: exit %d\n%s%s\nwant the verdict of verify --data:\n%s", code, out2, errOut, out)
	}
	if code, _, errOut := cli(t, "audit", "verify", "--mysql", dsn); code != 2 {
		t.Errorf("verify --mysql without --key: exit %d, want 2: %s", code, errOut)
	}
	if code, _, errOut := cli(t, "audit", "verify", "--mysql", "u:pw@tcp(db:3306)/x", "--key", vkey); code != 2 {
		t.Errorf("verify --mysql with a password in the DSN: exit %d, want 2: %s", code, errOut)
	}
	// The report reads and verifies the same log (exit 1 is for the
	// violations it finds, e.g. a breach not yet notified).
	if code, rep, errOut := cli(t, "report", "--data", node); code > 1 || !strings.Contains(rep, fmt.Sprintf("integrity: verified %d entries", len(evs))) {
		t.Errorf("report: exit %d\n%s%s", code, rep, errOut)
	}

	cfg, _ := mysqldrv.ParseDSN(dsn)
	db, err := openMySQL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A changed opening (the event behind entry 3's commitment): the data
	// directory's verify opens every entry and names it; the tiles alone
	// cannot tell.
	flipRow(t, db, "SELECT payload FROM consentrec_openings2 WHERE idx = 3", "UPDATE consentrec_openings2 SET payload = ? WHERE idx = 3", 4)
	if code, _, errOut := cli(t, "audit", "verify", "--data", node); code != 1 || !strings.Contains(errOut, "entry 3 ") {
		t.Fatalf("verify --data of a changed opening: exit %d, want 1 naming entry 3: %s", code, errOut)
	}
	if code, _, errOut := cli(t, "audit", "verify", "--mysql", dsn, "--key", vkey); code != 0 {
		t.Fatalf("verify --mysql (tiles only) of a changed opening: exit %d: %s", code, errOut)
	}
	flipRow(t, db, "SELECT payload FROM consentrec_openings2 WHERE idx = 3", "UPDATE consentrec_openings2 SET payload = ? WHERE idx = 3", 4)

	// An UPDATE of one tile row: verify names an entry and exits 1.
	flipRow(t, db, "SELECT `nodes` FROM Subtree WHERE `level` = 0 AND `index` = 0", "UPDATE Subtree SET `nodes` = ? WHERE `level` = 0 AND `index` = 0", 5*32+7)
	code, _, errOut = cli(t, "audit", "verify", "--mysql", dsn, "--key", vkey)
	if code != 1 || !strings.Contains(errOut, "entry 5 ") {
		t.Fatalf("verify --mysql of a flipped tile hash: exit %d, want 1 naming entry 5: %s", code, errOut)
	}
	if code, _, errOut := cli(t, "audit", "verify", "--data", node); code != 1 || !strings.Contains(errOut, "entry 5 ") {
		t.Fatalf("verify --data of a flipped tile hash: exit %d, want 1 naming entry 5: %s", code, errOut)
	}
}

// flipRow flips one bit of byte at of the blob query selects.
func flipRow(t *testing.T, db *sql.DB, query, update string, at int) {
	t.Helper()
	var b []byte
	if err := db.QueryRow(query).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if at >= len(b) {
		t.Fatalf("row of %d bytes, cannot flip byte %d", len(b), at)
	}
	b[at] ^= 1
	if _, err := db.Exec(update, b); err != nil {
		t.Fatal(err)
	}
}

// consentrec siprec, the host of the CLI, records to the audit log
// backends.json names.
func TestSiprecAuditBackend(t *testing.T) {
	root := t.TempDir()
	writeBackends(t, root, backends{Audit: "tessera+posix:audit-tiles"})
	siprecReady = func(_ string, stop context.CancelFunc) { stop() }
	t.Cleanup(func() { siprecReady = nil })
	code, out, errOut := cli(t, "siprec", "--data", root, "--listen", "127.0.0.1:0", "--policy", policies+"quality-10pct.json")
	if code != 0 {
		t.Fatalf("siprec: exit %d\n%s%s", code, out, errOut)
	}
	evs := auditShowJSON(t, root)
	if len(evs) == 0 || evs[0].Kind != audit.KindPolicyChange.String() {
		t.Fatalf("the Tessera log holds %+v, want the policy loaded first", evs)
	}
	if _, err := os.Stat(filepath.Join(root, "audit", "log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("siprec wrote a file log beside the Tessera backend: %v", err)
	}
}

// BenchmarkCLIAppend measures one CLI command that appends to the audit
// log (breach report: open the log, append, close with a signed
// checkpoint), on each backend.
func BenchmarkCLIAppend(b *testing.B) {
	backendsFor := map[string]func(b *testing.B) backends{
		"file":          func(*testing.B) backends { return backends{} },
		"tessera-posix": func(*testing.B) backends { return backends{Audit: "tessera+posix:audit-tiles"} },
		"tessera-mysql": func(b *testing.B) backends { return backends{Audit: auditSchemeMySQL + freshMySQL(b)} },
	}
	for _, name := range []string{"file", "tessera-posix", "tessera-mysql"} {
		b.Run(name, func(b *testing.B) {
			root := b.TempDir()
			raw, _ := json.Marshal(backendsFor[name](b))
			os.WriteFile(filepath.Join(root, BackendsFile), raw, 0o600)
			for b.Loop() {
				var out, errb bytes.Buffer
				if code := run(&env{stdout: &out, stderr: &errb}, []string{"breach", "report", "--data", root, "--what", "bench"}); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
		})
	}
}

// audit key prints the file log's verifier key, which verifies it; a data
// directory without a log is a usage error.
func TestAuditKeyFileLog(t *testing.T) {
	root := t.TempDir()
	if code, _, errOut := cli(t, "audit", "key", "--data", root); code != 2 {
		t.Fatalf("audit key without a log: exit %d, want 2: %s", code, errOut)
	}
	if code, out, errOut := cli(t, "breach", "report", "--data", root, "--what", "x"); code != 0 {
		t.Fatalf("breach report: exit %d\n%s%s", code, out, errOut)
	}
	code, vkey, errOut := cli(t, "audit", "key", "--data", root)
	if code != 0 || !strings.HasPrefix(vkey, "consentrec.local/audit/") {
		t.Fatalf("audit key: exit %d %q %s", code, vkey, errOut)
	}
	if code, out, errOut := cli(t, "audit", "verify", "--data", root, "--key", strings.TrimSpace(vkey)); code != 0 {
		t.Fatalf("verify --key (audit key's): exit %d\n%s%s", code, out, errOut)
	}
}

// A Tessera log whose host has witnesses: audit verify --witness checks
// their quorum on the cosigned checkpoint kept beside the tiles (in the
// data directory and in a copy of the tiles), and names a witness that
// never cosigned.
func TestAuditVerifyTesseraWitnesses(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeBackends(t, root, backends{Audit: "tessera+posix:audit-tiles"})
	opts, err := tesseraOptions(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey := dataDirVerifierKey(t, root, opts.Origin)
	logKey, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	a := audittest.NewWitness("witness.example/a", logKey)
	b := audittest.NewWitness("witness.example/b", logKey)
	opts.Witnesses = []audit.Witness{a, b}
	l, err := tesseralog.OpenPOSIX(ctx, filepath.Join(root, "audit-tiles"), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append(ctx, audit.Event{Kind: audit.KindBreach, Time: time.Unix(int64(1e9+i), 0), Actor: "host"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, where := range [][]string{{"--data", root}, {"--tiles", filepath.Join(root, "audit-tiles", "tlog"), "--key", vkey}} {
		args := append([]string{"audit", "verify"}, where...)
		ok := append(append([]string{}, args...), "--witness", a.VerifierKey(), "--witness", b.VerifierKey())
		if code, out, errOut := cli(t, ok...); code != 0 || !strings.Contains(out, "ok: 3 entries") || !strings.Contains(out, "witnesses:") {
			t.Errorf("%v: exit %d\n%s%s", ok, code, out, errOut)
		}
		c := audittest.NewWitness("witness.example/c", logKey)
		missing := append(append([]string{}, ok...), "--witness", c.VerifierKey())
		if code, _, errOut := cli(t, missing...); code != 1 || !strings.Contains(errOut, "witness.example/c") {
			t.Errorf("%v: exit %d, want 1 naming witness.example/c: %s", missing, code, errOut)
		}
		quorum := append(append([]string{}, missing...), "--quorum", "2")
		if code, _, errOut := cli(t, quorum...); code != 0 {
			t.Errorf("%v: exit %d, want 0 (2 of 3 cosigned): %s", quorum, code, errOut)
		}
	}
}
