package tesseralog

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestInTxRetriesDeadlocks: two MySQL writers' openings transactions can
// deadlock in InnoDB (seen in BenchmarkAppend64/tessera-mysql-2writers:
// "append: openings: Error 1213 (40001): Deadlock found"); the server
// rolls the victim back, and inTx runs it again instead of failing the
// appends. Other errors, and a deadlock that persists, are returned.
func TestInTxRetriesDeadlocks(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (x INT)`); err != nil {
		t.Fatal(err)
	}
	l := &Log{db: db}
	ctx := context.Background()
	calls := 0
	err = l.inTx(ctx, func(tx *sql.Tx) error {
		calls++
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, calls); err != nil {
			return err
		}
		if calls < 3 {
			return &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}
		}
		return nil
	})
	var rows int
	db.QueryRow(`SELECT count(*) FROM t`).Scan(&rows)
	if err != nil || calls != 3 || rows != 1 {
		t.Fatalf("inTx after two deadlocks = %v, %d calls, %d rows; want nil, 3 calls, 1 row (the victims rolled back)", err, calls, rows)
	}
	calls = 0
	other := errors.New("disk full")
	if err := l.inTx(ctx, func(*sql.Tx) error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("inTx with another error = %v after %d calls", err, calls)
	}
	calls = 0
	err = l.inTx(ctx, func(*sql.Tx) error { calls++; return &mysql.MySQLError{Number: 1213} })
	var me *mysql.MySQLError
	if !errors.As(err, &me) || calls != 6 {
		t.Fatalf("inTx with a lasting deadlock = %v after %d calls, want the error after 6", err, calls)
	}
}
