package tesseralog

import (
	"context"
	"database/sql"
	_ "embed" // Tessera's MySQL schema
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/tessera/storage/mysql"
)

// OpenMySQL opens the Tessera log stored in the MySQL or MariaDB database
// of db, whose schema (Tessera's storage/mysql/schema.sql) the caller has
// loaded; the openings go to a table consentrec_openings of the same
// database. The caller keeps db and closes it after Close.
//
// Several processes (nodes, the CLI) may open the same database and append
// at the same time, with the same Origin and key. Open runs under a
// database lock (GET_LOCK on one connection of db, named after the
// origin): Tessera's first open of an empty database writes its initial
// tree state, and two at once deadlock. Appends of v2 leaves (the default)
// take no lock of ours: Tessera sequences the batches of every process,
// which interleave. A v1 log (chained leaves) sequences each batch under
// that lock, after reading the tree's size and last leaf, so that leaves
// carry their index and previous hash: batches of different processes
// alternate rather than overlap. The checkpoint interval is at least one
// second (Tessera's MySQL minimum).
func OpenMySQL(ctx context.Context, db *sql.DB, opts Options) (*Log, error) {
	l, ns, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	name := "consentrec-tesseralog:" + opts.Origin
	l.unlock = conn.Close
	l.batchLock = func(ctx context.Context) (func(), error) {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 60)`, name).Scan(&got); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if got.Int64 != 1 {
			return nil, fmt.Errorf("lock %s: timed out: %w", name, ErrRetry)
		}
		return func() {
			var r sql.NullInt64
			conn.QueryRowContext(context.Background(), `SELECT RELEASE_LOCK(?)`, name).Scan(&r)
		}, nil
	}
	l.db = db
	l.cosigned = mysqlCosigned(db)
	if _, err := db.ExecContext(ctx, createCosigned); err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	drv, err := mysql.New(ctx, db)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	return l.start(ctx, drv, ns, max(opts.CheckpointInterval, time.Second))
}

// mysqlSchema is Tessera's storage/mysql/schema.sql (v1.0.4, Apache-2.0):
// every statement is idempotent.
//
//go:embed mysql-schema.sql
var mysqlSchema string

// LoadMySQLSchema creates Tessera's tables in db (its storage/mysql/
// schema.sql, embedded), unless its version table is already there: a
// user without CREATE may open a database prepared by someone who has it.
// OpenMySQL needs them.
func LoadMySQLSchema(ctx context.Context, db *sql.DB) error {
	var v int64
	if err := db.QueryRowContext(ctx, "SELECT compatibilityVersion FROM Tessera WHERE id = 0").Scan(&v); err == nil {
		return nil
	}
	var stmt strings.Builder
	for line := range strings.Lines(mysqlSchema) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		stmt.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if _, err := db.ExecContext(ctx, stmt.String()); err != nil {
				return fmt.Errorf("tesseralog: creating Tessera's tables: %w", err)
			}
			stmt.Reset()
		}
	}
	return nil
}
