package audittest_test

import (
	"context"
	"fmt"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

// A MemLog records what a component under test appends.
func ExampleMemLog() {
	l := audittest.NewLog("test.example/audit", nil)
	var a audit.Appender = l
	a.Append(context.Background(), audit.Event{Kind: audit.KindObjection, CallID: "call-9"})
	fmt.Println(len(l.Appended), l.Appended[0].Kind, l.Appended[0].CallID)
	// Output: 1 objection call-9
}
