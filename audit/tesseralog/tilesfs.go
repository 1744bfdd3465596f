package tesseralog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/mysql"

	gomysql "github.com/go-sql-driver/mysql"
)

// TilesFS returns the log's checkpoint, hash tiles and entry bundles, as
// Tessera's reader serves them (from the POSIX directory or the MySQL
// tables), and the cosigned checkpoint (CosignedPath, when witnesses
// cosigned one), as a read-only fs.FS with the tlog-tiles paths ("checkpoint",
// "tile/0/000", "tile/entries/000.p/5", ...): [VerifyTiles] reads either
// backend through it. Reads use ctx. The FS serves files only; it lists
// no directories.
func (l *Log) TilesFS(ctx context.Context) fs.FS { return readerFS{ctx, l.reader, l.cosigned.load} }

type readerFS struct {
	ctx      context.Context
	r        tileReader
	cosigned func(context.Context) ([]byte, error)
}

// tileReader is the part of tessera.LogReader the tiles need; Tessera's
// MySQL storage has it without an appender.
type tileReader interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

var _ tileReader = tessera.LogReader(nil)

func (f readerFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	data, err := f.read(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &memFile{name: name, Reader: bytes.NewReader(data), size: int64(len(data))}, nil
}

func (f readerFS) read(name string) ([]byte, error) {
	if name == layout.CheckpointPath {
		return f.r.ReadCheckpoint(f.ctx)
	}
	if name == CosignedPath {
		return f.cosigned(f.ctx)
	}
	rest, ok := strings.CutPrefix(name, "tile/")
	if !ok {
		return nil, fs.ErrNotExist
	}
	if idx, ok := strings.CutPrefix(rest, "entries/"); ok {
		i, p, err := layout.ParseTileIndexPartial(idx)
		if err != nil {
			return nil, fs.ErrNotExist
		}
		return f.r.ReadEntryBundle(f.ctx, i, p)
	}
	level, idx, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, fs.ErrNotExist
	}
	lv, i, p, err := layout.ParseTileLevelIndexPartial(level, idx)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	return f.r.ReadTile(f.ctx, lv, i, p)
}

type memFile struct {
	name string
	*bytes.Reader
	size int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m, nil }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Name() string               { return m.name[strings.LastIndex(m.name, "/")+1:] }
func (m *memFile) Size() int64                { return m.size }
func (m *memFile) Mode() fs.FileMode          { return 0o444 }
func (m *memFile) ModTime() time.Time         { return time.Time{} }
func (m *memFile) IsDir() bool                { return false }
func (m *memFile) Sys() any                   { return nil }

// MySQLTilesFS serves the tiles of the Tessera log in db, as TilesFS does,
// without opening the log: no signing key, no openings, nothing written.
// An auditor with read access to the database verifies it with
// VerifyTiles or VerifyTilesWith. Reads use ctx.
func MySQLTilesFS(ctx context.Context, db *sql.DB) (fs.FS, error) {
	st, err := mysql.New(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("tesseralog: mysql tiles: %w", err)
	}
	load := mysqlCosigned(db).load
	cosigned := func(ctx context.Context) ([]byte, error) {
		b, err := load(ctx)
		if me := (*gomysql.MySQLError)(nil); errors.As(err, &me) && me.Number == 1146 {
			return nil, os.ErrNotExist // no witness ever cosigned: no table
		}
		return b, err
	}
	return readerFS{ctx, st, cosigned}, nil
}
