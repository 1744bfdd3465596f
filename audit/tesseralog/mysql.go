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
// Like OpenPOSIX it holds a single-writer lock (GET_LOCK on one
// connection of db, named after the origin): the leaves still carry their
// index and previous hash, so a second process opening the same database
// gets ErrLocked. The checkpoint interval is at least one second (Tessera's
// MySQL minimum).
func OpenMySQL(ctx context.Context, db *sql.DB, opts Options) (*Log, error) {
	l, ns, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 0)`, "consentrec-tesseralog:"+opts.Origin).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tesseralog: open: lock: %w", err)
	}
	if got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("tesseralog: open %s: %w", opts.Origin, ErrLocked)
	}
	l.unlock = conn.Close // the lock ends with its connection
	l.db = db
	drv, err := mysql.New(ctx, db)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	return l.start(ctx, drv, ns, max(opts.CheckpointInterval, time.Second))
}
