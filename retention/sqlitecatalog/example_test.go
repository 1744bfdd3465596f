package sqlitecatalog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

func Example() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	dir := consentrec.DataDir{Root: root}

	cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
	if err != nil {
		panic(err)
	}
	defer cat.Close()
	caller := policy.SubjectKey([]byte("secret"), "+33 1 23 45 67 89")
	created := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	for i, p := range []policy.Purpose{policy.Quality, policy.ContractProof} {
		r, _ := retention.New(retention.Entry{ID: fmt.Sprintf("rec-%d", i), Purpose: p, Created: created, Subject: caller})
		if err := cat.Add(ctx, r); err != nil {
			panic(err)
		}
	}
	due, _ := cat.Expired(ctx, created.AddDate(1, 0, 0), retention.Cursor{}, 100)
	for _, r := range due {
		fmt.Println("expired within a year:", r.ID, r.Deadline.Format("2006-01-02"))
	}
	mine, _ := cat.Subject(ctx, caller)
	fmt.Println("recordings of the caller:", len(mine))
	fmt.Println(filepath.Base(dir.Catalog()))
	// Output:
	// expired within a year: rec-0 2026-03-02
	// recordings of the caller: 2
	// catalog.db
}
