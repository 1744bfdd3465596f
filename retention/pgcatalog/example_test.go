package pgcatalog_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention/pgcatalog"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// ParseDSN checks a DSN without connecting, and never repeats it in its
// error (it may hold a password).
func ExampleParseDSN() {
	fmt.Println(pgcatalog.ParseDSN("postgres://recorder@127.0.0.1:5432/consentrec?sslmode=disable"))
	err := pgcatalog.ParseDSN("postgres://recorder:s3cret@[::1")
	fmt.Println(err, errors.Is(err, pgcatalog.ErrBadDSN))
	// Output:
	// <nil>
	// pgcatalog: invalid PostgreSQL DSN true
}

// Open applies the schema migrations and returns a retention.Catalog that
// several nodes may share.
func ExampleOpen() {
	dsn := os.Getenv("CONSENTREC_PG_DSN") // e.g. postgres://postgres@127.0.0.1:5432/postgres
	if dsn == "" {
		return
	}
	ctx := context.Background()
	c, err := pgcatalog.Open(ctx, dsn)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_ = c.Add(ctx, retentiontest.Rec("example-1", policy.Quality, 0, ""))
}
