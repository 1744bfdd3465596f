package retentiondemo_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/examples/internal/retentiondemo"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func ExampleRun() {
	root, _ := os.MkdirTemp("", "demo")
	defer os.RemoveAll(root)
	store := &retentiontest.Store{} // the quickstart passes its recorder.FileStore
	created := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	var entries []retention.Entry
	for i, p := range []policy.Purpose{policy.Quality, policy.Quality, policy.ContractProof} {
		id := fmt.Sprintf("rec-%d", i+1)
		entries = append(entries, retention.Entry{ID: id, Purpose: p, Created: created.Add(time.Duration(i) * time.Minute),
			SHA256: store.Put(id, []byte("audio"))})
	}
	res, err := retentiondemo.Run(context.Background(), retentiondemo.Config{
		Data: consentrec.DataDir{Root: root}, Store: store, Audit: audit.Discard,
		Recordings: entries, Hold: "rec-2",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("swept as of", res.At.Format(time.RFC3339))
	for _, d := range res.Sweep.Deleted {
		fmt.Println("deleted", d.ID)
	}
	fmt.Println("left:", store.IDs())
	// Output:
	// swept as of 2026-03-02T10:01:01Z
	// deleted rec-1
	// left: [rec-2 rec-3]
}
