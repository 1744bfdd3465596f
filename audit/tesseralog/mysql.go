package tesseralog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/transparency-dev/tessera/storage/mysql"
)

// OpenMySQL opens the Tessera log stored in the MySQL or MariaDB database
// of db, whose schema (Tessera's storage/mysql/schema.sql) the caller has
// loaded; the openings go to a table consentrec_openings of the same
// database. The caller keeps db and closes it after Close.
//
// Several processes (nodes, the CLI) may open the same database and append
// at the same time, with the same Origin and key: each batch is sequenced
// under a database lock (GET_LOCK on one connection of db, named after the
// origin), under which the committer reads the tree's size and last leaf,
// so that leaves still carry their index and previous hash. Batches of
// different processes therefore alternate rather than overlap. The
// checkpoint interval is at least one second (Tessera's MySQL minimum).
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
	drv, err := mysql.New(ctx, db)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	return l.start(ctx, drv, ns, max(opts.CheckpointInterval, time.Second))
}
