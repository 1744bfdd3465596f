package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// golden compares got with testdata/golden/NAME.txt (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/consentrec -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// groups returns the command groups: the first words of multi-word names.
func groups() []string {
	var gs []string
	for n := range commands {
		if g, _, ok := strings.Cut(n, " "); ok && !slices.Contains(gs, g) {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	return gs
}

// TestGoldenHelp: every command's --help (exit 0, on stdout) is its golden
// file, and `help COMMAND` and -h print the same; every group alone, with
// --help and through `help GROUP` prints its own help.
func TestGoldenHelp(t *testing.T) {
	t.Setenv("CONSENTREC_DATA", "/somewhere/else") // the help must not depend on it
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			words := strings.Fields(name)
			code, out, errOut := cli(t, append(words, "--help")...)
			if code != 0 || errOut != "" {
				t.Fatalf("%s --help: exit %d, stderr %q", name, code, errOut)
			}
			if !strings.HasPrefix(out, commands[name].short+"\n\nusage: consentrec "+name) {
				t.Errorf("%s --help does not start with its description and usage:\n%s", name, out)
			}
			golden(t, "help-"+strings.Join(words, "-"), out)
			for _, args := range [][]string{append(words, "-h"), append([]string{"help"}, words...), append(append(words, "x"), "--help")} {
				if code, o, e := cli(t, args...); code != 0 || o != out || e != "" {
					t.Errorf("%q: exit %d, stdout differs from --help: %q %q", args, code, o, e)
				}
			}
		})
	}
	for _, g := range groups() {
		t.Run("group "+g, func(t *testing.T) {
			code, out, errOut := cli(t, g)
			if code != 0 || errOut != "" {
				t.Fatalf("%s alone: exit %d, stderr %q", g, code, errOut)
			}
			for n := range commands {
				if sub, ok := strings.CutPrefix(n, g+" "); ok && !strings.Contains(out, "\n  "+strings.Fields(sub)[0]+" ") {
					t.Errorf("%s alone does not list %q:\n%s", g, sub, out)
				}
			}
			golden(t, "group-"+g, out)
			for _, args := range [][]string{{"help", g}, {g, "--help"}} {
				code, o, e := cli(t, args...)
				if code != 0 || e != "" || !strings.HasPrefix(o, strings.Split(out, "\n")[0]) || !strings.Contains(o, "Commands:") {
					t.Errorf("%q: exit %d, stdout:\n%s\nstderr %q", args, code, o, e)
				}
			}
		})
	}
	code, out, errOut := cli(t)
	if code != 0 || errOut != "" {
		t.Fatalf("no command: exit %d, %q", code, errOut)
	}
	golden(t, "root", out)
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		if code, o, _ := cli(t, args...); code != 0 || o != out {
			t.Errorf("%q: exit %d, stdout differs from the root help", args, code)
		}
	}
}

// TestGoldenErrors: the main error texts, on stderr, with their exit status.
func TestGoldenErrors(t *testing.T) {
	t.Setenv("CONSENTREC_DATA", "")
	root := retentionData(t)
	tmp := t.TempDir()
	existing := filepath.Join(tmp, "existing.wav")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	speech := filepath.Join("..", "..", "testdata", "speech.opus")
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"unknown-command", 2, []string{"sweap"}},
		{"unknown-subcommand", 2, []string{"audit", "verfy"}},
		{"unknown-help-topic", 2, []string{"help", "subject", "fnd"}},
		{"group-bad-flag", 2, []string{"audit", "--bogus"}},
		{"usage-missing-arg", 2, []string{"policy", "check"}},
		{"usage-bad-flag", 2, []string{"policy", "check", "--bogus", "x"}},
		{"missing-input", 2, []string{"inspect", filepath.Join(tmp, "nope.opus")}},
		{"directory-input", 2, []string{"inspect", tmp}},
		{"missing-data", 2, []string{"sweep", "--data", filepath.Join(tmp, "nope")}},
		{"export-existing", 1, []string{"export", speech, "--wav", existing}},
		{"export-directory", 1, []string{"export", speech, "--wav", tmp}},
		{"open-denied-role", 1, []string{"open", "rec-q1", "--as", "trainer", "--reason", "training", "--data", root}},
		{"open-unknown", 1, []string{"open", "rec-zz", "--as", "quality", "--reason", "review", "--data", root}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := cli(t, c.args...)
			if code != c.code {
				t.Errorf("%q: exit %d, want %d\n%s", c.args, code, c.code, errOut)
			}
			if out != "" {
				t.Errorf("%q: stdout %q, want nothing", c.args, out)
			}
			errOut = strings.ReplaceAll(errOut, root, "DATA")
			errOut = strings.ReplaceAll(errOut, tmp, "TMP")
			if m := regexp.MustCompile(`^consentrec ([^:]+): (.*)`).FindStringSubmatch(errOut); m != nil {
				words := strings.Fields(m[1])
				if last := words[len(words)-1]; strings.HasPrefix(m[2], last+":") || strings.HasPrefix(m[2], last+" ") {
					t.Errorf("the prefix repeats: %s", errOut)
				}
			}
			golden(t, "error-"+c.name, errOut)
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("export touched an existing OUT: %q", b)
	}
}

