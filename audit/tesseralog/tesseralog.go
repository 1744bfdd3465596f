// Package tesseralog is an [audit.Log] backend on Tessera
// (github.com/transparency-dev/tessera), the tile-based transparency log
// engine: the Merkle tree is stored as C2SP tlog-tiles (hash tiles and
// entry bundles) and its checkpoints are C2SP signed notes published by
// Tessera and signed with the log's key.
//
// # Leaf format, and what changes for an auditor
//
// New logs write v2 leaves ([audit.LeafV2], "consentrec/audit-leaf/v2":
// time, kind and the salted commitment; no index and no previous leaf
// hash). Tessera hashes an entry before it assigns its index, and the
// Merkle tree already orders the entries, so a leaf need not state its
// own position: its index is where it sits in the tree, and every
// inclusion proof binds the leaf to that index (an RFC 6962 proof for
// index i does not verify for any other). What a v2 leaf proves, against
// a signed checkpoint it is proven into: that an event with this
// commitment (so, opened, this exact event) of this kind and time was
// logged at this index, before every entry of a larger index, and that
// the log's history up to the checkpoint's size contains it and keeps it
// (consistency proofs between checkpoints). What it no longer carries is
// the chain: a v1 leaf also names the leaf before it without the tree;
// with v2 only the tree says so, and it says the same. The order that
// remains is the tree's: entries of several writers interleave in the
// order Tessera sequenced them. A leaf's time is the time its Append took
// (or the caller gave), not a sequence number: concurrent appends reach a
// writer's committer in any order and writers' clocks differ, so times
// are not ordered along the tree, not even per writer; an auditor orders
// by index and reads the time as the writer's claim. (v1 leaves are no
// different in this: their chain follows the index, not the time.)
// Receipts of v2 entries carry the index beside the leaf ("consentrec
// audit receipt v2", an "index" line); [audit.CheckReceipt] checks the
// checkpoint's signature (and the listed witnesses' cosignatures), the
// inclusion proof of the leaf at that index, and the event against the
// commitment; v1 receipts verify as before.
//
// Existing logs keep their format: a log whose entry 0 is a v1 leaf
// ([audit.LeafV1], "consentrec/audit-leaf/v1", byte-identical to the file
// log's) keeps writing v1 leaves, chained: one committer assigns each
// leaf's index and previous hash and waits for every batch, checks that
// Tessera put each leaf at the index it carries (a mismatch stops the
// log, [audit.ErrClosed], rather than log a leaf whose index lies), and
// with several writers (MySQL) sequences each batch under a database lock
// after reading the tree's size and last leaf, so batches of different
// processes alternate. [Options].LeafVersion creates a v1 log on purpose;
// asking an existing log for the other format is [ErrOptions]. A log never
// mixes formats: [VerifyTiles] takes entry 0's format as the log's and
// reports any other leaf as a format error at its index.
//
// Writers: [OpenPOSIX] is one process per directory (locked, as the file
// log is). [OpenMySQL] lets several processes append to one database at
// the same time. With v2 leaves nothing is serialized across processes
// beyond Tessera's own sequencing: each process's committer stores a
// batch's openings, adds the batch and waits for it (the appends arriving
// meanwhile make the next batch), and the batches of several processes
// interleave.
//
// For an auditor: the log is a set of tiles ("tile/...",
// "tile/entries/...", "checkpoint": the "tlog" directory of the POSIX
// driver, or [Log.TilesFS] over either driver) that any tlog-tiles client
// can read and prove against, plus the openings (salt, event, subject salt
// and subject: "openings.db", an SQLite file, or a MySQL table) that Prune
// and Shred delete (a v2 opening is keyed by its leaf's commitment: it is
// stored before Tessera assigns the index, which is written beside it
// once known). The tiles are public and never change; the openings are
// private.
// Verifying = reading every entry bundle, recomputing the tree against the
// signed checkpoint, and opening each commitment that still has its
// opening ([VerifyTiles] for the tiles alone, [Log.Entry] for an opening).
//
// # Witnesses
//
// [Options].Witnesses are the file log's witnesses ([audit.Witness]: the
// tlog-witness exchange, timestamped C2SP cosignature/v1 signatures),
// called by the same code ([audit.WitnessSet]: the size each witness holds,
// a consistency proof from it, built from Tessera's tiles). Tessera
// publishes its "checkpoint" on its own; the log has every published
// checkpoint cosigned (at most once per CheckpointInterval, and on
// [Log.Checkpoint] and Close) and keeps the cosigned note beside the tiles
// ([CosignedPath]), so that a copy of the tiles carries it. A witness that
// fails does not stop the log: [Log.Checkpoint] returns its error beside
// the checkpoint. An auditor lists the witnesses it trusts and a quorum
// ([VerifyTilesWith], [Log.Verify]): fewer cosignatures is an error
// wrapping [audit.ErrQuorum] that names the missing witnesses, and tiles
// rolled back behind the cosigned checkpoint are truncation
// ([audit.ErrRollback]). Receipts carry the cosigned checkpoint, so
// [audit.CheckReceipt] checks their witnesses too.
//
// # Durability
//
// Append returns once Tessera's future resolved: the POSIX driver has then
// written the entry bundle and integrated the tree (files written with
// O_SYNC, linked or renamed into place, directory synced); the MySQL
// driver has committed the bundle and the tree in one transaction. The
// opening is committed first (SQLite in WAL mode with synchronous=FULL,
// or a table of the MySQL database), then the leaf is added. After a
// crash, Open deletes v1 openings past the tree size, and finds the leaves
// of v2 openings whose index was not yet written (searching from the tree
// size they were stored at); with one writer (POSIX), v2 openings of no
// leaf are deleted, with several (MySQL) they stay, unread, since another
// process may still be adding their leaf.
// Concurrent appends are group-committed: every append that arrives while
// a batch is being sequenced joins the next batch.
//
// With several writers, Size, Entry, Prune and the proofs of one process
// see the tree up to its own last batch (which includes every earlier
// batch of the others); Checkpoint returns the latest published one.
package tesseralog

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options configures a Tessera log. Signer and Origin are required; every
// other zero field is a safe default.
type Options struct {
	// Signer signs checkpoints; it must hold an Ed25519 key.
	Signer crypto.Signer
	// Origin names the log: the first line of its checkpoints and the
	// name of its verifier key.
	Origin string
	// Now is the clock for events whose Time is zero (time.Now).
	Now func() time.Time
	// Rand fills salts (crypto/rand.Read).
	Rand func([]byte) error
	// CheckpointInterval is how often Tessera publishes a checkpoint
	// (default and minimum 100 ms).
	CheckpointInterval time.Duration
	// MaxBatch caps the appends sequenced together (default 256).
	MaxBatch int
	// Witnesses cosign the log's checkpoints (see CosignedPath): every
	// checkpoint Tessera publishes, at most once per CheckpointInterval,
	// and the checkpoints returned by Checkpoint and made by Close. Their
	// failures do not stop the log; Checkpoint returns them beside the
	// checkpoint. This is the file log's audit.Options.Witnesses, run by
	// the same code (audit.WitnessSet).
	Witnesses []audit.Witness
	// WitnessTimeout bounds each witness call (default 5 s).
	WitnessTimeout time.Duration
	// LeafVersion is the leaf format of a new log: audit.LeafV2 (the
	// default, for 0) or audit.LeafV1 (chained leaves, byte-identical to
	// the file log's). An existing log keeps the format of its entry 0;
	// a LeafVersion other than 0 and that format is an ErrOptions error.
	LeafVersion int
}

