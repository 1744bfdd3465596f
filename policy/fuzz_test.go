package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/consentrec/consentrec/policy"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		quality10, `{}`, `{"rules":[{"purpose":"quality","mode":"sampling","rate":1}]}`,
		`{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"}}]}`,
		`{"profile":"MiFID","rules":[{"purpose":"legal-obligation","mode":"statute","statute":"x","retention":"P7Y"}]}`,
		`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"cap":{"max":3,"per":"week"},"retention":"P1Y2M3D"}]}`,
		`{"rules":[{"purpose":"contract-proof","mode":"agent","access_roles":["contracts"]}],"protected_lines":["a"]}`,
		`[`, `{"rules":null}`, `{"rules":[{"retention":"P99999999Y"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policy.Parse(data)
		if err != nil {
			var ce *policy.ConfigError
			if !errors.As(err, &ce) || ce.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		// An accepted policy builds an engine, decides, and round-trips.
		e, err := policy.New(p, policy.Options{Key: key})
		if err != nil {
			t.Fatalf("accepted policy refused by New: %v", err)
		}
		if _, err := e.Decide(context.Background(), policy.CallInfo{ID: "f", Agent: "a", InScope: true}); err != nil {
			t.Fatalf("decide: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := policy.Parse(b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if p.Version() != q.Version() {
			t.Fatalf("version changed across a round trip: %s", b)
		}
	})
}

func FuzzPeriod(f *testing.F) {
	for _, s := range []string{"P30D", "P6M", "P1Y2M3D", "P2W", "P", "PT1H", "P0D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p policy.Period
		if err := p.UnmarshalText([]byte(s)); err != nil {
			return
		}
		var q policy.Period
		if err := q.UnmarshalText([]byte(p.String())); err != nil || q != p {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, p, p.String(), q, err)
		}
	})
}
