package policy_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
)

func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct{ name, js string }{
		{"sampling", quality10},
		{"sampling+cap", `{"rules":[{"purpose":"quality","mode":"sampling","rate":0.1,"cap":{"max":1000000000,"per":"month"}}]}`},
		{"grid", `{"rules":[{"purpose":"evaluation","mode":"grid","grid":{"per_agent":4,"per":"month"}}]}`},
		{"agent", `{"rules":[{"purpose":"contract-proof","mode":"agent"}]}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := engine(b, tc.js)
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = "call-" + strconv.Itoa(i)
			}
			c := policy.CallInfo{Agent: "agent-07", Time: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Profile: policy.ProfileFR}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				c.ID = ids[i&4095]
				if _, err := e.Decide(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