// Errors of this package.
var (
	// ErrLocked: another process has the log open.
	ErrLocked = errors.New("tesseralog: log in use by another process")
	// ErrOptions: a required option is missing or invalid.
	ErrOptions = errors.New("tesseralog: invalid options")
	// ErrIndexMismatch: Tessera sequenced an entry at another index than
	// the one its leaf carries (the log stops).
	ErrIndexMismatch = errors.New("tesseralog: tessera assigned an unexpected index")
	// ErrRetry: the log pushed back (too many outstanding entries); the
	// append was not logged and may be retried.
	ErrRetry = errors.New("tesseralog: busy, retry")
)

// Log is an audit.Log on Tessera's POSIX driver. Safe for concurrent use.
type Log struct {
	origin   string
	verifier note.Verifier
	now      func() time.Time
	rnd      func([]byte) error
	maxBatch int

	add      tessera.AddFn
	reader   tessera.LogReader
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	db       *sql.DB
	closeDB  bool         // the log opened db (POSIX), rather than the caller
	unlock   func() error // releases the single-writer lock
	// batchLock, when set (several writers: MySQL), is held around each
	// batch: the committer then reads the tree's size and last leaf
	// under it, so that leaves appended by other processes are chained.
	batchLock func(context.Context) (func(), error)

	size atomic.Uint64 // durable entries

	reqs     chan *req
	quit     chan struct{}
	done     chan struct{}
	quitOnce sync.Once
	closeErr error

	mu     sync.Mutex // guards failed
	failed error
	next   uint64    // committer only (v1)
	prev   tlog.Hash // committer only (v1)

	version  int    // audit.LeafV1 or audit.LeafV2
	openings string // the openings table (see createOpenings)

	// v2: the indexes learnt from Tessera's futures, written to the
	// openings table with the next batch's openings (or by resolve, or at
	// Close).
	pmu     sync.Mutex
	pending []placed

	cosigned cosignedStore // where the cosigned checkpoint is kept
	wmu      sync.Mutex    // guards wit's fields
	wit      *witnessing   // nil without witnesses
	witOpts  Options
}

// placed: the entry of commitment was sequenced at idx.
type placed struct {
	commit tlog.Hash
	idx    uint64
}

type req struct {
	leaf audit.Leaf
	open *audit.Opening
	done chan result
}

type result struct {
	index uint64
	err   error
}

var _ audit.Log = (*Log)(nil)

