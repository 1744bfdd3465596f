package tesseralog_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	_ "github.com/go-sql-driver/mysql"
)

// mysqlDSN returns the DSN of a MySQL/MariaDB server for tests (a user
// that may create databases, no database name), from
// CONSENTREC_TEST_MYSQL_DSN. Without it the test is skipped, unless CI is
// set: then a server that did not start fails the job.
func mysqlDSN(t testing.TB) string {
	dsn := os.Getenv("CONSENTREC_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but CONSENTREC_TEST_MYSQL_DSN is not: the MariaDB step did not run")
		}
		t.Skip("CONSENTREC_TEST_MYSQL_DSN not set")
	}
	return dsn
}

var dbSeq atomic.Int64

// freshDB creates an empty database with Tessera's schema and drops it
// after the test.
func freshDB(t testing.TB) *sql.DB {
	dsn := mysqlDSN(t)
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("tesseralog_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
	db, err := sql.Open("mysql", strings.Replace(dsn, ")/", ")/"+name, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := tesseralog.LoadMySQLSchema(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMySQLConformance(t *testing.T) {
	mysqlDSN(t)
	audittest.TestLog(t, func(t *testing.T) audit.Log {
		l, err := tesseralog.OpenMySQL(context.Background(), freshDB(t), testOptions(t))
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

// TestMySQLWitnesses: witnesses over the MySQL driver; the cosigned
// checkpoint is kept in the database and TilesFS serves it to the
// auditor's VerifyTilesWith.
func TestMySQLWitnesses(t *testing.T) {
	db := freshDB(t)
	testWitnesses(t, func(t *testing.T, o tesseralog.Options) *tesseralog.Log {
		l, err := tesseralog.OpenMySQL(context.Background(), db, o)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}, func(l *tesseralog.Log) fs.FS { return l.TilesFS(context.Background()) })
}
