// Package sqlitecatalog is the embedded default retention.Catalog: one
// SQLite file (consentrec.DataDir.Catalog()) through modernc.org/sqlite, a
// pure-Go driver, so nothing needs installing. Indexes on the deadline and on
// the subject answer "expired before T" and "recordings of S" in
// microseconds among millions of rows.
//
// The database runs in WAL mode with synchronous=FULL: a change is on disk
// when the method returns. Several processes may open the same file (the
// CLI while a host sweeps); writes are serialised by SQLite's lock, waited
// for up to BusyTimeout.
package sqlitecatalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/consentrec/consentrec/retention/internal/catalogrow"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// BusyTimeout is how long a write waits for another connection's lock.
const BusyTimeout = 10 * time.Second

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 2

// migrations[v] takes a version v schema to version v+1. Version 2 adds the
// statute's minimum (R11) and the policy's access roles (R25); rows
// catalogued before have neither.
var migrations = []string{
	0: schema,
	1: `ALTER TABLE recordings ADD COLUMN keep_until INTEGER; -- Unix nanoseconds, NULL if none
ALTER TABLE recordings ADD COLUMN access_roles TEXT NOT NULL DEFAULT ''; -- comma-separated, '' for the purpose's`,
}

const schema = `
CREATE TABLE IF NOT EXISTS recordings (
	id           TEXT PRIMARY KEY,
	call_id      TEXT NOT NULL,
	purpose      TEXT NOT NULL,
	lawful_basis TEXT NOT NULL,
	created      INTEGER NOT NULL, -- Unix nanoseconds, UTC
	deadline     INTEGER NOT NULL, -- Unix nanoseconds, UTC
	subject      TEXT NOT NULL,    -- policy.SubjectKey, '' if unknown
	sha256       TEXT NOT NULL,
	gaps         TEXT NOT NULL,    -- JSON [[start_ns, end_ns, reason], ...]
	deletion     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recordings_deadline ON recordings (deadline, id);
CREATE INDEX IF NOT EXISTS recordings_subject ON recordings (subject, created, id) WHERE subject <> '';
CREATE INDEX IF NOT EXISTS recordings_pending ON recordings (id) WHERE deletion <> '';
CREATE TABLE IF NOT EXISTS holds (
	recording_id TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL, -- order the holds were set in
	case_ref     TEXT NOT NULL,
	approver     TEXT NOT NULL,
	since        INTEGER NOT NULL,
	PRIMARY KEY (recording_id, case_ref)
) WITHOUT ROWID;
`

// Catalog is a retention.Catalog in a SQLite file. Safe for concurrent use.
type Catalog struct {
	db *sql.DB
}

var _ retention.Catalog = (*Catalog)(nil)

// Open opens the catalog database at path, creating it (mode 0600, and its
// folder, mode 0700) if needed. Close it when done.
func Open(ctx context.Context, path string) (*Catalog, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlitecatalog open %q: %w", path, &retention.InvalidError{Field: "path", Msg: "empty or holding '?' or '#'"})
	}
	// The catalog links subjects to recordings: owner-only, like the rest
	// of a data directory (SQLite gives its -wal and -shm files the same mode).
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitecatalog open: %w", err)
	}
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlitecatalog open: %w", err)
	} else {
		f.Close()
	}
	dsn := path + fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate",
		BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitecatalog open: %w", err)
	}
	c := &Catalog{db: db}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitecatalog open %s: %w", path, err)
	}
	return c, nil
}

func (c *Catalog) migrate(ctx context.Context) error {
	var v int
	if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("catalog schema version %d is newer than this program's %d", v, schemaVersion)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for ; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (c *Catalog) Close() error { return c.db.Close() }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlitecatalog %s: %w", op, err)
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// keepUntil is the keep_until column of t: NULL for none.
func keepUntil(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

// Add implements retention.Catalog.
func (c *Catalog) Add(ctx context.Context, r retention.Recording) error {
	if err := r.Validate(); err != nil {
		return wrap("add", err)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("add", err)
	}
	defer tx.Rollback()
	if err := insert(ctx, tx, r); err != nil {
		return err
	}
	return wrap("add", tx.Commit())
}

// AddBatch catalogues many recordings in one transaction: all or none.
// It is much faster than Add for imports (one fsync in all).
func (c *Catalog) AddBatch(ctx context.Context, rs []retention.Recording) error {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return wrap("add batch", err)
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("add batch", err)
	}
	defer tx.Rollback()
	for _, r := range rs {
		if err := insert(ctx, tx, r); err != nil {
			return err
		}
	}
	return wrap("add batch", tx.Commit())
}

func insert(ctx context.Context, tx *sql.Tx, r retention.Recording) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO recordings
		(id, call_id, purpose, lawful_basis, created, deadline, subject, sha256, gaps, keep_until, access_roles)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.CallID, string(r.Purpose), r.LawfulBasis, nanos(r.Created), nanos(r.Deadline),
		r.Subject, r.SHA256, catalogrow.EncodeGaps(r.Gaps), keepUntil(r.KeepUntil), catalogrow.EncodeRoles(r.AccessRoles))
	if err != nil {
		return wrap("add", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlitecatalog add %s: %w", r.ID, retention.ErrExists)
	}
	for i, h := range r.Holds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO holds (recording_id, seq, case_ref, approver, since)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, r.ID, i, h.Case, h.Approver, nanos(h.Since)); err != nil {
			return wrap("add", err)
		}
	}
	return nil
}