// OpenPOSIX opens (creating if needed) the Tessera log in directory dir:
// dir/tlog holds the tiles and checkpoint, dir/openings.db the openings.
// The directory is locked against a second process.
func OpenPOSIX(ctx context.Context, dir string, opts Options) (*Log, error) {
	l, ns, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tlog"), 0o755); err != nil {
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l.unlock = lock.Close
	if l.db, err = openSQLite(filepath.Join(dir, "openings.db")); err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	l.closeDB = true
	l.cosigned = posixCosigned(filepath.Join(dir, "tlog"))
	drv, err := posix.New(ctx, posix.Config{Path: filepath.Join(dir, "tlog")})
	if err != nil {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	return l.start(ctx, drv, ns, max(opts.CheckpointInterval, 100*time.Millisecond))
}

func newLog(opts Options) (*Log, note.Signer, error) {
	if opts.Origin == "" || opts.Signer == nil {
		return nil, nil, fmt.Errorf("tesseralog: open: Origin and Signer are required: %w", ErrOptions)
	}
	pub, ok := opts.Signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("tesseralog: open: signer is not Ed25519: %w", ErrOptions)
	}
	ns, err := audit.NoteSigner(opts.Origin, opts.Signer)
	if err != nil {
		return nil, nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	vkey, err := audit.VerifierKey(opts.Origin, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	ver, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	switch opts.LeafVersion {
	case 0, audit.LeafV1, audit.LeafV2:
	default:
		return nil, nil, fmt.Errorf("tesseralog: open: leaf version %d: %w", opts.LeafVersion, ErrOptions)
	}
	l := &Log{origin: opts.Origin, verifier: ver, now: opts.Now, rnd: opts.Rand, maxBatch: opts.MaxBatch,
		version: opts.LeafVersion, witOpts: opts,
		reqs: make(chan *req), quit: make(chan struct{}), done: make(chan struct{})}
	if l.now == nil {
		l.now = time.Now
	}
	if l.rnd == nil {
		l.rnd = func(b []byte) error { _, err := rand.Read(b); return err }
	}
	if l.maxBatch <= 0 {
		l.maxBatch = 256
	}
	return l, ns, nil
}

// start opens Tessera's appender on drv, reads the tree's state and starts
// the committer. l.db holds the openings table; on error l is released.
func (l *Log) start(ctx context.Context, drv tessera.Driver, ns note.Signer, ci time.Duration) (*Log, error) {
	fail := func(err error) (*Log, error) {
		l.release()
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	if l.batchLock != nil {
		// Several writers: Tessera's first open of an empty database
		// writes its initial tree state (two at once deadlock), and the
		// orphan openings below may only be deleted when no other
		// writer has a batch in flight.
		unlock, err := l.batchLock(ctx)
		if err != nil {
			return fail(err)
		}
		defer unlock()
	}
	bctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	ao := tessera.NewAppendOptions().
		WithCheckpointSigner(ns).
		WithCheckpointInterval(ci).
		// Flush a batch at once: the committer already gathered it.
		WithBatching(uint(l.maxBatch), time.Millisecond).
		WithPushback(uint(4 * l.maxBatch))
	app, shutdown, reader, err := tessera.NewAppender(bctx, drv, ao)
	if err != nil {
		return fail(err)
	}
	l.add, l.shutdown, l.reader = app.Add, shutdown, reader
	size, err := reader.IntegratedSize(ctx)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}
	// The log's leaf format is its entry 0's; a new log writes v2.
	want := l.version
	l.version = 0
	if size > 0 {
		first, err := l.leaf(ctx, 0, size)
		if err != nil {
			return fail(err)
		}
		l.version = first.Version
	}
	switch {
	case size == 0 && want == 0:
		l.version = audit.LeafV2
	case size == 0:
		l.version = want
	case want != 0 && want != l.version:
		return fail(fmt.Errorf("the log holds v%d leaves, LeafVersion is %d: %w", l.version, want, ErrOptions))
	}
	l.size.Store(size)
	if l.version == audit.LeafV1 {
		l.openings = "consentrec_openings"
		if _, err := l.db.ExecContext(ctx, createOpenings); err != nil {
			return fail(err)
		}
		l.prev = audit.Genesis(l.origin)
		if size > 0 {
			last, err := l.leaf(ctx, size-1, size)
			if err != nil {
				return fail(err)
			}
			l.prev = last.Hash()
		}
		l.next = size
		// Openings of entries that never became durable (a crash between the
		// openings' commit and Tessera's) belong to no leaf.
		if _, err := l.db.ExecContext(ctx, `DELETE FROM consentrec_openings WHERE idx >= ?`, int64(size)); err != nil {
			return fail(err)
		}
	} else {
		l.openings = "consentrec_openings2"
		if _, err := l.db.ExecContext(ctx, createOpenings2); err != nil {
			return fail(err)
		}
		// Place the openings whose index a crash left unwritten; with a
		// single writer (POSIX), those still unplaced belong to no leaf.
		// (With several writers, another process may have them in flight:
		// they stay, unplaced and unread.)
		if err := l.resolve(ctx); err != nil {
			return fail(err)
		}
		if l.batchLock == nil {
			if _, err := l.db.ExecContext(ctx, `DELETE FROM consentrec_openings2 WHERE idx IS NULL`); err != nil {
				return fail(err)
			}
		}
	}
	if err := l.startWitnesses(ctx, l.witOpts.Witnesses, l.witOpts.WitnessTimeout, ci); err != nil {
		return fail(err)
	}
	go l.run()
	return l, nil
}

// createOpenings (v1 logs: keyed by the index the leaf carries) and
// createOpenings2 (v2 logs: keyed by the leaf's commitment, stored before
// Tessera assigns the index; idx is filled in once known, min_idx is the
// tree size when it was stored, a lower bound of its index) are valid
// SQLite and MySQL/MariaDB.
const (
	createOpenings = `CREATE TABLE IF NOT EXISTS consentrec_openings (
	idx BIGINT NOT NULL PRIMARY KEY, time BIGINT NOT NULL, kind INT NOT NULL,
	salt VARBINARY(32), payload MEDIUMBLOB, subj_salt VARBINARY(32), subject TEXT)`
	createOpenings2 = `CREATE TABLE IF NOT EXISTS consentrec_openings2 (
	commitment VARBINARY(32) NOT NULL PRIMARY KEY, idx BIGINT NULL, min_idx BIGINT NOT NULL,
	time BIGINT NOT NULL, kind INT NOT NULL,
	salt VARBINARY(32), payload MEDIUMBLOB, subj_salt VARBINARY(32), subject TEXT,
	UNIQUE (idx))`
)

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "tesseralog.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: open: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("tesseralog: open %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("tesseralog: open: lock: %w", err)
	}
	return f, nil
}

