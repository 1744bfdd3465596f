package pgcatalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/retention/internal/catalogrow"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

// Sentinel errors.
var (
	// ErrClaimed: another live node began deleting this recording and will
	// finish it. It wraps retention.ErrNotFound: for this node the
	// recording is as good as gone.
	ErrClaimed = fmt.Errorf("deletion claimed by another node: %w", retention.ErrNotFound)
	// ErrSchemaTooNew: the database was migrated by a newer program.
	ErrSchemaTooNew = errors.New("catalog schema newer than this program")
	// ErrBadDSN: the DSN cannot be parsed.
	ErrBadDSN = errors.New("invalid PostgreSQL DSN")
)

// Catalog is a retention.Catalog in PostgreSQL, one node's view of it. Safe
// for concurrent use. Close it when done: that releases the node's claims.
type Catalog struct {
	pool   *pgxpool.Pool
	cfg    *pgx.ConnConfig // of the claim connection
	node   string
	schema string

	claimMu sync.Mutex // guards claim and held
	claim   *pgx.Conn  // session holding the advisory locks of this node's claims
	held    map[int64]bool
}

var _ retention.Catalog = (*Catalog)(nil)

// ParseDSN checks a PostgreSQL DSN (URL or key=value) without connecting.
// The error never repeats the DSN.
func ParseDSN(dsn string) error {
	_, err := parse(dsn)
	return err
}

func parse(dsn string) (*pgxpool.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("pgcatalog: empty DSN: %w", ErrBadDSN)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN; keep only our sentinel.
		return nil, fmt.Errorf("pgcatalog: %w", ErrBadDSN)
	}
	return cfg, nil
}

// Open connects to the database dsn names, applies the missing schema
// migrations (see the package doc) and returns the catalog. Close it when
// done.
func Open(ctx context.Context, dsn string) (*Catalog, error) {
	cfg, err := parse(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgcatalog open: %w", err)
	}
	c := &Catalog{pool: pool, cfg: cfg.ConnConfig.Copy(), held: map[int64]bool{}}
	var b [8]byte
	rand.Read(b[:])
	c.node = hex.EncodeToString(b[:])
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgcatalog open: %w", err)
	}
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&c.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgcatalog open: %w", err)
	}
	return c, nil
}

// Node returns this catalog's node id (random per Open), recorded in the
// rows whose deletion it claims.
func (c *Catalog) Node() string { return c.node }

// Close releases the node's claims and closes its connections.
func (c *Catalog) Close() error {
	c.claimMu.Lock()
	if c.claim != nil {
		c.claim.Close(context.Background())
		c.claim = nil
	}
	clear(c.held)
	c.claimMu.Unlock()
	c.pool.Close()
	return nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgcatalog %s: %w", op, err)
}

// lockKey is the advisory-lock key of a recording's claim: a 64-bit hash of
// the schema and the id (a collision only delays a deletion to the next
// sweep).
func (c *Catalog) lockKey(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte("consentrec-claim\x00"))
	h.Write([]byte(c.schema))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int64(h.Sum64())
}

// claimConn returns the claim session, connecting it if needed. Called with
// claimMu held. A new session holds none of the old one's locks.
func (c *Catalog) claimConn(ctx context.Context) (*pgx.Conn, error) {
	if c.claim != nil && !c.claim.IsClosed() {
		return c.claim, nil
	}
	clear(c.held)
	conn, err := pgx.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	c.claim = conn
	return conn, nil
}

// dropClaimConn closes the claim session after an error on it (its state
// is unknown): its locks are released by the server.
func (c *Catalog) dropClaimConn() {
	if c.claim != nil {
		c.claim.Close(context.Background())
		c.claim = nil
	}
	clear(c.held)
}

// tryClaim takes the advisory lock of id unless this node holds it already.
// Called with claimMu held. newly says whether this call took it.
func (c *Catalog) tryClaim(ctx context.Context, id string) (got, newly bool, err error) {
	k := c.lockKey(id)
	if c.held[k] {
		return true, false, nil
	}
	conn, err := c.claimConn(ctx)
	if err != nil {
		return false, false, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", k).Scan(&got); err != nil {
		c.dropClaimConn()
		return false, false, err
	}
	if got {
		c.held[k] = true
	}
	return got, got, nil
}

