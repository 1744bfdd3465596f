package policytest_test

import (
	"context"
	"fmt"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
)

// A host tests its recording path with a decider that always records.
func ExampleRecord() {
	var d policy.Decider = policytest.Record(policy.Quality)
	dec, _ := d.Decide(context.Background(), policy.CallInfo{ID: "call-1"})
	fmt.Println(dec.Record, dec.Purpose, dec.Requires)
	// Output: true quality notice
}

// A counter that always fails: the engine then records nothing.
func ExampleFailingCounter() {
	p, _ := policy.Parse([]byte(`{"rules":[{"purpose":"quality","mode":"sampling","rate":0.5,"cap":{"max":10,"per":"day"}}]}`))
	e, _ := policy.New(p, policy.Options{Key: []byte("0123456789abcdef"), Counter: &policytest.FailingCounter{}})
	recorded := 0
	for i := range 100 {
		if d, err := e.Decide(context.Background(), policy.CallInfo{ID: fmt.Sprint(i)}); err == nil && d.Record {
			recorded++
		}
	}
	fmt.Println(recorded)
	// Output: 0
}