const columns = `id, call_id, purpose, lawful_basis, created, deadline, subject, sha256, gaps, deletion,
	keep_until, access_roles, EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.id)`

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// query runs a SELECT of columns and loads the holds of held rows.
func query(ctx context.Context, q querier, op, where string, args ...any) ([]retention.Recording, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+columns+" FROM recordings r "+where, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	var out []retention.Recording
	var held []int
	for rows.Next() {
		var r retention.Recording
		var purpose, gaps, deletion, roles string
		var created, deadline int64
		var keep sql.NullInt64
		var hasHold bool
		if err := rows.Scan(&r.ID, &r.CallID, &purpose, &r.LawfulBasis, &created, &deadline,
			&r.Subject, &r.SHA256, &gaps, &deletion, &keep, &roles, &hasHold); err != nil {
			rows.Close()
			return nil, wrap(op, err)
		}
		r.Purpose = policy.Purpose(purpose)
		r.Created, r.Deadline = fromNanos(created), fromNanos(deadline)
		r.Deletion = retention.Deletion(deletion)
		if keep.Valid {
			r.KeepUntil = fromNanos(keep.Int64)
		}
		r.AccessRoles = catalogrow.DecodeRoles(roles)
		if r.Gaps, err = catalogrow.DecodeGaps(gaps); err != nil {
			rows.Close()
			return nil, wrap(op, fmt.Errorf("recording %s: %w", r.ID, err))
		}
		if hasHold {
			held = append(held, len(out))
		}
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, wrap(op, err)
	}
	for _, i := range held {
		hs, err := holdsOf(ctx, q, out[i].ID)
		if err != nil {
			return nil, wrap(op, err)
		}
		out[i].Holds = hs
	}
	return out, nil
}

