package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cli runs the CLI in-process and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

const policies = "../../examples/policies/"

func TestPolicyCheck(t *testing.T) {
	code, out, errOut := cli(t, "policy", "check", policies+"quality-10pct.json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"lawful", "10% of calls", "retention: 30 days", "who may listen: quality, supervisor", "the caller is told", "how to object"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = cli(t, "policy", "check", policies+"systematic.json")
	if code != 1 {
		t.Fatalf("systematic policy: exit %d, want 1", code)
	}
	for _, want := range []string{"rules[0].rate", "R1", "systematic"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q: %s", want, errOut)
		}
	}
	if code, _, _ := cli(t, "policy", "check"); code != 2 {
		t.Errorf("no FILE: exit %d, want 2", code)
	}
	if code, _, _ := cli(t, "policy", "check", "/nonexistent.json"); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code, _, _ := cli(t, "policy", "check", "--bogus", "x"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

func TestEveryExamplePolicyChecks(t *testing.T) {
	files, _ := filepath.Glob(policies + "*.json")
	if len(files) < 2 {
		t.Fatal("example policies missing")
	}
	for _, f := range files {
		code, _, errOut := cli(t, "policy", "check", f)
		want := 0
		if filepath.Base(f) == "systematic.json" {
			want = 1
		}
		if code != want {
			t.Errorf("%s: exit %d, want %d: %s", f, code, want, errOut)
		}
	}
}

var lastLine = regexp.MustCompile(`recorded (\d+) of (\d+) calls \(([\d.]+)%\)\n$`)

func simulate(t *testing.T, args ...string) (recorded, calls int, out string) {
	t.Helper()
	code, out, errOut := cli(t, append([]string{"policy", "simulate"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m := lastLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("last line not 'recorded N of M calls (P%%)':\n%s", out)
	}
	recorded, _ = strconv.Atoi(m[1])
	calls, _ = strconv.Atoi(m[2])
	return recorded, calls, out
}

func TestPolicySimulate(t *testing.T) {
	// 20,000 calls: the CLI's plumbing; the sampling statistics are the
	// policy package's tests (100,000 calls took 36 s of this package's
	// 74 s under -race).
	r1, n, _ := simulate(t, policies+"quality-10pct.json", "--calls", "20000", "--key", "first-secret-key-123")
	if n != 20000 || r1 < 1900 || r1 > 2100 {
		t.Fatalf("recorded %d of %d, want 10%% ± 0.5%%", r1, n)
	}
	r2, _, _ := simulate(t, policies+"quality-10pct.json", "--calls", "20000", "--key", "first-secret-key-123")
	if r1 != r2 {
		t.Fatalf("same key, %d then %d", r1, r2)
	}
	_, _, outA := simulate(t, policies+"quality-10pct.json", "--calls", "200", "--key", "first-secret-key-123", "-v")
	_, _, outB := simulate(t, policies+"quality-10pct.json", "--calls", "200", "--key", "other-secret-key-456", "-v")
	if outA == outB {
		t.Fatalf("another key gave the same decisions:\n%s", outA)
	}
	r, _, out := simulate(t, policies+"grid-4-per-agent.json", "--calls", "20000", "--agents", "25")
	if r != 100 || !strings.Contains(out, "per agent: min 4, max 4") {
		t.Fatalf("grid: recorded %d, want 4 x 25:\n%s", r, out)
	}
	for _, bad := range [][]string{{policies + "quality-10pct.json"}, {policies + "quality-10pct.json", "--calls", "-1"}, {"--calls", "5"}, {policies + "quality-10pct.json", "--calls", "5", "--key", "short"}} {
		if code, _, _ := cli(t, append([]string{"policy", "simulate"}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if code, _, _ := cli(t, "policy", "simulate", policies+"systematic.json", "--calls", "5"); code != 1 {
		t.Errorf("refused policy: exit %d, want 1", code)
	}
}

func TestUsage(t *testing.T) {
	if code, out, errOut := cli(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) || out != "" {
		t.Errorf("unknown command: exit %d, %s", code, errOut)
	}
	if code, out, _ := cli(t); code != 0 || !strings.Contains(out, "policy") {
		t.Errorf("no command: exit %d, want 0 (usage)\n%s", code, out)
	}
}

func TestPolicyRegister(t *testing.T) {
	code, out, errOut := cli(t, "policy", "register", policies+"contract-proof.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"GDPR Art. 30", "purpose quality", "purpose contract-proof", "6(1)(b) contract", "5 years (P5Y)", "recipients:   contracts", "private and internal calls"} {
		if !strings.Contains(out, want) {
			t.Errorf("register lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli(t, "policy", "register", "--json", policies+"germany-optin.json")
	if code != 0 || !strings.Contains(out, `"lawful_basis": "6(1)(a) consent"`) || !strings.Contains(out, `"retention": "P30D"`) {
		t.Fatalf("json register (exit %d):\n%s", code, out)
	}
	if code, _, _ := cli(t, "policy", "register", policies+"systematic.json"); code != 1 {
		t.Errorf("a refused policy has no register entry: exit %d, want 1", code)
	}
}
