package pgcatalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// testDSN returns the DSN of the PostgreSQL server to test against
// (CONSENTREC_PG_DSN). Without one the test is skipped, or fails when
// CONSENTREC_CI=1: a CI job whose server did not start must not pass.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CONSENTREC_PG_DSN")
	if dsn == "" {
		if os.Getenv("CONSENTREC_CI") == "1" {
			t.Fatal("CONSENTREC_CI=1 but CONSENTREC_PG_DSN is empty: PostgreSQL did not start")
		}
		t.Skip("CONSENTREC_PG_DSN is not set: skipping the PostgreSQL tests (see README, Scaling out)")
	}
	return dsn
}

// withSearchPath returns dsn with the search_path run-time parameter set.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a DSN whose search_path is that schema.
func freshSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to CONSENTREC_PG_DSN: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	return withSearchPath(dsn, schema)
}

func openT(t testing.TB, dsn string) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