func TestTrimPrefix(t *testing.T) {
	for _, c := range []struct{ name, msg, want string }{
		{"open", "open: access denied: x", "access denied: x"},
		{"open", "open rec-1: no such recording", "rec-1: no such recording"},
		{"keys shred", "keys shred rec-1: audit log: closed", "rec-1: audit log: closed"},
		{"keys shred", "shred: gone", "gone"},
		{"open", "opening the catalog: locked", "opening the catalog: locked"},
		{"open", "open the door please", "open the door please"},
		{"audit verify", "audit: entry 4 at offset 812: chain broken", "entry 4 at offset 812: chain broken"},
		{"subject export", "subject export: incomplete", "incomplete"},
		{"hold set", "hold rec-1: case too long", "rec-1: case too long"},
	} {
		if got := trimPrefix(c.name, c.msg); got != c.want {
			t.Errorf("trimPrefix(%q, %q) = %q, want %q", c.name, c.msg, got, c.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := cli(t, "version")
	if code != 0 || !regexp.MustCompile(`^consentrec \S.*\n$`).MatchString(out) {
		t.Fatalf("version: exit %d %q %q", code, out, errOut)
	}
	if code, o, _ := cli(t, "--version"); code != 0 || o != out {
		t.Errorf("--version: exit %d %q, want %q", code, o, out)
	}
	if code, _, _ := cli(t, "version", "extra"); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/consentrec/consentrec", Version: "v0.1.0"}}, "v0.1.0, go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "(devel), go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: ""}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "6dc2f4b0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}, "(devel) commit 6dc2f4b01234 (modified), go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.1.1-0.20261207132413-6dc2f4b01234+dirty"}}, "v0.1.1-0.20261207132413-6dc2f4b01234+dirty, go1.26.0"},
	} {
		if got := formatVersion(c.bi, true); got != c.want {
			t.Errorf("formatVersion(%+v) = %q, want %q", c.bi.Main, got, c.want)
		}
	}
	if got := formatVersion(nil, false); !strings.Contains(got, "unknown") {
		t.Errorf("no build info: %q", got)
	}
}

// TestSweepDryRunNeverSaysDeleted: neither the report nor the progress
// line of a dry run says "deleted" (it said "1 deleted" on stderr).
func TestSweepDryRunNeverSaysDeleted(t *testing.T) {
	root := retentionData(t)
	code, out, errOut := cli(t, "sweep", "--dry-run", "--data", root)
	if code != 1 || !strings.Contains(out, "would delete") || !strings.Contains(errOut, "would delete") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "deleted") {
		t.Errorf("a dry run says deleted:\n%s%s", out, errOut)
	}
}

// TestOpenNeverWritesToATerminal: without --out, a terminal on stdout is
// refused before the gate (nothing audited); --out - forces it.
func TestOpenNeverWritesToATerminal(t *testing.T) {
	root := retentionData(t)
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Writer) bool { return true }
	grant(t, root, "quality")
	args := []string{"open", "rec-q1", "--as", "quality", "--reason", "review", "--data", root}
	code, out, errOut := cli(t, args...)
	if code != 2 || out != "" || !strings.Contains(errOut, "terminal") || !strings.Contains(errOut, "--out -") {
		t.Fatalf("open to a terminal: exit %d %q %q", code, out, errOut)
	}
	if n := auditKinds(t, root)[audit.KindAccess]; n != 0 {
		t.Errorf("a refused open was audited as an access (%d)", n)
	}
	code, out, errOut = cli(t, append(args, "--out", "-")...)
	if code != 0 || out != "OggS fake audio of rec-q1" {
		t.Fatalf("--out -: exit %d %q %q", code, out, errOut)
	}
	if n := auditKinds(t, root)[audit.KindAccess]; n != 1 {
		t.Errorf("--out -: %d access events, want 1", n)
	}
	isTerminal = func(io.Writer) bool { return false }
	if code, out, _ := cli(t, args...); code != 0 || out != "OggS fake audio of rec-q1" {
		t.Errorf("open to a pipe: exit %d %q", code, out)
	}
}

