// Package pgcatalog is a retention.Catalog in PostgreSQL (through
// github.com/jackc/pgx/v5), for several recorder nodes sharing one catalog.
// The embedded default stays retention/sqlitecatalog; nothing here is needed
// to run on one machine.
//
// # Opening
//
// Open(ctx, dsn) takes a PostgreSQL URL or key=value DSN
// ("postgres://user@127.0.0.1:5432/consentrec?sslmode=disable"). Any
// run-time parameter in it reaches the server, so "search_path=tenant_a"
// keeps one catalog per schema. Errors never repeat the DSN (it may hold a
// password). ParseDSN checks one without connecting.
//
// # Schema and migrations
//
// The schema is versioned: every migration runs in its own transaction, under
// a transaction-level advisory lock, and is recorded in the schema_migrations
// table (version, applied_at). Open applies the missing ones, so two nodes
// opening an empty database at once are safe: the second waits for the
// first and then finds nothing to do. A database migrated by a newer
// program (a version this one does not know) is refused with ErrSchemaTooNew
// rather than used.
//
// Times are stored as Unix nanoseconds (bigint) because timestamptz keeps
// microseconds and the Catalog contract returns the instant stored to the
// nanosecond. Ids sort with the "C" collation, so that (deadline, id) order
// is byte order whatever the database's locale, and the cursor of Expired
// matches the index. Indexes: (deadline, id) for the expiry scan, a partial
// (subject, created, id) index over the rows with a subject for subject lookup, a partial
// index on pending deletions.
//
// # Several nodes, several sweepers
//
// Each Catalog value is one node. A deletion is claimed by the node that
// marks it (BeginDelete) with a session-level advisory lock held on a
// dedicated connection until Remove. While that node lives, another node's
// BeginDelete of the same recording returns an error wrapping ErrClaimed
// (which wraps retention.ErrNotFound, so retention.Sweeper and
// retention.Subjects skip it as "removed concurrently") and its Pending
// leaves it out: only one node deletes a recording and audits its deletion,
// even when sweepers on several nodes race. If the claiming node dies, its
// connection closes, PostgreSQL releases the lock, and the next Pending or
// BeginDelete of any node takes the deletion over and finishes it (the
// retention package's crash-safety then applies across nodes).
//
// Within one node (one Catalog value) the claim is the node's: run one
// Sweeper per Catalog. Two sweepers sharing one Catalog behave as with
// sqlitecatalog (the store's delete is idempotent, but the deletion may be
// audited twice). If the claim connection itself is lost, the claims go
// with it; a deletion in flight may then be finished by another node too
// (audited twice, deleted once: the store's fs.ErrNotExist counts as done).
//
// # Audit logs across nodes
//
// Each node keeps its own audit log (audit.FileLog in its data directory)
// until the audit log itself scales out: a deletion is audited in the log
// of the node whose sweeper claimed it, never in two. The union of the
// nodes' logs is the record; an auditor verifies each log on its own (each
// is a hash chain with its own checkpoints) and merges them by time. A
// recording's events may therefore sit in several logs (created on node A,
// erased by node B's sweeper).
package pgcatalog