// unclaim releases the lock of id if this node holds it. Called with
// claimMu held.
func (c *Catalog) unclaim(id string) {
	k := c.lockKey(id)
	if !c.held[k] || c.claim == nil {
		return
	}
	delete(c.held, k)
	// A fresh context: a cancelled caller must not leave the lock behind.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ok bool
	if err := c.claim.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", k).Scan(&ok); err != nil {
		c.dropClaimConn()
	}
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// keepUntil is the keep_until column of t: NULL for none.
func keepUntil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := nanos(t)
	return &n
}

const insertSQL = `INSERT INTO recordings
	(id, call_id, purpose, lawful_basis, created, deadline, subject, sha256, gaps, keep_until, access_roles)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`

const insertHoldSQL = `INSERT INTO holds (recording_id, seq, case_ref, approver, since)
	VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`

// Add implements retention.Catalog.
func (c *Catalog) Add(ctx context.Context, r retention.Recording) error {
	if err := r.Validate(); err != nil {
		return wrap("add", err)
	}
	if len(r.Holds) == 0 { // one statement: no transaction round trips
		tag, err := c.pool.Exec(ctx, insertSQL, r.ID, r.CallID, string(r.Purpose), r.LawfulBasis,
			nanos(r.Created), nanos(r.Deadline), r.Subject, r.SHA256, catalogrow.EncodeGaps(r.Gaps),
			keepUntil(r.KeepUntil), catalogrow.EncodeRoles(r.AccessRoles))
		if err != nil {
			return wrap("add", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgcatalog add %s: %w", r.ID, retention.ErrExists)
		}
		return nil
	}
	return c.inTx(ctx, "add", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertSQL, r.ID, r.CallID, string(r.Purpose), r.LawfulBasis,
			nanos(r.Created), nanos(r.Deadline), r.Subject, r.SHA256, catalogrow.EncodeGaps(r.Gaps),
			keepUntil(r.KeepUntil), catalogrow.EncodeRoles(r.AccessRoles))
		if err != nil {
			return wrap("add", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgcatalog add %s: %w", r.ID, retention.ErrExists)
		}
		for i, h := range r.Holds {
			if _, err := tx.Exec(ctx, insertHoldSQL, r.ID, i, h.Case, h.Approver, nanos(h.Since)); err != nil {
				return wrap("add", err)
			}
		}
		return nil
	})
}

// AddBatch catalogues many recordings at once with COPY, in one
// transaction: all or none. An id already catalogued (or twice in rs) fails
// the whole batch with an error wrapping retention.ErrExists.
func (c *Catalog) AddBatch(ctx context.Context, rs []retention.Recording) error {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return wrap("add batch", err)
		}
	}
	return c.inTx(ctx, "add batch", func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"recordings"},
			[]string{"id", "call_id", "purpose", "lawful_basis", "created", "deadline", "subject", "sha256", "gaps", "keep_until", "access_roles"},
			pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
				r := rs[i]
				return []any{r.ID, r.CallID, string(r.Purpose), r.LawfulBasis, nanos(r.Created), nanos(r.Deadline),
					r.Subject, r.SHA256, catalogrow.EncodeGaps(r.Gaps), keepUntil(r.KeepUntil), catalogrow.EncodeRoles(r.AccessRoles)}, nil
			}))
		if isUniqueViolation(err) {
			return fmt.Errorf("pgcatalog add batch: %w", retention.ErrExists)
		}
		if err != nil {
			return wrap("add batch", err)
		}
		for _, r := range rs {
			for i, h := range r.Holds {
				if _, err := tx.Exec(ctx, insertHoldSQL, r.ID, i, h.Case, h.Approver, nanos(h.Since)); err != nil {
					return wrap("add batch", err)
				}
			}
		}
		return nil
	})
}

const columns = `id, call_id, purpose, lawful_basis, created, deadline, subject, sha256, gaps, deletion,
	keep_until, access_roles, EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.id)`

