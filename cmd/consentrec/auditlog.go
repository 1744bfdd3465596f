package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera/api/layout"
	tesseramysql "github.com/transparency-dev/tessera/storage/mysql"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// The "audit" entry of backends.json (see BackendsFile) names the audit
// log every command appends to and reads:
//
//	"audit": "tessera+posix:///var/lib/consentrec/audit-tiles"
//	"audit": "tessera+mysql://consentrec@tcp(db.example.com:3306)/audit"
//
// Absent or empty: the data directory's file log (audit/, one writer at a
// time). tessera+posix:PATH is a Tessera log on Tessera's POSIX driver in
// directory PATH (absolute, or relative to the data directory): one process
// at a time, as the file log, but its tiles ("PATH/tlog") can be copied and
// verified with `audit verify --tiles`. tessera+mysql://DSN is a Tessera
// log in a MySQL or MariaDB database (DSN in the go-sql-driver form
// USER@tcp(HOST:PORT)/DATABASE or USER@unix(SOCKET)/DATABASE): several
// nodes and the CLI append to it at the same time. The password never goes
// in the file: it comes from $MYSQL_PWD (the MySQL clients' variable). The
// database's tables are created on first use (Tessera's schema, plus the
// openings table of audit/tesseralog) if the user may create tables.
//
// Keys: a Tessera log is signed with the data directory's audit signing key
// (keys/audit-signing.key), as the file log is; every node appending to one
// MySQL log holds a copy of the same key. The key is created only for a log
// that has no checkpoint yet: a node without it refuses to open a log that
// another key signs. The log's origin (its name in checkpoints and in its
// verifier key) is the one of its checkpoints, or for a new log
// "consentrec.local/audit/" and 12 hex digits of the key's SHA-256.
const (
	auditSchemePOSIX = "tessera+posix:"
	auditSchemeMySQL = "tessera+mysql://"
)

// auditBackend is a parsed "audit" entry of backends.json; the zero value
// is the file log.
type auditBackend struct {
	posixDir string           // tessera+posix: the log's directory
	mysql    *mysqldrv.Config // tessera+mysql: no password
}

func (b auditBackend) isFile() bool { return b.posixDir == "" && b.mysql == nil }

// String names the backend for messages, never with a password.
func (b auditBackend) String() string {
	switch {
	case b.posixDir != "":
		return auditSchemePOSIX + "//" + filepath.ToSlash(b.posixDir)
	case b.mysql != nil:
		return auditSchemeMySQL + b.mysql.FormatDSN()
	}
	return "the file log"
}

// errAuditURL marks a malformed "audit" entry.
var errAuditURL = errors.New("not an audit backend")

// parseAuditBackend parses an "audit" entry of backends.json; relative
// POSIX paths are taken from the data directory root.
func parseAuditBackend(root, s string) (auditBackend, error) {
	if s == "" {
		return auditBackend{}, nil
	}
	if strings.ContainsRune(s, 0) {
		return auditBackend{}, fmt.Errorf("%q: NUL byte: %w", s, errAuditURL)
	}
	if rest, ok := strings.CutPrefix(s, auditSchemePOSIX); ok {
		if r, ok := strings.CutPrefix(rest, "//"); ok {
			// tessera+posix:///abs/path: the authority must be empty.
			if !strings.HasPrefix(r, "/") {
				return auditBackend{}, fmt.Errorf("%q: want %s///ABSOLUTE/PATH or %sRELATIVE/PATH (no host): %w", s, auditSchemePOSIX, auditSchemePOSIX, errAuditURL)
			}
			rest = r
		}
		if rest == "" {
			return auditBackend{}, fmt.Errorf("%q: no directory: %w", s, errAuditURL)
		}
		p := filepath.FromSlash(rest)
		if !filepath.IsAbs(p) {
			p = filepath.Join(root, p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return auditBackend{posixDir: filepath.Clean(p)}, nil
	}
	if dsn, ok := strings.CutPrefix(s, auditSchemeMySQL); ok {
		cfg, err := parseMySQLDSN(dsn)
		if err != nil {
			return auditBackend{}, fmt.Errorf("%s: %w", auditSchemeMySQL, err)
		}
		return auditBackend{mysql: cfg}, nil
	}
	return auditBackend{}, fmt.Errorf("%q: want %s///DIR or %sUSER@tcp(HOST:PORT)/DATABASE: %w", s, auditSchemePOSIX, auditSchemeMySQL, errAuditURL)
}

// parseMySQLDSN parses a go-sql-driver DSN without a password (it comes
// from $MYSQL_PWD) and with a database.
func parseMySQLDSN(dsn string) (*mysqldrv.Config, error) {
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errAuditURL, err)
	}
	if cfg.Passwd != "" {
		return nil, fmt.Errorf("the DSN holds a password: give it in $MYSQL_PWD instead: %w", errAuditURL)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("the DSN names no database (USER@tcp(HOST:PORT)/DATABASE): %w", errAuditURL)
	}
	return cfg, nil
}