// TestOpenListsAllowedRoles: a refused role is told which roles may open.
func TestOpenListsAllowedRoles(t *testing.T) {
	root := retentionData(t)
	code, _, errOut := cli(t, "open", "rec-q1", "--as", "trainer", "--reason", "x", "--out", filepath.Join(t.TempDir(), "o"), "--data", root)
	if code != 1 || !strings.Contains(errOut, "allowed roles: quality, supervisor") || strings.Contains(errOut, "open: open") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestExportNeverOverwrites: an existing OUT or a directory is refused
// (exit 1) before anything is decoded, and left as it was.
func TestExportNeverOverwrites(t *testing.T) {
	speech := filepath.Join("..", "..", "testdata", "speech.opus")
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.wav")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	before, _ := os.Stat(existing)
	if code, _, errOut := cli(t, "export", speech, "--wav", existing); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("existing OUT: exit %d %s", code, errOut)
	}
	after, _ := os.Stat(existing)
	if b, _ := os.ReadFile(existing); string(b) != "keep me" || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("existing OUT touched: %q", b)
	}
	if code, _, errOut := cli(t, "export", speech, "--wav", dir); code != 1 || !strings.Contains(errOut, "is a directory") || strings.Contains(errOut, "rename") {
		t.Errorf("directory OUT: exit %d %s", code, errOut)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the directory OUT was changed: %v", ents)
	}
	// A new OUT is written: TestInspectExport.
}

// TestInputExitCodes: a missing input file and a directory given as one
// are both usage errors (exit 2), for every command reading a file.
func TestInputExitCodes(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"inspect", missing}, {"inspect", dir},
		{"export", missing, "--wav", filepath.Join(dir, "o.wav")}, {"export", dir, "--wav", filepath.Join(dir, "o.wav")},
		{"policy", "check", missing}, {"policy", "check", dir},
		{"notice", "inspect", missing}, {"notice", "inspect", dir},
		{"audit", "check", missing, "--key", "x"},
		{"keys", "recipient", missing}, {"keys", "recipient", dir},
		{"audit", "show", "--data", missing},
		{"subject", "find", "x", "--data", missing},
	} {
		if code, _, errOut := cli(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, errOut)
		}
	}
}

// TestAuditShowOrder: the text listing says entries are in log order, and
// a draw keeps its leading zeros.
func TestAuditShowOrder(t *testing.T) {
	data := auditTestData(t, 2)
	code, _, errOut := cli(t, "audit", "show", "--data", data)
	if code != 0 || !strings.Contains(errOut, "log order") {
		t.Errorf("show: exit %d, stderr %q", code, errOut)
	}
	en := audit.Entry{Leaf: audit.Leaf{Index: 7}, Event: audit.Event{Kind: audit.KindPolicyDecision, Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Attrs: []audit.Attr{{Key: "draw", Value: "55c3fe2c2b39089"}}}}
	if got := auditFormatEntry(en); !strings.Contains(got, "draw=055c3fe2c2b39089") || !strings.HasPrefix(got, "7 2026-03-01T10:00:00Z") {
		t.Errorf("entry: %s", got)
	}
}

