package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePolicy(t *testing.T, js string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 11 (R1): policy check refuses quasi-systematic sampling and
// statutes outside the closed list, naming the field and the rule.
func TestPolicyCheckR1(t *testing.T) {
	for _, tc := range []struct {
		name, js string
		want     []string
	}{
		{"rate 0.51", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.51,"cap":{"max":10,"per":"day"}}]}`, []string{"rules[0].rate", "R1", "quasi-systematic"}},
		{"rate 0.51 no cap", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.51}]}`, []string{"rules[0].rate", "R1"}},
		{"rate 0.3 no cap", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.3}]}`, []string{"rules[0].cap", "R1"}},
		{"statute x", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"x"}]}`, []string{"rules[0].statute", "R1", "MiFID II Art. 16(7)"}},
		{"grid 100000", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":100000,"per":"day"}}]}`, []string{"rules[0].grid.per_agent", "R1", "at most 4"}},
		{"mifid P1D", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P1D"}]}`, []string{"rules[0].retention", "R11"}},
		{"mifid P7Y", `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y"}]}`, []string{"rules[0].retention", "R11", "authority_request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, "policy", "check", writePolicy(t, tc.js))
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("refusal lacks %q: %s", w, errOut)
				}
			}
		})
	}
	code, out, errOut := cli(t, "policy", "check", writePolicy(t, `{"rules":[{"purpose":"legal-obligation","mode":"statute","statute":"MiFID II Art. 16(7)","retention":"P7Y","authority_request":"AMF letter 2026-117"}]}`))
	if code != 0 || !strings.Contains(out, "AMF letter 2026-117") {
		t.Fatalf("7 years on the authority's request: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = cli(t, "policy", "check", policies+"fr-insurance.json")
	if code != 0 || !strings.Contains(out, "from the contract's signature") {
		t.Fatalf("insurance: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli(t, "policy", "check", policies+"contract-proof.json")
	if code != 0 || !strings.Contains(out, "at most 20 per agent per day") {
		t.Fatalf("contract proof: exit %d\n%s", code, out)
	}
}

func TestPolicyStatutes(t *testing.T) {
	code, out, _ := cli(t, "policy", "statutes")
	for _, want := range []string{`"MiFID II Art. 16(7)"`, "at least P5Y, at most P5Y, P7Y with \"authority_request\"", `"Code des assurances L.112-2-2"`, "from the contract's signature"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

func TestPolicyRegisterInsurance(t *testing.T) {
	code, out, _ := cli(t, "policy", "register", policies+"fr-insurance.json")
	for _, want := range []string{"statute:      Code des assurances L.112-2-2", "runs from the contract's signature", "2 years (P2Y)", "6(1)(c)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, register lacks %q:\n%s", code, want, out)
		}
	}
}