// loadAuditBackend reads the audit backend of data directory root.
func loadAuditBackend(root string) (auditBackend, error) {
	b, err := loadBackends(root)
	if err != nil {
		return auditBackend{}, err
	}
	ab, err := parseAuditBackend(root, b.Audit)
	if err != nil {
		return auditBackend{}, usagef("%s: audit: %v", filepath.Join(root, BackendsFile), err)
	}
	return ab, nil
}

// openAuditLog opens the audit log of data directory root for a command:
// the backend backends.json names, else the file log (created on first
// use, with its key). Every command that appends to or reads the log
// through audit.Log opens it here. Close releases it.
func openAuditLog(ctx context.Context, root string) (audit.Log, error) {
	ab, err := loadAuditBackend(root)
	if err != nil {
		return nil, err
	}
	return ab.open(ctx, root)
}

func (ab auditBackend) open(ctx context.Context, root string) (audit.Log, error) {
	switch {
	case ab.isFile():
		return audit.OpenDir(ctx, root, audit.Options{})
	case ab.posixDir != "":
		quietTessera()
		cp, err := os.ReadFile(filepath.Join(ab.posixDir, "tlog", layout.CheckpointPath))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("audit log %s: %w", ab, err)
		}
		opts, err := tesseraOptions(root, cp)
		if err != nil {
			return nil, fmt.Errorf("audit log %s: %w", ab, err)
		}
		return tesseralog.OpenPOSIX(ctx, ab.posixDir, opts)
	}
	quietTessera()
	db, err := openMySQL(ab.mysql)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", ab, err)
	}
	l, err := openMySQLLog(ctx, root, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("audit log %s: %w", ab, err)
	}
	return &dbLog{Log: l, db: db}, nil
}

// openMySQLLog creates the tables if needed, then opens the log in db.
func openMySQLLog(ctx context.Context, root string, db *sql.DB) (*tesseralog.Log, error) {
	if err := tesseralog.LoadMySQLSchema(ctx, db); err != nil {
		return nil, err
	}
	st, err := tesseramysql.New(ctx, db)
	if err != nil {
		return nil, err
	}
	cp, err := st.ReadCheckpoint(ctx)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	opts, err := tesseraOptions(root, cp)
	if err != nil {
		return nil, err
	}
	return tesseralog.OpenMySQL(ctx, db, opts)
}

// dbLog is a MySQL-backed log that closes its database after the log.
type dbLog struct {
	*tesseralog.Log
	db *sql.DB
}

func (l *dbLog) Close() error { return errors.Join(l.Log.Close(), l.db.Close()) }