func (l *Log) release() {
	if l.cancel != nil {
		l.cancel()
	}
	if l.db != nil && l.closeDB {
		l.db.Close()
	}
	if l.unlock != nil {
		l.unlock()
	}
}

func openSQLite(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Origin returns the log's name.
func (l *Log) Origin() string { return l.origin }

// VerifierKey implements audit.Log.
func (l *Log) VerifierKey() note.Verifier { return l.verifier }

// Size implements audit.Log.
func (l *Log) Size() uint64 { return l.size.Load() }

func (l *Log) failedErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Append implements audit.Log: it returns once Tessera has durably
// sequenced the entry.
func (l *Log) Append(ctx context.Context, e audit.Event) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Round(0)
	o, err := audit.Seal(&e, l.rnd)
	if err != nil {
		return 0, fmt.Errorf("tesseralog: append: %w", err)
	}
	r := &req{leaf: audit.Leaf{Version: l.version, Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}, open: o, done: make(chan result, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return 0, audit.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Once queued, the entry will be logged: wait for it even if ctx
	// ends, so that the caller never mistakes a logged entry for a lost one.
	res := <-r.done
	return res.index, res.err
}

// run is the committer: it gathers the appends waiting into a batch,
// stores their openings in one transaction and adds the batch to Tessera.
// It waits for each batch before the next; for v1 leaves it also assigns
// indexes and chain values.
func (l *Log) run() {
	defer close(l.done)
	for {
		var batch []*req
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case <-l.quit:
			return
		}
	gather:
		for len(batch) < l.maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		if l.version == audit.LeafV2 {
			l.commitV2(batch)
		} else {
			l.commit(batch)
		}
	}
}

// commitV2 stores the openings of a batch of v2 leaves (with the indexes
// learnt since the last batch), adds the leaves to Tessera and answers
// each append as soon as its index is durable. The appends that arrive
// meanwhile form the next batch (adding it before this one resolved made
// one-entry batches: 20 times slower on POSIX). Nothing is serialized
// beyond Tessera's own sequencing and this process's committer: several
// processes append to one MySQL log at once.
func (l *Log) commitV2(batch []*req) {
	if err := l.failedErr(); err != nil {
		for _, r := range batch {
			r.done <- result{0, err}
		}
		return
	}
	ctx := context.Background()
	pend := l.takePending()
	if err := l.storeOpenings2(ctx, batch, l.Size(), pend); err != nil {
		l.putPending(pend)
		for _, r := range batch {
			r.done <- result{0, fmt.Errorf("tesseralog: append: openings: %w", err)}
		}
		return
	}
	futures := make([]tessera.IndexFuture, len(batch))
	for i, r := range batch {
		raw, _ := r.leaf.MarshalBinary()
		futures[i] = l.add(ctx, tessera.NewEntry(raw))
	}
	for i, f := range futures {
		r := batch[i]
		idx, err := f()
		if err != nil {
			// Not logged: the opening stays unplaced (no leaf reads it).
			if errors.Is(err, tessera.ErrPushback) {
				err = fmt.Errorf("%w: %v", ErrRetry, err)
			}
			r.done <- result{0, fmt.Errorf("tesseralog: append: %w", err)}
			continue
		}
		l.pmu.Lock()
		l.pending = append(l.pending, placed{r.leaf.Commitment, idx.Index})
		l.pmu.Unlock()
		for {
			n := l.size.Load()
			if n > idx.Index || l.size.CompareAndSwap(n, idx.Index+1) {
				break
			}
		}
		r.done <- result{idx.Index, nil}
	}
}

func (l *Log) takePending() []placed {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

func (l *Log) putPending(p []placed) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	l.pending = append(l.pending, p...)
}

// storeOpenings2 inserts the openings of batch (v2, not yet placed, with
// min_idx floor) and places the openings of pend, in one transaction.
func (l *Log) storeOpenings2(ctx context.Context, batch []*req, floor uint64, pend []placed) error {
	return l.inTx(ctx, func(tx *sql.Tx) error { return insertTx(ctx, tx, batch, floor, pend) })
}

// inTx runs f in a transaction and commits it, running it again (up to 5
// times) when a MySQL server chose it as a deadlock victim (error 1213)
// or timed out its locks (1205): the openings transactions of several
// writers can deadlock on InnoDB's index locks, and the server rolled
// the whole transaction back.
func (l *Log) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := l.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err = f(tx); err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		var me *mysql.MySQLError
		if err != nil && attempt < 5 && errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205) {
			continue
		}
		return err
	}
}

