package pgcatalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the advisory-lock key every migration transaction takes
// (transaction-level), so that nodes opening at once apply each migration
// once.
const migrationLock int64 = 0x636f6e73656e7401 // "consent" + 1

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit one that shipped: append a new one.
var migrations = []string{
	// 1: recordings, holds, their indexes.
	`CREATE TABLE recordings (
		id           text COLLATE "C" PRIMARY KEY,
		call_id      text NOT NULL,
		purpose      text NOT NULL,
		lawful_basis text NOT NULL,
		created      bigint NOT NULL, -- Unix nanoseconds, UTC
		deadline     bigint NOT NULL, -- Unix nanoseconds, UTC
		subject      text COLLATE "C" NOT NULL, -- policy.SubjectKey, '' if unknown
		sha256       text NOT NULL,
		gaps         text NOT NULL,   -- JSON [{"s":ns,"e":ns,"r":reason}, ...]
		deletion     text NOT NULL DEFAULT '',
		claimed_by   text NOT NULL DEFAULT '' -- node that began the deletion
	);
	CREATE INDEX recordings_deadline ON recordings (deadline, id);
	CREATE INDEX recordings_subject ON recordings (subject, created, id) WHERE subject <> '';
	CREATE INDEX recordings_pending ON recordings (id) WHERE deletion <> '';
	CREATE TABLE holds (
		recording_id text COLLATE "C" NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
		seq          integer NOT NULL,
		case_ref     text NOT NULL,
		approver     text NOT NULL,
		since        bigint NOT NULL,
		PRIMARY KEY (recording_id, case_ref)
	);`,
	// 2: a statute's minimum (R11) and the rule's access roles (R25).
	`ALTER TABLE recordings ADD COLUMN keep_until bigint; -- Unix nanoseconds, NULL if none
	ALTER TABLE recordings ADD COLUMN access_roles text NOT NULL DEFAULT ''; -- comma-separated, '' for the purpose's`,
}

// SchemaVersion is the schema version this program migrates to.
var SchemaVersion = len(migrations)

// migrate applies the missing migrations, each in its own transaction under
// the migration lock.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		done, err := migrateOne(ctx, pool)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next missing migration, if any; done reports
// that none was missing.
func migrateOne(ctx context.Context, pool *pgxpool.Pool) (done bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	switch {
	case v > len(migrations):
		return false, fmt.Errorf("migrate: database at version %d, this program knows %d: %w", v, len(migrations), ErrSchemaTooNew)
	case v == len(migrations):
		return true, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v+1); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	return false, nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
