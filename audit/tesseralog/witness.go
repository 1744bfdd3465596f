package tesseralog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/internal/atomicfile"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/tlog"
)

// CosignedPath is where the latest witnessed checkpoint lives beside
// Tessera's "checkpoint" (in the POSIX driver's "tlog" directory, and in
// [Log.TilesFS] for either driver): the checkpoint signed by the log and
// cosigned by the witnesses of [Options].Witnesses (C2SP cosignature/v1,
// timestamped). Tessera publishes and rewrites "checkpoint" on its own;
// this log asks the witnesses to cosign one every CheckpointInterval (when
// the tree grew), on [Log.Checkpoint] and on Close, and keeps the cosigned
// note here. [VerifyTilesWith] requires it when witnesses are listed.
const CosignedPath = "checkpoint.cosigned"

// witnessing is the witness side of a Log (guarded by Log.wmu).
type witnessing struct {
	set     *audit.WitnessSet
	err     error // the witnesses' failures on the checkpoint stored
	timeout time.Duration
	done    chan struct{} // closed when witnessLoop returns
}

// cosignedStore is how each driver keeps the cosigned checkpoint.
type cosignedStore struct {
	load  func(ctx context.Context) ([]byte, error) // fs.ErrNotExist-wrapping when none
	store func(ctx context.Context, signed []byte, size uint64) error
}

// posixCosigned keeps it in tlogDir/CosignedPath, replaced atomically.
func posixCosigned(tlogDir string) cosignedStore {
	path := filepath.Join(tlogDir, CosignedPath)
	return cosignedStore{
		load: func(context.Context) ([]byte, error) { return os.ReadFile(path) },
		store: func(_ context.Context, signed []byte, _ uint64) error {
			return atomicfile.Replace(path, signed)
		},
	}
}

// createCosigned is the MySQL table of the cosigned checkpoint (one row).
const createCosigned = `CREATE TABLE IF NOT EXISTS consentrec_cosigned (
	id INT NOT NULL PRIMARY KEY, size BIGINT NOT NULL, note MEDIUMBLOB NOT NULL)`

// mysqlCosigned keeps it in the consentrec_cosigned table; with several
// writers, a checkpoint replaces only a smaller one.
func mysqlCosigned(db *sql.DB) cosignedStore {
	return cosignedStore{
		load: func(ctx context.Context) ([]byte, error) {
			var b []byte
			err := db.QueryRowContext(ctx, `SELECT note FROM consentrec_cosigned WHERE id = 0`).Scan(&b)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, os.ErrNotExist
			}
			return b, err
		},
		store: func(ctx context.Context, signed []byte, size uint64) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var old int64
			err = tx.QueryRowContext(ctx, `SELECT size FROM consentrec_cosigned WHERE id = 0 FOR UPDATE`).Scan(&old)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				_, err = tx.ExecContext(ctx, `INSERT INTO consentrec_cosigned (id, size, note) VALUES (0, ?, ?)`, int64(size), signed)
			case err == nil && uint64(old) < size:
				_, err = tx.ExecContext(ctx, `UPDATE consentrec_cosigned SET size = ?, note = ? WHERE id = 0`, int64(size), signed)
			}
			if err != nil {
				return err
			}
			return tx.Commit()
		},
	}
}

// cosign asks the witnesses to cosign signed, Tessera's checkpoint, unless
// a checkpoint at least as large is already cosigned, and stores the
// result. It returns the cosigned checkpoint (with the cosignatures
// obtained) and the witnesses' failures; without witnesses, signed.
func (l *Log) cosign(ctx context.Context, signed []byte) ([]byte, error) {
	if l.wit == nil {
		return signed, nil
	}
	c, _, err := audit.OpenCheckpoint(signed, l.verifier)
	if err != nil {
		return nil, err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	// Already cosigned, by this writer or (MySQL) another one, perhaps
	// at a larger size: that one covers c.
	if cur, err := l.cosigned.load(ctx); err == nil {
		if cc, _, err := audit.OpenCheckpoint(cur, l.verifier); err == nil && cc.Size >= c.Size {
			return cur, l.wit.err
		}
	}
	out, werr := l.wit.set.Cosign(ctx, signed, c.Size, func(ctx context.Context, old uint64) (tlog.TreeProof, error) {
		pb, err := client.NewProofBuilder(ctx, c.Size, l.tiles)
		if err != nil {
			return nil, err
		}
		p, err := pb.ConsistencyProof(ctx, old, c.Size)
		if err != nil {
			return nil, err
		}
		return toHashes(p)
	})
	if err := l.cosigned.store(ctx, out, c.Size); err != nil {
		return out, errors.Join(werr, fmt.Errorf("tesseralog: store cosigned checkpoint: %w", err))
	}
	l.wit.err = werr
	return out, werr
}

// witnessLoop has every checkpoint Tessera publishes cosigned, at most
// once per interval, until quit.
func (l *Log) witnessLoop(interval time.Duration) {
	defer close(l.wit.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval+l.wit.timeout*time.Duration(2*l.wit.set.Len()))
		if raw, err := l.reader.ReadCheckpoint(ctx); err == nil {
			l.cosign(ctx, raw)
		}
		cancel()
	}
}

// startWitnesses checks the cosigned checkpoint stored (signed by this
// log) and starts the witness loop. Without witnesses it does nothing.
func (l *Log) startWitnesses(ctx context.Context, ws []audit.Witness, timeout, interval time.Duration) error {
	if len(ws) == 0 {
		return nil
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	l.wit = &witnessing{set: audit.NewWitnessSet(ws, timeout), timeout: timeout, done: make(chan struct{})}
	raw, err := l.cosigned.load(ctx)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("cosigned checkpoint: %w", err)
	default:
		if _, _, err := audit.OpenCheckpoint(raw, l.verifier); err != nil {
			return fmt.Errorf("cosigned checkpoint: %w", err)
		}
	}
	go l.witnessLoop(interval)
	return nil
}