func holdsOf(ctx context.Context, q querier, id string) ([]retention.Hold, error) {
	rows, err := q.QueryContext(ctx, `SELECT case_ref, approver, since FROM holds WHERE recording_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hs []retention.Hold
	for rows.Next() {
		var h retention.Hold
		var since int64
		if err := rows.Scan(&h.Case, &h.Approver, &since); err != nil {
			return nil, err
		}
		h.Since = fromNanos(since)
		hs = append(hs, h)
	}
	return hs, rows.Err()
}

func get(ctx context.Context, q querier, op, id string) (retention.Recording, error) {
	rs, err := query(ctx, q, op, "WHERE id = ?", id)
	if err != nil {
		return retention.Recording{}, err
	}
	if len(rs) == 0 {
		return retention.Recording{}, fmt.Errorf("sqlitecatalog %s %s: %w", op, id, retention.ErrNotFound)
	}
	return rs[0], nil
}

// Get implements retention.Catalog.
func (c *Catalog) Get(ctx context.Context, id string) (retention.Recording, error) {
	return get(ctx, c.db, "get", id)
}

func limitOf(n int) int {
	if n <= 0 {
		return -1 // SQLite: no limit
	}
	return n
}

// Expired implements retention.Catalog.
func (c *Catalog) Expired(ctx context.Context, t time.Time, after retention.Cursor, limit int) ([]retention.Recording, error) {
	ad, aid := int64(math.MinInt64), ""
	if !(after.Deadline.IsZero() && after.ID == "") {
		ad, aid = nanos(after.Deadline), after.ID
	}
	return query(ctx, c.db, "expired",
		"WHERE deadline <= ? AND (deadline, id) > (?, ?) ORDER BY deadline, id LIMIT ?",
		nanos(t), ad, aid, limitOf(limit))
}

// Subject implements retention.Catalog.
func (c *Catalog) Subject(ctx context.Context, subject string) ([]retention.Recording, error) {
	if subject == "" {
		return nil, wrap("subject", &retention.InvalidError{Field: "subject", Msg: "empty"})
	}
	// "subject <> ''" lets SQLite use the partial index.
	return query(ctx, c.db, "subject", "WHERE subject = ? AND subject <> '' ORDER BY created, id", subject)
}

// Pending implements retention.Catalog.
func (c *Catalog) Pending(ctx context.Context, limit int) ([]retention.Recording, error) {
	return query(ctx, c.db, "pending", "WHERE deletion <> '' ORDER BY id LIMIT ?", limitOf(limit))
}

// inTx runs f in an immediate (write-locked) transaction.
func (c *Catalog) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return wrap(op, tx.Commit())
}

// SetHold implements retention.Catalog.
func (c *Catalog) SetHold(ctx context.Context, id string, h retention.Hold) (retention.Recording, error) {
	if strings.TrimSpace(h.Case) == "" || strings.TrimSpace(h.Approver) == "" {
		return retention.Recording{}, wrap("set hold", &retention.InvalidError{Field: "hold", Msg: "a legal hold needs a case reference and a named approver"})
	}
	var r retention.Recording
	err := c.inTx(ctx, "set hold", func(tx *sql.Tx) error {
		var err error
		if r, err = get(ctx, tx, "set hold", id); err != nil {
			return err
		}
		if r.Deletion != retention.DeletionNone {
			return fmt.Errorf("sqlitecatalog set hold %s: %w", id, retention.ErrPendingDeletion)
		}
		if _, ok := r.HoldFor(h.Case); ok {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO holds (recording_id, seq, case_ref, approver, since)
			VALUES (?, (SELECT coalesce(max(seq), -1) + 1 FROM holds WHERE recording_id = ?), ?, ?, ?)`,
			id, id, h.Case, h.Approver, nanos(h.Since)); err != nil {
			return wrap("set hold", err)
		}
		h.Since = fromNanos(nanos(h.Since))
		r.Holds = append(r.Holds, h)
		return nil
	})
	if err != nil {
		return retention.Recording{}, err
	}
	return r, nil
}

// ReleaseHold implements retention.Catalog.
func (c *Catalog) ReleaseHold(ctx context.Context, id, ref string) (retention.Recording, error) {
	var r retention.Recording
	err := c.inTx(ctx, "release hold", func(tx *sql.Tx) error {
		var err error
		if r, err = get(ctx, tx, "release hold", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE recording_id = ? AND case_ref = ?`, id, ref)
		if err != nil {
			return wrap("release hold", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sqlitecatalog release hold %s case %q: %w", id, ref, retention.ErrNoSuchHold)
		}
		r.Holds, err = holdsOf(ctx, tx, id)
		return wrap("release hold", err)
	})
	if err != nil {
		return retention.Recording{}, err
	}
	return r, nil
}

// BeginDelete implements retention.Catalog.
func (c *Catalog) BeginDelete(ctx context.Context, id string, cause retention.Deletion) (retention.Recording, error) {
	if cause == retention.DeletionNone {
		return retention.Recording{}, wrap("begin delete", &retention.InvalidError{Field: "cause", Msg: "empty"})
	}
	var r retention.Recording
	err := c.inTx(ctx, "begin delete", func(tx *sql.Tx) error {
		var err error
		if r, err = get(ctx, tx, "begin delete", id); err != nil {
			return err
		}
		if r.Deletion != retention.DeletionNone {
			return nil
		}
		if r.Held() {
			return fmt.Errorf("sqlitecatalog begin delete %s: %w", id, retention.ErrHeld)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE recordings SET deletion = ? WHERE id = ?`, string(cause), id); err != nil {
			return wrap("begin delete", err)
		}
		r.Deletion = cause
		return nil
	})
	if err != nil {
		return retention.Recording{}, err
	}
	return r, nil
}

// Remove implements retention.Catalog.
func (c *Catalog) Remove(ctx context.Context, id string) error {
	return c.inTx(ctx, "remove", func(tx *sql.Tx) error {
		var deletion string
		err := tx.QueryRowContext(ctx, `SELECT deletion FROM recordings WHERE id = ?`, id).Scan(&deletion)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlitecatalog remove %s: %w", id, retention.ErrNotFound)
		case err != nil:
			return wrap("remove", err)
		case deletion == "":
			return wrap("remove", &retention.InvalidError{Field: "deletion", Msg: "no deletion began for " + id})
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id)
		return wrap("remove", err)
	})
}

// Count implements retention.Catalog.
func (c *Catalog) Count(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM recordings`).Scan(&n)
	return n, wrap("count", err)
}