func insertTx(ctx context.Context, tx *sql.Tx, batch []*req, floor uint64, pend []placed) error {
	if err := placeTx(ctx, tx, pend); err != nil {
		return err
	}
	// One statement per chunk of rows: a round trip per row to a MySQL
	// server made v2 appends slower than v1's.
	const cols = 8
	for len(batch) > 0 {
		chunk := batch[:min(len(batch), 256)]
		batch = batch[len(chunk):]
		q := `INSERT INTO consentrec_openings2 (commitment, idx, min_idx, time, kind, salt, payload, subj_salt, subject) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, NULL, ?, ?, ?, ?, ?, ?, ?)`, len(chunk)-1)
		args := make([]any, 0, cols*len(chunk))
		for _, r := range chunk {
			o := r.open
			var ss, subj any
			if o.Subject != "" {
				ss, subj = o.SubjectSalt[:], o.Subject
			}
			args = append(args, r.leaf.Commitment[:], int64(floor), r.leaf.Time.UnixNano(), int(r.leaf.Kind), o.Salt[:], o.Payload, ss, subj)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// placeTx writes the indexes of pend, one statement per chunk.
func placeTx(ctx context.Context, tx *sql.Tx, pend []placed) error {
	for len(pend) > 0 {
		chunk := pend[:min(len(pend), 256)]
		pend = pend[len(chunk):]
		q := `UPDATE consentrec_openings2 SET idx = CASE commitment` + strings.Repeat(` WHEN ? THEN ?`, len(chunk)) +
			` END WHERE commitment IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
		args := make([]any, 0, 3*len(chunk))
		for _, p := range chunk {
			args = append(args, p.commit[:], int64(p.idx))
		}
		for _, p := range chunk {
			args = append(args, p.commit[:])
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// resolve places every v2 opening whose index is not yet stored: first
// the indexes learnt from Tessera's futures, then, for openings left
// unplaced by a crash (or still in flight), the leaves from their min_idx
// up to the log's size are searched for their commitment. Prune, Shred and
// Open call it, so that every durable entry's opening has its index.
func (l *Log) resolve(ctx context.Context) error {
	if l.version != audit.LeafV2 {
		return nil
	}
	if pend := l.takePending(); len(pend) > 0 {
		if err := l.inTx(ctx, func(tx *sql.Tx) error { return placeTx(ctx, tx, pend) }); err != nil {
			l.putPending(pend)
			return fmt.Errorf("place openings: %w", err)
		}
	}
	size := l.Size()
	rows, err := l.db.QueryContext(ctx, `SELECT commitment, min_idx FROM consentrec_openings2 WHERE idx IS NULL AND min_idx < ?`, int64(size))
	if err != nil {
		return fmt.Errorf("place openings: %w", err)
	}
	want := map[tlog.Hash]bool{}
	from := size
	for rows.Next() {
		var c []byte
		var floor int64
		if err := rows.Scan(&c, &floor); err != nil {
			rows.Close()
			return fmt.Errorf("place openings: %w", err)
		}
		want[tlog.Hash(c)] = true
		from = min(from, uint64(floor))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("place openings: %w", err)
	}
	var found []placed
	for i := from; i < size && len(found) < len(want); i++ {
		lf, err := l.leaf(ctx, i, size)
		if err != nil {
			return err
		}
		if want[lf.Commitment] {
			found = append(found, placed{lf.Commitment, i})
		}
	}
	if len(found) == 0 {
		return nil
	}
	if err := l.inTx(ctx, func(tx *sql.Tx) error { return placeTx(ctx, tx, found) }); err != nil {
		return fmt.Errorf("place openings: %w", err)
	}
	return nil
}

func (l *Log) commit(batch []*req) {
	reply := func(err error) {
		for _, r := range batch {
			r.done <- result{r.leaf.Index, err}
		}
	}
	if err := l.failedErr(); err != nil {
		reply(err)
		return
	}
	ctx := context.Background()
	if l.batchLock != nil {
		unlock, err := l.batchLock(ctx)
		if err != nil {
			reply(fmt.Errorf("tesseralog: append: %w", err))
			return
		}
		defer unlock()
		if err := l.catchUp(ctx); err != nil {
			l.mu.Lock()
			l.failed = fmt.Errorf("%w: %v", audit.ErrClosed, err)
			l.mu.Unlock()
			reply(fmt.Errorf("tesseralog: append: %w", err))
			return
		}
	}
	prev := l.prev
	for i, r := range batch {
		r.leaf.Index = l.next + uint64(i)
		r.leaf.Prev = prev
		prev = r.leaf.Hash()
	}
	if err := l.storeOpenings(ctx, batch); err != nil {
		reply(fmt.Errorf("tesseralog: append: openings: %w", err))
		return
	}
	futures := make([]tessera.IndexFuture, len(batch))
	for i, r := range batch {
		raw, _ := r.leaf.MarshalBinary()
		futures[i] = l.add(ctx, tessera.NewEntry(raw))
	}
	var firstErr error
	for i, f := range futures {
		idx, err := f()
		switch {
		case err != nil:
			if errors.Is(err, tessera.ErrPushback) {
				err = fmt.Errorf("%w: %v", ErrRetry, err)
			}
			firstErr = cmpOr(firstErr, err)
		case idx.Index != batch[i].leaf.Index || idx.IsDup:
			firstErr = cmpOr(firstErr, fmt.Errorf("entry %d sequenced at %d: %w", batch[i].leaf.Index, idx.Index, ErrIndexMismatch))
		}
	}
	if firstErr != nil {
		// The tree may hold part of the batch, or leaves at the wrong
		// index: nothing after it can be chained safely.
		l.mu.Lock()
		l.failed = fmt.Errorf("%w: %v", audit.ErrClosed, firstErr)
		l.mu.Unlock()
		reply(fmt.Errorf("tesseralog: append: %w", firstErr))
		return
	}
	l.next += uint64(len(batch))
	l.prev = prev
	l.size.Store(l.next)
	reply(nil)
}

// catchUp moves the committer past the entries other writers appended:
// it reads the tree's size and last leaf (under batchLock).
func (l *Log) catchUp(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	switch {
	case size == l.next:
		return nil
	case size < l.next:
		return fmt.Errorf("tree shrank from %d to %d entries: %w", l.next, size, audit.ErrRollback)
	}
	last, err := l.leaf(ctx, size-1, size)
	if err != nil {
		return err
	}
	l.next, l.prev = size, last.Hash()
	return nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (l *Log) storeOpenings(ctx context.Context, batch []*req) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `REPLACE INTO consentrec_openings (idx, time, kind, salt, payload, subj_salt, subject) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range batch {
		o := r.open
		var ss, subj any
		if o.Subject != "" {
			ss, subj = o.SubjectSalt[:], o.Subject
		}
		if _, err := st.ExecContext(ctx, int64(r.leaf.Index), r.leaf.Time.UnixNano(), int(r.leaf.Kind), o.Salt[:], o.Payload, ss, subj); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// leaf reads leaf i from its entry bundle in a tree of the given size.
func (l *Log) leaf(ctx context.Context, i, size uint64) (audit.Leaf, error) {
	bi := i / layout.EntryBundleWidth
	raw, err := l.reader.ReadEntryBundle(ctx, bi, layout.PartialTileSize(0, bi, size))
	if errors.Is(err, os.ErrNotExist) && l.Size() > size {
		// The partial bundle of that size was garbage-collected since:
		// the current one holds the same entries first.
		raw, err = l.reader.ReadEntryBundle(ctx, bi, layout.PartialTileSize(0, bi, l.Size()))
	}
	if err != nil {
		return audit.Leaf{}, fmt.Errorf("tesseralog: entry %d: bundle: %w", i, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return audit.Leaf{}, &audit.VerifyError{Index: i, Problem: audit.ProblemContent, Msg: "entry bundle: " + err.Error()}
	}
	k := i % layout.EntryBundleWidth
	if k >= uint64(len(b.Entries)) {
		return audit.Leaf{}, &audit.VerifyError{Index: i, Problem: audit.ProblemGap, Msg: "entry bundle too short"}
	}
	var lf audit.Leaf
	if err := lf.UnmarshalBinary(b.Entries[k]); err != nil {
		return audit.Leaf{}, &audit.VerifyError{Index: i, Problem: audit.ProblemContent, Msg: err.Error()}
	}
	if l.version != 0 && lf.Version != l.version {
		return audit.Leaf{}, &audit.VerifyError{Index: i, Problem: audit.ProblemFormat, Msg: fmt.Sprintf("v%d leaf in a log of v%d leaves", lf.Version, l.version)}
	}
	if !lf.Chained() {
		lf.Index = i // its position in the tree
	}
	if lf.Index != i {
		return audit.Leaf{}, &audit.VerifyError{Index: i, Problem: audit.ProblemOrder, Msg: fmt.Sprintf("leaf carries index %d", lf.Index)}
	}
	return lf, nil
}

// Entry implements audit.Log.
func (l *Log) Entry(ctx context.Context, i uint64) (audit.Entry, error) {
	if err := ctx.Err(); err != nil {
		return audit.Entry{}, err
	}
	if l.isClosed() {
		return audit.Entry{}, audit.ErrClosed
	}
	size := l.Size()
	if i >= size {
		return audit.Entry{}, fmt.Errorf("tesseralog: entry %d of %d: %w", i, size, audit.ErrNotFound)
	}
	lf, err := l.leaf(ctx, i, size)
	if err != nil {
		return audit.Entry{}, err
	}
	o, err := l.opening(ctx, i, lf.Commitment)
	if err != nil {
		return audit.Entry{}, err
	}
	en := audit.Entry{Leaf: lf, Opening: o}
	if o == nil {
		en.Pruned = true
		en.Event = audit.Event{Kind: lf.Kind, Time: lf.Time}
		return en, nil
	}
	if en.Event, en.Shredded, err = o.Open(&lf); err != nil {
		return audit.Entry{}, &audit.VerifyError{Index: i, Problem: audit.ProblemContent, Msg: err.Error()}
	}
	return en, nil
}

// opening reads the opening of entry i, whose leaf has commitment c: by
// index (v1) or by commitment (v2, whose opening is stored before its
// index is known).
func (l *Log) opening(ctx context.Context, i uint64, c tlog.Hash) (*audit.Opening, error) {
	var salt, payload, ss []byte
	var subj sql.NullString
	var row *sql.Row
	if l.version == audit.LeafV2 {
		row = l.db.QueryRowContext(ctx, `SELECT salt, payload, subj_salt, subject FROM consentrec_openings2 WHERE commitment = ?`, c[:])
	} else {
		row = l.db.QueryRowContext(ctx, `SELECT salt, payload, subj_salt, subject FROM consentrec_openings WHERE idx = ?`, int64(i))
	}
	err := row.Scan(&salt, &payload, &ss, &subj)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && payload == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tesseralog: entry %d: opening: %w", i, err)
	}
	o := &audit.Opening{Payload: payload, Subject: subj.String}
	if len(salt) != audit.SaltSize || (subj.Valid && len(ss) != audit.SaltSize) {
		return nil, &audit.VerifyError{Index: i, Problem: audit.ProblemContent, Msg: "malformed opening"}
	}
	copy(o.Salt[:], salt)
	copy(o.SubjectSalt[:], ss)
	return o, nil
}

func (l *Log) isClosed() bool {
	select {
	case <-l.quit:
		return true
	default:
		return false
	}
}

// tiles reads hash tiles, falling back from a partial tile that garbage
// collection removed to the current one (a superset).
func (l *Log) tiles(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	b, err := l.reader.ReadTile(ctx, level, index, p)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		b, err = l.reader.ReadTile(ctx, level, index, layout.PartialTileSize(level, index, l.Size()))
	}
	return b, err
}

// ProveInclusion implements audit.Log, with Tessera's proof builder.
func (l *Log) ProveInclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error) {
	if index >= size || size > l.Size() {
		return nil, fmt.Errorf("tesseralog: prove entry %d in size %d (log size %d): %w", index, size, l.Size(), audit.ErrNotFound)
	}
	pb, err := client.NewProofBuilder(ctx, size, l.tiles)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: prove: %w", err)
	}
	p, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: prove entry %d: %w", index, err)
	}
	return toHashes(p)
}

// ProveConsistency implements audit.Log.
func (l *Log) ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error) {
	if oldSize == 0 || oldSize > newSize || newSize > l.Size() {
		return nil, fmt.Errorf("tesseralog: prove size %d extends %d (log size %d): %w", newSize, oldSize, l.Size(), audit.ErrNotFound)
	}
	pb, err := client.NewProofBuilder(ctx, newSize, l.tiles)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: prove: %w", err)
	}
	p, err := pb.ConsistencyProof(ctx, oldSize, newSize)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: prove %d -> %d: %w", oldSize, newSize, err)
	}
	return toHashes(p)
}