// openMySQL opens the database of cfg with the password of $MYSQL_PWD.
func openMySQL(cfg *mysqldrv.Config) (*sql.DB, error) {
	c := cfg.Clone()
	c.Passwd = os.Getenv("MYSQL_PWD")
	conn, err := mysqldrv.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// tesseraOptions returns the signer and origin of a Tessera log whose
// latest checkpoint is cp (nil: none yet), from the data directory's audit
// signing key, created only for a log without a checkpoint.
func tesseraOptions(root string, cp []byte) (tesseralog.Options, error) {
	path := filepath.Join(consentrec.DataDir{Root: root}.Keys(), audit.SigningKeyFile)
	// Created only for a log without a checkpoint: any other needs the
	// key of the node that created it.
	key, err := audit.LoadSigningKey(path, cp == nil)
	if errors.Is(err, fs.ErrNotExist) {
		return tesseralog.Options{}, fmt.Errorf("the log has signed checkpoints but %s is missing: copy the signing key of the node that created the log", path)
	}
	if err != nil {
		return tesseralog.Options{}, fmt.Errorf("%s: %w", path, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	origin := tesseraOrigin(pub)
	if cp != nil {
		if origin, err = checkpointOrigin(cp); err != nil {
			return tesseralog.Options{}, fmt.Errorf("the log's checkpoint: %w", err)
		}
		v, err := tesseraVerifier(origin, pub)
		if err != nil {
			return tesseralog.Options{}, err
		}
		if _, _, err := audit.OpenCheckpoint(cp, v); err != nil {
			return tesseralog.Options{}, fmt.Errorf("the log's checkpoint is not signed by %s (another log, or another node's key): %w", path, err)
		}
	}
	return tesseralog.Options{Signer: key, Origin: origin}, nil
}

// tesseraOrigin is the origin of a new Tessera log signed by pub: every
// node holding the key names the log alike.
func tesseraOrigin(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return "consentrec.local/audit/" + hex.EncodeToString(h[:6])
}

func tesseraVerifier(origin string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := audit.VerifierKey(origin, pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// checkpointOrigin returns the origin line of a signed checkpoint, without
// checking its signatures.
func checkpointOrigin(cp []byte) (string, error) {
	body, _, ok := bytes.Cut(cp, []byte("\n\n"))
	if !ok {
		return "", errors.New("not a signed note")
	}
	c, err := audit.ParseCheckpoint(string(body) + "\n")
	if err != nil {
		return "", err
	}
	return c.Origin, nil
}

// quietTessera silences Tessera's klog output (info lines on every open,
// a "context canceled" error line at every close): the errors that matter
// reach the commands as returned errors.
var quietTessera = sync.OnceFunc(func() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
})

// openTiles returns the tiles of a Tessera backend, read-only: the POSIX
// directory's tlog, or the MySQL tables. close releases them.
func (ab auditBackend) openTiles(ctx context.Context) (fsys fs.FS, close func() error, err error) {
	if ab.posixDir != "" {
		tlog := filepath.Join(ab.posixDir, "tlog")
		if _, err := os.Stat(filepath.Join(tlog, layout.CheckpointPath)); err != nil {
			return nil, nil, usagef("no Tessera log in %s: %v", ab.posixDir, err)
		}
		return os.DirFS(tlog), func() error { return nil }, nil
	}
	quietTessera()
	db, err := openMySQL(ab.mysql)
	if err != nil {
		return nil, nil, err
	}
	fsys, err = tesseralog.MySQLTilesFS(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%s: not a Tessera log: %w", ab, err)
	}
	return fsys, db.Close, nil
}

// auditLogExists returns root's audit backend once it knows there is a log
// to read: a MySQL backend, a POSIX one with a checkpoint, the file log's
// files. A missing log is a usage error: a mistyped --data must not create
// an empty one.
func auditLogExists(root string) (auditBackend, error) {
	ab, err := loadAuditBackend(root)
	if err != nil {
		return ab, err
	}
	switch {
	case ab.mysql != nil:
		return ab, nil
	case ab.posixDir != "":
		if _, err := os.Stat(filepath.Join(ab.posixDir, "tlog", layout.CheckpointPath)); err != nil {
			return ab, usagef("no audit log in %s (%s): %v", ab.posixDir, BackendsFile, err)
		}
		return ab, nil
	}
	_, err = auditFS(root)
	return ab, err
}

// readAuditEntries calls fn with each entry of root's audit log from index
// from on, in order, and returns fn's first error. The file log is read
// from its files (no lock: it works while a host appends); a Tessera log
// is opened with openAuditLog and read up to its size at open.
func readAuditEntries(ctx context.Context, root string, from uint64, fn func(audit.Entry) error) error {
	ab, err := auditLogExists(root)
	if err != nil {
		return err
	}
	if ab.isFile() {
		fsys, err := auditFS(root)
		if err != nil {
			return err
		}
		return audit.ReadFS(ctx, fsys, from, fn)
	}
	l, err := ab.open(ctx, root)
	if err != nil {
		return err
	}
	defer l.Close()
	for i, n := from, l.Size(); i < n; i++ {
		en, err := l.Entry(ctx, i)
		if err != nil {
			return err
		}
		if err := fn(en); err != nil {
			return err
		}
	}
	return nil
}