// The queries whose plans the tests check (EXPLAIN).
const (
	expiredSQL = "SELECT " + columns + ` FROM recordings r
		WHERE deadline <= $1 AND (deadline, id) > ($2, $3) ORDER BY deadline, id LIMIT $4`
	subjectSQL = "SELECT " + columns + ` FROM recordings r
		WHERE subject = $1 AND subject <> '' ORDER BY created, id`
	pendingSQL = "SELECT " + columns + ` FROM recordings r WHERE deletion <> '' ORDER BY id`
	getSQL     = "SELECT " + columns + ` FROM recordings r WHERE id = $1`
)

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func query(ctx context.Context, q querier, op, sql string, args ...any) ([]retention.Recording, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	var out []retention.Recording
	var held []int
	for rows.Next() {
		var r retention.Recording
		var purpose, gaps, deletion, roles string
		var created, deadline int64
		var keep *int64
		var hasHold bool
		if err := rows.Scan(&r.ID, &r.CallID, &purpose, &r.LawfulBasis, &created, &deadline,
			&r.Subject, &r.SHA256, &gaps, &deletion, &keep, &roles, &hasHold); err != nil {
			rows.Close()
			return nil, wrap(op, err)
		}
		r.Purpose = policy.Purpose(purpose)
		r.Created, r.Deadline = fromNanos(created), fromNanos(deadline)
		r.Deletion = retention.Deletion(deletion)
		if keep != nil {
			r.KeepUntil = fromNanos(*keep)
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
	rows.Close()
	if err := rows.Err(); err != nil {
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
	rows, err := q.Query(ctx, `SELECT case_ref, approver, since FROM holds WHERE recording_id = $1 ORDER BY seq`, id)
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

func get(ctx context.Context, q querier, op, sql, id string) (retention.Recording, error) {
	rs, err := query(ctx, q, op, sql, id)
	if err != nil {
		return retention.Recording{}, err
	}
	if len(rs) == 0 {
		return retention.Recording{}, fmt.Errorf("pgcatalog %s %s: %w", op, id, retention.ErrNotFound)
	}
	return rs[0], nil
}

// Get implements retention.Catalog.
func (c *Catalog) Get(ctx context.Context, id string) (retention.Recording, error) {
	return get(ctx, c.pool, "get", getSQL, id)
}

func limitOf(n int) *int64 {
	if n <= 0 {
		return nil // LIMIT NULL: no limit
	}
	v := int64(n)
	return &v
}

// Expired implements retention.Catalog.
func (c *Catalog) Expired(ctx context.Context, t time.Time, after retention.Cursor, limit int) ([]retention.Recording, error) {
	ad, aid := int64(-1<<63), ""
	if !(after.Deadline.IsZero() && after.ID == "") {
		ad, aid = nanos(after.Deadline), after.ID
	}
	return query(ctx, c.pool, "expired", expiredSQL, nanos(t), ad, aid, limitOf(limit))
}

// Subject implements retention.Catalog.
func (c *Catalog) Subject(ctx context.Context, subject string) ([]retention.Recording, error) {
	if subject == "" {
		return nil, wrap("subject", &retention.InvalidError{Field: "subject", Msg: "empty"})
	}
	return query(ctx, c.pool, "subject", subjectSQL, subject)
}

// Pending implements retention.Catalog. It lists the deletions this node
// claimed and those whose claiming node is gone (which it claims now), not
// those another live node is finishing.
func (c *Catalog) Pending(ctx context.Context, limit int) ([]retention.Recording, error) {
	all, err := query(ctx, c.pool, "pending", pendingSQL)
	if err != nil {
		return nil, err
	}
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	var out []retention.Recording
	for _, r := range all {
		if limit > 0 && len(out) == limit {
			break
		}
		got, _, err := c.tryClaim(ctx, r.ID)
		if err != nil {
			return nil, wrap("pending", err)
		}
		if got {
			out = append(out, r)
		}
	}
	return out, nil
}

func (c *Catalog) inTx(ctx context.Context, op string, f func(tx pgx.Tx) error) error {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback(context.Background())
	if err := f(tx); err != nil {
		return err
	}
	return wrap(op, tx.Commit(ctx))
}

// lockRow locks the row of id for the rest of tx and returns it as it is
// once the lock is held. The lock and the read are two statements: under
// READ COMMITTED a statement that waited for a row lock still sees the other
// tables as of its start, so a single "SELECT ... EXISTS (holds) ... FOR
// UPDATE" that waited for a SetHold would miss the hold just committed.
func lockRow(ctx context.Context, tx pgx.Tx, op, id string) (retention.Recording, error) {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM recordings WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return retention.Recording{}, fmt.Errorf("pgcatalog %s %s: %w", op, id, retention.ErrNotFound)
	}
	if err != nil {
		return retention.Recording{}, wrap(op, err)
	}
	return get(ctx, tx, op, getSQL, id)
}

// SetHold implements retention.Catalog.
func (c *Catalog) SetHold(ctx context.Context, id string, h retention.Hold) (retention.Recording, error) {
	if strings.TrimSpace(h.Case) == "" || strings.TrimSpace(h.Approver) == "" {
		return retention.Recording{}, wrap("set hold", &retention.InvalidError{Field: "hold", Msg: "a legal hold needs a case reference and a named approver"})
	}
	var r retention.Recording
	err := c.inTx(ctx, "set hold", func(tx pgx.Tx) error {
		var err error
		if r, err = lockRow(ctx, tx, "set hold", id); err != nil {
			return err
		}
		if r.Deletion != retention.DeletionNone {
			return fmt.Errorf("pgcatalog set hold %s: %w", id, retention.ErrPendingDeletion)
		}
		if _, ok := r.HoldFor(h.Case); ok {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO holds (recording_id, seq, case_ref, approver, since)
			VALUES ($1, (SELECT coalesce(max(seq), -1) + 1 FROM holds WHERE recording_id = $1), $2, $3, $4)`,
			id, h.Case, h.Approver, nanos(h.Since)); err != nil {
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
	err := c.inTx(ctx, "release hold", func(tx pgx.Tx) error {
		var err error
		if r, err = lockRow(ctx, tx, "release hold", id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM holds WHERE recording_id = $1 AND case_ref = $2`, id, ref)
		if err != nil {
			return wrap("release hold", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pgcatalog release hold %s case %q: %w", id, ref, retention.ErrNoSuchHold)
		}
		r.Holds, err = holdsOf(ctx, tx, id)
		return wrap("release hold", err)
	})
	if err != nil {
		return retention.Recording{}, err
	}
	return r, nil
}

// BeginDelete implements retention.Catalog. The deletion is claimed by this
// node until Remove (see the package doc); if another live node claimed it,
// the error wraps ErrClaimed (and so retention.ErrNotFound).
func (c *Catalog) BeginDelete(ctx context.Context, id string, cause retention.Deletion) (retention.Recording, error) {
	if cause == retention.DeletionNone {
		return retention.Recording{}, wrap("begin delete", &retention.InvalidError{Field: "cause", Msg: "empty"})
	}
	if err := ctx.Err(); err != nil {
		return retention.Recording{}, wrap("begin delete", err)
	}
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	got, newly, err := c.tryClaim(ctx, id)
	if err != nil {
		return retention.Recording{}, wrap("begin delete", err)
	}
	if !got {
		return retention.Recording{}, fmt.Errorf("pgcatalog begin delete %s: %w", id, ErrClaimed)
	}
	var r retention.Recording
	keep := false
	err = c.inTx(ctx, "begin delete", func(tx pgx.Tx) error {
		var err error
		if r, err = lockRow(ctx, tx, "begin delete", id); err != nil {
			return err
		}
		if r.Deletion != retention.DeletionNone {
			keep = true // ours, or abandoned by a dead node: ours now
			_, err := tx.Exec(ctx, `UPDATE recordings SET claimed_by = $2 WHERE id = $1`, id, c.node)
			return wrap("begin delete", err)
		}
		if r.Held() {
			return fmt.Errorf("pgcatalog begin delete %s: %w", id, retention.ErrHeld)
		}
		if _, err := tx.Exec(ctx, `UPDATE recordings SET deletion = $2, claimed_by = $3 WHERE id = $1`,
			id, string(cause), c.node); err != nil {
			return wrap("begin delete", err)
		}
		keep = true
		r.Deletion = cause
		return nil
	})
	if err != nil {
		keep = false
	}
	if !keep && newly {
		c.unclaim(id)
	}
	if err != nil {
		return retention.Recording{}, err
	}
	return r, nil
}

// Remove implements retention.Catalog; it releases this node's claim.
func (c *Catalog) Remove(ctx context.Context, id string) error {
	err := c.inTx(ctx, "remove", func(tx pgx.Tx) error {
		var deletion string
		err := tx.QueryRow(ctx, `SELECT deletion FROM recordings WHERE id = $1 FOR UPDATE`, id).Scan(&deletion)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("pgcatalog remove %s: %w", id, retention.ErrNotFound)
		case err != nil:
			return wrap("remove", err)
		case deletion == "":
			return wrap("remove", &retention.InvalidError{Field: "deletion", Msg: "no deletion began for " + id})
		}
		_, err = tx.Exec(ctx, `DELETE FROM recordings WHERE id = $1`, id)
		return wrap("remove", err)
	})
	if err == nil || errors.Is(err, retention.ErrNotFound) {
		c.claimMu.Lock()
		c.unclaim(id)
		c.claimMu.Unlock()
	}
	return err
}

// Count implements retention.Catalog.
func (c *Catalog) Count(ctx context.Context) (int, error) {
	var n int
	err := c.pool.QueryRow(ctx, `SELECT count(*) FROM recordings`).Scan(&n)
	return n, wrap("count", err)
}