func toHashes(p [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("tesseralog: proof hash of %d bytes", len(h))
		}
		out[i] = tlog.Hash(h)
	}
	return out, nil
}

// Checkpoint implements audit.Log: it waits until Tessera has published a
// checkpoint covering every entry durable when it was called. With
// witnesses, it returns that checkpoint cosigned (see CosignedPath), and
// the failures of the witnesses that did not cosign beside it (the
// checkpoint, signed by the log, is returned even then).
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	want := l.Size()
	if want == 0 {
		return nil, fmt.Errorf("tesseralog: checkpoint of an empty log: %w", audit.ErrNotFound)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		raw, err := l.reader.ReadCheckpoint(ctx)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tesseralog: checkpoint: %w", err)
		}
		if err == nil {
			c, _, err := audit.OpenCheckpoint(raw, l.verifier)
			if err != nil {
				return nil, fmt.Errorf("tesseralog: checkpoint: %w", err)
			}
			if c.Size >= want {
				return l.cosign(ctx, raw)
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.done:
			return nil, audit.ErrClosed
		}
	}
}

// Receipt implements audit.Log (the audit receipt format).
func (l *Log) Receipt(ctx context.Context, index uint64) (*audit.Receipt, error) {
	cp, err := l.Checkpoint(ctx)
	if cp == nil {
		return nil, err
	}
	c, _, err := audit.OpenCheckpoint(cp, l.verifier)
	if err != nil {
		return nil, err
	}
	return audit.BuildReceipt(ctx, l, index, cp, c.Size)
}