func TestGroupWithoutSubcommand(t *testing.T) {
	code, out, errOut := cli(t, "audit")
	if code != 0 || errOut != "" || !strings.Contains(out, "verify") || !strings.Contains(out, "consentrec audit COMMAND") {
		t.Errorf("audit alone: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "audit", "verfy"); code != 2 || !strings.Contains(errOut, "Did you mean this?\n\tverify") {
		t.Errorf("audit verfy: exit %d %s", code, errOut)
	}
	if code, out, _ := cli(t, "completion", "bash"); code != 0 || !strings.Contains(out, "consentrec") {
		t.Errorf("completion bash: exit %d", code)
	}
	var b bytes.Buffer
	if code := run(&env{stdout: &b, stderr: &b}, []string{"subject", "find", "--help"}); code != 0 || strings.Contains(b.String(), "help requested") {
		t.Errorf("subject find --help: exit %d %s", code, b.String())
	}
}

// TestKeysDecryptNeverOverwrites: -o EXISTING is refused (exit 1) before
// the recording is opened or the access audited (it truncated the file).
func TestKeysDecryptNeverOverwrites(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id.key")
	if code, _, errOut := cli(t, "keys", "generate", "-o", key); code != 0 {
		t.Fatalf("generate: %s", errOut)
	}
	root, plain := encryptedData(t, key, false)
	existing := filepath.Join(t.TempDir(), "old.opus")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	code, _, errOut := cli(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", existing, "--reason", "review", "--data", root)
	if b, _ := os.ReadFile(existing); code != 1 || string(b) != "keep me" || !strings.Contains(errOut, "already exists") {
		t.Fatalf("decrypt over an existing file: exit %d, file %q, %s", code, b, errOut)
	}
	if n := auditKinds(t, root)[audit.KindAccess]; n != 0 {
		t.Errorf("a refused decrypt was audited as an access (%d)", n)
	}
	fresh := filepath.Join(t.TempDir(), "new.opus")
	if code, _, errOut := cli(t, "keys", "decrypt", "rec-1", "--identity", key, "-o", fresh, "--reason", "review", "--data", root); code != 0 {
		t.Fatalf("decrypt: exit %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(fresh); !bytes.Equal(b, plain) {
		t.Error("decrypted file differs")
	}
}

// TestOutputsNeverOverwritten: every command writing a file names the
// existing file it refuses (exit 1), and leaves it as it was.
func TestOutputsNeverOverwritten(t *testing.T) {
	data := auditTestData(t, 2)
	existing := filepath.Join(t.TempDir(), "existing")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	for _, args := range [][]string{
		{"audit", "prove", "--data", data, "-o", existing, "1"},
		{"keys", "generate", "-o", existing},
		{"export", filepath.Join("..", "..", "testdata", "speech.opus"), "--wav", existing},
	} {
		code, out, errOut := cli(t, args...)
		if code != 1 || !strings.Contains(errOut, existing+" already exists") || out != "" {
			t.Errorf("%q: exit %d %q %q", args, code, out, errOut)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing file now %q", b)
	}
}

// TestNewFilesRegister: a command registered the way every feature file
// does (a new group, a leaf with sub-commands' neighbours, a new leaf in an
// existing group) gets a group help, --help, suggestions, and its run with
// its own flags, unparsed by the dispatcher.
func TestNewFilesRegister(t *testing.T) {
	var got []string
	ack := func(e *env, args []string) error {
		fs := flag.NewFlagSet("sample ack", flag.ContinueOnError)
		by := fs.String("by", "", "who acknowledges, `NAME`")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("want one NOTICE")
		}
		got = append(got, pos[0]+" by "+*by)
		fmt.Fprintln(e.stdout, "acknowledged")
		return nil
	}
	added := []*command{
		{name: "sample ack", args: "NOTICE --by NAME", short: "acknowledge a notice", run: ack},
		{name: "probe report", args: "", short: "report a breach", run: func(*env, []string) error { return errors.New("probe report: nothing to report") }},
		{name: "keys gate", args: "", short: "a new leaf in an old group", run: func(*env, []string) error { return nil }},
	}
	for _, c := range added {
		register(c)
	}
	defer func() {
		for _, c := range added {
			delete(commands, c.name)
		}
	}()
	if code, out, errOut := cli(t, "sample", "ack", "n-1", "--by", "ann"); code != 0 || out != "acknowledged\n" || errOut != "" || !slices.Equal(got, []string{"n-1 by ann"}) {
		t.Errorf("sample ack: exit %d %q %q %q", code, out, errOut, got)
	}
	if code, out, _ := cli(t, "sample"); code != 0 || !strings.Contains(out, "sample commands: ack") || !strings.Contains(out, "acknowledge a notice") {
		t.Errorf("sample alone: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "sample", "ack", "--help"); code != 0 || !strings.Contains(out, "--by NAME\n      who acknowledges, NAME") {
		t.Errorf("sample ack --help: exit %d\n%s", code, out)
	}
	if code, _, errOut := cli(t, "sample", "ak"); code != 2 || !strings.Contains(errOut, "Did you mean this?\n\tack") {
		t.Errorf("sample ak: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "sample", "ack"); code != 2 || !strings.Contains(errOut, "usage: consentrec sample ack NOTICE --by NAME") {
		t.Errorf("sample ack without NOTICE: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli(t, "probe", "report"); code != 1 || errOut != "consentrec probe report: nothing to report\n" {
		t.Errorf("breach report: exit %d %q", code, errOut)
	}
	if code, out, _ := cli(t, "keys"); code != 0 || !strings.Contains(out, "a new leaf in an old group") || !strings.Contains(out, "decrypt") {
		t.Errorf("keys alone: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t); code != 0 || !strings.Contains(out, "\n  agent ") || !strings.Contains(out, "\n  breach ") {
		t.Errorf("root help lacks the new groups:\n%s", out)
	}
}