// Prune implements audit.Log: it deletes openings, never leaves.
func (l *Log) Prune(ctx context.Context, cutoff time.Time, kinds ...audit.Kind) (int, error) {
	if l.isClosed() {
		return 0, audit.ErrClosed
	}
	// The prune is an event first (audit.PruneEvent), signed into a
	// checkpoint, and only then are openings deleted: a payload may be
	// absent only where a signed prune event covers it.
	if err := l.resolve(ctx); err != nil {
		return 0, fmt.Errorf("tesseralog: prune: %w", err)
	}
	upto := l.Size()
	where := ` WHERE payload IS NOT NULL AND idx < ? AND time < ? AND kind NOT IN (?, ?)`
	args := []any{int64(upto), cutoff.UnixNano(), int(audit.KindAuditPruned), int(audit.KindAuditShredded)}
	if len(kinds) > 0 {
		where += ` AND kind IN (?` + strings.Repeat(`, ?`, len(kinds)-1) + `)`
		for _, k := range kinds {
			args = append(args, int(k))
		}
	}
	var n int
	if err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM `+l.openings+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("tesseralog: prune: %w", err)
	}
	if _, err := l.Append(ctx, audit.PruneEvent(audit.PruneOptions{Before: cutoff, Kinds: kinds}, upto, n)); err != nil {
		return 0, fmt.Errorf("tesseralog: prune: %w", err)
	}
	if cp, err := l.Checkpoint(ctx); cp == nil {
		return 0, fmt.Errorf("tesseralog: prune: %w", err)
	}
	res, err := l.db.ExecContext(ctx, `UPDATE `+l.openings+` SET salt = NULL, payload = NULL, subj_salt = NULL, subject = NULL`+where, args...)
	if err != nil {
		return 0, fmt.Errorf("tesseralog: prune: %w", err)
	}
	done, _ := res.RowsAffected()
	return int(done), nil
}

// Shred implements audit.Log: it deletes the subject openings of subject.
func (l *Log) Shred(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, fmt.Errorf("tesseralog: shred: empty subject: %w", audit.ErrInvalidEvent)
	}
	if l.isClosed() {
		return 0, audit.ErrClosed
	}
	// The shred is recorded first (audit.ShredEvents lists the entries it
	// covers, never the subject), signed into a checkpoint, and only then
	// are the subject openings deleted.
	if err := l.resolve(ctx); err != nil {
		return 0, fmt.Errorf("tesseralog: shred: %w", err)
	}
	// Unplaced openings (v2: in flight, or of no leaf) are not entries yet.
	rows, err := l.db.QueryContext(ctx, `SELECT idx FROM `+l.openings+` WHERE subject = ? AND idx IS NOT NULL AND idx < ? ORDER BY idx`, subject, int64(l.Size()))
	if err != nil {
		return 0, fmt.Errorf("tesseralog: shred: %w", err)
	}
	var entries []uint64
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			rows.Close()
			return 0, fmt.Errorf("tesseralog: shred: %w", err)
		}
		entries = append(entries, uint64(i))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("tesseralog: shred: %w", err)
	}
	for _, e := range audit.ShredEvents("", entries) {
		if _, err := l.Append(ctx, e); err != nil {
			return 0, fmt.Errorf("tesseralog: shred: %w", err)
		}
	}
	if cp, err := l.Checkpoint(ctx); cp == nil {
		return 0, fmt.Errorf("tesseralog: shred: %w", err)
	}
	var n int64
	for _, i := range entries {
		res, err := l.db.ExecContext(ctx, `UPDATE `+l.openings+` SET subj_salt = NULL, subject = NULL WHERE idx = ? AND subject = ?`, int64(i), subject)
		if err != nil {
			return int(n), fmt.Errorf("tesseralog: shred: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return int(n), nil
}

// Close implements audit.Log: it lets queued appends finish, calls
// Tessera's shutdown (which publishes a checkpoint covering them) and only
// then cancels Tessera's context.
func (l *Log) Close() error {
	l.quitOnce.Do(func() {
		close(l.quit)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.shutdown(ctx); err != nil {
			l.closeErr = fmt.Errorf("tesseralog: close: %w", err)
		}
		if l.wit != nil {
			// Have the final checkpoint cosigned.
			<-l.wit.done
			if raw, err := l.reader.ReadCheckpoint(ctx); err == nil {
				if _, err := l.cosign(ctx, raw); err != nil && l.closeErr == nil {
					l.closeErr = fmt.Errorf("tesseralog: close: %w", err)
				}
			}
		}
		if pend := l.takePending(); len(pend) > 0 {
			// Place the openings still waiting for the next batch (else
			// the next Open searches the leaves for them).
			if err := l.storeOpenings2(ctx, nil, 0, pend); err != nil && l.closeErr == nil {
				l.closeErr = fmt.Errorf("tesseralog: close: %w", err)
			}
		}
		l.cancel()
		if l.closeDB {
			if err := l.db.Close(); err != nil && l.closeErr == nil {
				l.closeErr = fmt.Errorf("tesseralog: close: %w", err)
			}
		}
		l.unlock()
	})
	return l.closeErr
}
